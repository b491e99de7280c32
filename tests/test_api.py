"""The Python API, as a notebook or another tool uses it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ebpf_darshan

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

DD_WRITES = 100
BLOCK = 4096


def counters_of(report, name: str) -> dict[str, int]:
    df = report.records["POSIX"].to_df()["counters"]
    row = df[df["id"].map(lambda i: report.name_records[i] == name)]
    assert len(row) == 1
    return {k: int(v) for k, v in row.iloc[0].items()}


def test_record_a_command(tmp_path: Path) -> None:
    out = tmp_path / "F"
    done = ebpf_darshan.record(["dd", "if=/dev/zero", f"of={out}", f"bs={BLOCK}",
                                f"count={DD_WRITES}", "status=none"], tmp_path / "dd.darshan")
    assert (done.exit_code, done.path, done.partial) == (0, tmp_path / "dd.darshan", False)
    rec = counters_of(done.report(), str(out))
    assert (rec["POSIX_OPENS"], rec["POSIX_DUPS"], rec["POSIX_WRITES"],
            rec["POSIX_BYTES_WRITTEN"]) == (2, 1, DD_WRITES, DD_WRITES * BLOCK)


def test_the_commands_exit_status_comes_back(tmp_path: Path) -> None:
    done = ebpf_darshan.record(["sh", "-c", "exit 9"], tmp_path / "x.darshan")
    assert done.exit_code == 9 and done.path is not None and done.path.exists()


def test_record_a_block_of_this_process(tmp_path: Path) -> None:
    target = tmp_path / "block.dat"
    with ebpf_darshan.recording(tmp_path / "block.darshan") as done:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
        for _ in range(7):
            os.write(fd, b"x" * 10)
        os.close(fd)
    assert done.path == tmp_path / "block.darshan"
    rec = counters_of(done.report(), str(target))
    assert (rec["POSIX_OPENS"], rec["POSIX_WRITES"], rec["POSIX_BYTES_WRITTEN"]) == (1, 7, 70)


def test_bad_output_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ebpf_darshan.RecordError, match="is not a directory"):
        ebpf_darshan.record(["true"], tmp_path / "missing" / "x.darshan")
