"""I/O that an interposer never sees (issue #7), counted exactly and read
back through PyDarshan."""

from __future__ import annotations

import os
from pathlib import Path

import darshan
import pytest

from conftest import assert_counters, ebpf_darshan, posix, record

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


def test_copy_file_range_sendfile_splice_and_extras(bins: Path, tmp_path: Path) -> None:
    work, log = tmp_path / "w", tmp_path / "t.darshan"
    work.mkdir()
    record(log, [str(bins / "transfers"), str(work)])
    recs = posix(log)
    # The source: one write, then three in-kernel reads of it at the
    # offsets the calls were given (0, 4096, 0).
    assert_counters(recs[(0, str(work / "src"))], {
        "POSIX_OPENS": 1, "POSIX_WRITES": 1, "POSIX_BYTES_WRITTEN": 8192,
        "POSIX_READS": 3, "POSIX_BYTES_READ": 8192 + 4096 + 1000,
        "POSIX_MAX_BYTE_READ": 8191, "POSIX_RW_SWITCHES": 1,
        "POSIX_SIZE_READ_1K_10K": 2, "POSIX_SIZE_READ_100_1K": 1,
        "POSIX_SEQ_READS": 0, "POSIX_CONSEC_READS": 0,
    })
    for name, written in (("copy", 8192), ("sent", 4096), ("spliced", 1000)):
        assert_counters(recs[(0, str(work / name))], {
            "POSIX_OPENS": 1, "POSIX_READS": 0, "POSIX_WRITES": 1,
            "POSIX_BYTES_WRITTEN": written, "POSIX_MAX_BYTE_WRITTEN": written - 1,
        })
    meta = darshan.DarshanReport(str(log)).metadata["job"]["metadata"]
    extras = {k: int(v) for k, v in meta.items() if k.startswith("extra_")}
    assert extras == {
        "extra_sendfile_calls": 1, "extra_copy_file_range_calls": 1,
        "extra_splice_calls": 2, "extra_fallocate_calls": 1,
        "extra_fallocate_bytes": 65536, "extra_ftruncate_calls": 1,
        "extra_unlink_calls": 1,
    }


def test_io_uring_requests_count_like_their_syscall_twins(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "ring.dat", tmp_path / "ring.darshan"
    record(log, [str(bins / "uring_io"), str(out)])
    rec = posix(log)[(0, str(out))]
    assert_counters(rec, {
        "POSIX_OPENS": 1, "POSIX_MODE": 0o640, "POSIX_WRITES": 4, "POSIX_READS": 3,
        "POSIX_BYTES_WRITTEN": 16384, "POSIX_BYTES_READ": 12288,
        "POSIX_MAX_BYTE_WRITTEN": 16383, "POSIX_MAX_BYTE_READ": 12287,
        "POSIX_CONSEC_WRITES": 3, "POSIX_SEQ_WRITES": 3,
        "POSIX_CONSEC_READS": 0, "POSIX_SEQ_READS": 1, "POSIX_RW_SWITCHES": 1,
        "POSIX_FSYNCS": 1, "POSIX_FDSYNCS": 0, "POSIX_STATS": 1,
        "POSIX_SIZE_WRITE_1K_10K": 4, "POSIX_SIZE_READ_1K_10K": 3,
        "POSIX_ACCESS1_ACCESS": 4096, "POSIX_ACCESS1_COUNT": 7,
        "POSIX_MEM_NOT_ALIGNED": 0,
    })
    assert rec["POSIX_F_WRITE_TIME"] > 0 and rec["POSIX_F_READ_TIME"] > 0
    assert 0 < rec["POSIX_F_OPEN_START_TIMESTAMP"] <= rec["POSIX_F_WRITE_START_TIMESTAMP"]
    assert rec["POSIX_F_READ_END_TIMESTAMP"] <= rec["POSIX_F_CLOSE_START_TIMESTAMP"]


def test_bytes_through_file_mappings(bins: Path, tmp_path: Path) -> None:
    data, log = tmp_path / "mapped.dat", tmp_path / "mapped.darshan"
    with open(data, "wb") as f:
        f.write(b"x" * 4096)
        f.flush()
        os.fsync(f.fileno())  # a clean page: the store through the mapping dirties it
    record(log, [str(bins / "mmaps"), str(data)])
    assert posix(log)[(0, str(data))]["POSIX_MMAPS"] == 2
    meta = darshan.DarshanReport(str(log)).metadata["job"]["metadata"]
    # One page read through the private mapping, the same page faulted into
    # the shared one for the store, and dirtied by it.
    assert int(meta["extra_mmap_read_bytes"]) == 8192
    assert int(meta["extra_mmap_dirtied_bytes"]) == 4096


def test_process_in_its_own_mount_namespace(bins: Path, tmp_path: Path) -> None:
    """A container-like process: a ramfs mounted only in its namespace."""
    mnt, log = tmp_path / "mnt", tmp_path / "ns.darshan"
    mnt.mkdir()
    out = mnt / "f.dat"
    record(log, ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 f"mount -t ramfs none {mnt} && exec {bins / 'seq_write'} {out}"])
    recs = posix(log)
    writer = [r for (rank, name), r in recs.items() if name == str(out)]
    assert len(writer) == 1 and writer[0]["POSIX_BYTES_WRITTEN"] == 65536
    lines = ebpf_darshan("parse", str(log)).stdout.splitlines()
    mine = [line.split("\t") for line in lines if line.startswith("POSIX\t")
            and "\tPOSIX_WRITES\t" in line and f"\t{out}\t" in line]
    assert [(row[6], row[7]) for row in mine] == [(str(mnt), "ramfs")]
