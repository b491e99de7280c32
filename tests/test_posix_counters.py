"""Exact POSIX counters for workloads whose I/O we know, recorded in the
real kernel and read back through PyDarshan."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import darshan
import pytest
from darshan.backend.cffi_backend import counter_names

from conftest import assert_counters, file_alignment, posix, record
from ebpf_darshan.darshan import record_id

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


def as_int64(value: int) -> int:
    """Counters are int64 on disk; a record id there wraps like C's cast."""
    return (value + 2**63) % 2**64 - 2**63


def untouched(path: Path) -> dict[str, float]:
    """Every integer counter of a file nobody did anything to."""
    values = {name: 0 for name in counter_names("POSIX")}
    values["POSIX_FILENOS"] = -1  # not visible at the syscall level
    values["POSIX_MEM_ALIGNMENT"] = 8
    values["POSIX_FILE_ALIGNMENT"] = file_alignment(path.parent)
    return values


def only(log: Path, name: str, rank: int = 0) -> dict[str, float]:
    records = posix(log)
    assert (rank, name) in records, sorted(records)
    return records[(rank, name)]


def test_sequential_writes(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "seq.dat", tmp_path / "seq.darshan"
    record(log, [str(bins / "seq_write"), str(out)])
    rec = only(log, str(out))
    expected = untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_WRITES": 16, "POSIX_MODE": 0o640,
        "POSIX_BYTES_WRITTEN": 65536, "POSIX_MAX_BYTE_WRITTEN": 65535,
        "POSIX_CONSEC_WRITES": 15, "POSIX_SEQ_WRITES": 15,
        "POSIX_MAX_WRITE_TIME_SIZE": 4096, "POSIX_SIZE_WRITE_1K_10K": 16,
        "POSIX_ACCESS1_ACCESS": 4096, "POSIX_ACCESS1_COUNT": 16,
    }
    assert_counters(rec, expected)
    report = darshan.DarshanReport(str(log), read_all=True)
    run_time = report.metadata["job"]["run_time"]
    t = {k: rec[f"POSIX_F_{k}"] for k in ("OPEN_START_TIMESTAMP", "OPEN_END_TIMESTAMP",
                                         "WRITE_START_TIMESTAMP", "WRITE_END_TIMESTAMP",
                                         "CLOSE_START_TIMESTAMP", "CLOSE_END_TIMESTAMP",
                                         "WRITE_TIME", "META_TIME", "MAX_WRITE_TIME")}
    assert 0 < t["OPEN_START_TIMESTAMP"] <= t["OPEN_END_TIMESTAMP"] <= t["WRITE_START_TIMESTAMP"]
    assert t["WRITE_START_TIMESTAMP"] < t["WRITE_END_TIMESTAMP"] <= t["CLOSE_START_TIMESTAMP"]
    assert t["CLOSE_START_TIMESTAMP"] <= t["CLOSE_END_TIMESTAMP"] < run_time
    write_span = t["WRITE_END_TIMESTAMP"] - t["WRITE_START_TIMESTAMP"]
    assert 0 < t["MAX_WRITE_TIME"] <= t["WRITE_TIME"] <= write_span
    assert 0 < t["META_TIME"] < run_time
    assert rec["POSIX_F_READ_TIME"] == rec["POSIX_F_READ_START_TIMESTAMP"] == 0


@pytest.mark.parametrize("program", [["strided_pread"], ["fortify_pread", "1000"]])
def test_strided_preads(bins: Path, tmp_path: Path, program: list[str]) -> None:
    """Also built with _FORTIFY_SOURCE, where glibc calls __pread_chk."""
    data, log = tmp_path / "in.dat", tmp_path / "pread.darshan"
    data.write_bytes(b"z" * 32768)
    binary = str(bins / program[0])
    if program[0] == "fortify_pread":
        imports = subprocess.run(["nm", "-D", binary], capture_output=True, text=True).stdout
        assert "__pread_chk" in imports
    record(log, [binary, str(data), *program[1:]])
    expected = untouched(data) | {
        "POSIX_OPENS": 1, "POSIX_READS": 8, "POSIX_BYTES_READ": 8000,
        "POSIX_MAX_BYTE_READ": 7 * 4096 + 999, "POSIX_SEQ_READS": 7,
        "POSIX_MAX_READ_TIME_SIZE": 1000, "POSIX_SIZE_READ_100_1K": 8,
        "POSIX_STRIDE1_STRIDE": 4096 - 1000, "POSIX_STRIDE1_COUNT": 7,
        "POSIX_ACCESS1_ACCESS": 1000, "POSIX_ACCESS1_COUNT": 8,
    }
    assert_counters(only(log, str(data)), expected)


def test_mixed_reads_writes_and_seek(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "mixed.dat", tmp_path / "mixed.darshan"
    record(log, [str(bins / "mixed_rw"), str(out)])
    expected = untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_READS": 3, "POSIX_WRITES": 4, "POSIX_SEEKS": 1,
        "POSIX_MODE": 0o600, "POSIX_BYTES_READ": 300, "POSIX_BYTES_WRITTEN": 400,
        "POSIX_MAX_BYTE_READ": 299, "POSIX_MAX_BYTE_WRITTEN": 399,
        "POSIX_CONSEC_READS": 2, "POSIX_CONSEC_WRITES": 3,
        "POSIX_SEQ_READS": 2, "POSIX_SEQ_WRITES": 3, "POSIX_RW_SWITCHES": 2,
        "POSIX_FILE_NOT_ALIGNED": 5,
        "POSIX_MAX_READ_TIME_SIZE": 100, "POSIX_MAX_WRITE_TIME_SIZE": 100,
        "POSIX_SIZE_READ_0_100": 3, "POSIX_SIZE_WRITE_0_100": 4,
        "POSIX_ACCESS1_ACCESS": 100, "POSIX_ACCESS1_COUNT": 7,
    }
    assert_counters(only(log, str(out)), expected)


def test_vector_io(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "vec.dat", tmp_path / "vec.darshan"
    record(log, [str(bins / "vector_io"), str(out)])
    rec = only(log, str(out))
    expected = untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_READS": 3, "POSIX_WRITES": 2, "POSIX_SEEKS": 1,
        "POSIX_MODE": 0o600, "POSIX_BYTES_READ": 500, "POSIX_BYTES_WRITTEN": 400,
        "POSIX_MAX_BYTE_READ": 1099, "POSIX_MAX_BYTE_WRITTEN": 1099,
        "POSIX_SEQ_READS": 1, "POSIX_SEQ_WRITES": 1, "POSIX_RW_SWITCHES": 1,
        "POSIX_FILE_NOT_ALIGNED": 3,
        "POSIX_SIZE_READ_0_100": 2, "POSIX_SIZE_READ_100_1K": 1,
        "POSIX_SIZE_WRITE_0_100": 1, "POSIX_SIZE_WRITE_100_1K": 1,
        "POSIX_STRIDE1_STRIDE": 700, "POSIX_STRIDE1_COUNT": 2,
        "POSIX_ACCESS1_ACCESS": 100, "POSIX_ACCESS1_COUNT": 3,
        "POSIX_ACCESS2_ACCESS": 300, "POSIX_ACCESS2_COUNT": 2,
    }
    expected["POSIX_MAX_READ_TIME_SIZE"] = rec["POSIX_MAX_READ_TIME_SIZE"]
    expected["POSIX_MAX_WRITE_TIME_SIZE"] = rec["POSIX_MAX_WRITE_TIME_SIZE"]
    assert rec["POSIX_MAX_READ_TIME_SIZE"] in (100, 300)
    assert rec["POSIX_MAX_WRITE_TIME_SIZE"] in (100, 300)
    assert_counters(rec, expected)


def test_append_writes_at_true_offsets(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "append.dat", tmp_path / "append.darshan"
    out.write_bytes(b"p" * 100)
    record(log, [str(bins / "append"), str(out)])
    expected = untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_WRITES": 3, "POSIX_BYTES_WRITTEN": 30,
        "POSIX_MAX_BYTE_WRITTEN": 129, "POSIX_SEQ_WRITES": 3, "POSIX_CONSEC_WRITES": 2,
        "POSIX_FILE_NOT_ALIGNED": 3, "POSIX_MAX_WRITE_TIME_SIZE": 10,
        "POSIX_SIZE_WRITE_0_100": 3, "POSIX_ACCESS1_ACCESS": 10, "POSIX_ACCESS1_COUNT": 3,
    }
    assert_counters(only(log, str(out)), expected)
    assert out.stat().st_size == 130


def test_dups_are_opens(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "dup.dat", tmp_path / "dup.darshan"
    record(log, [str(bins / "dups"), str(out)])
    expected = untouched(out) | {
        "POSIX_OPENS": 5, "POSIX_DUPS": 4, "POSIX_WRITES": 5, "POSIX_MODE": 0o600,
        "POSIX_BYTES_WRITTEN": 40, "POSIX_MAX_BYTE_WRITTEN": 39,
        "POSIX_SEQ_WRITES": 4, "POSIX_CONSEC_WRITES": 4, "POSIX_FILE_NOT_ALIGNED": 4,
        "POSIX_MAX_WRITE_TIME_SIZE": 8, "POSIX_SIZE_WRITE_0_100": 5,
        "POSIX_ACCESS1_ACCESS": 8, "POSIX_ACCESS1_COUNT": 5,
    }
    assert_counters(only(log, str(out)), expected)


def test_fork_child_keeps_counting_inherited_fd(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "fork.dat", tmp_path / "fork.darshan"
    record(log, [str(bins / "fork_inherit"), str(out)])
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.metadata["job"]["nprocs"] == 2
    name = os.path.realpath(out)
    parent = untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_WRITES": 2, "POSIX_MODE": 0o600,
        "POSIX_BYTES_WRITTEN": 20, "POSIX_MAX_BYTE_WRITTEN": 59, "POSIX_SEQ_WRITES": 1,
        "POSIX_FILE_NOT_ALIGNED": 1, "POSIX_MAX_WRITE_TIME_SIZE": 10,
        "POSIX_SIZE_WRITE_0_100": 2, "POSIX_STRIDE1_STRIDE": 40, "POSIX_STRIDE1_COUNT": 1,
        "POSIX_ACCESS1_ACCESS": 10, "POSIX_ACCESS1_COUNT": 2,
    }
    child = untouched(out) | {
        "POSIX_WRITES": 2, "POSIX_BYTES_WRITTEN": 40, "POSIX_MAX_BYTE_WRITTEN": 49,
        "POSIX_SEQ_WRITES": 2, "POSIX_CONSEC_WRITES": 1, "POSIX_FILE_NOT_ALIGNED": 2,
        "POSIX_MAX_WRITE_TIME_SIZE": 20, "POSIX_SIZE_WRITE_0_100": 2,
        "POSIX_ACCESS1_ACCESS": 20, "POSIX_ACCESS1_COUNT": 2,
    }
    assert_counters(only(log, str(out), rank=0), parent)
    assert_counters(only(log, name, rank=1), child)


def test_two_threads_lose_no_update(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "threads.dat", tmp_path / "threads.darshan"
    record(log, [str(bins / "threads"), str(out)])
    rec = only(log, str(out))
    assert_counters(rec, {"POSIX_OPENS": 1, "POSIX_WRITES": 1000, "POSIX_BYTES_WRITTEN": 64000,
                          "POSIX_MAX_BYTE_WRITTEN": 63999, "POSIX_SIZE_WRITE_0_100": 1000,
                          "POSIX_ACCESS1_ACCESS": 64, "POSIX_ACCESS1_COUNT": 1000})
    # every write is counted exactly once among the sequence categories' base
    assert rec["POSIX_CONSEC_WRITES"] <= rec["POSIX_SEQ_WRITES"] < 1000


def test_5000_files(bins: Path, tmp_path: Path) -> None:
    """Darshan keeps 1024 records per process by default and drops the rest."""
    files, log = tmp_path / "many", tmp_path / "many.darshan"
    files.mkdir()
    record(log, [str(bins / "many_files"), str(files), "5000"])
    records = posix(log)
    ours = {name: r for (_, name), r in records.items() if name.startswith(str(files))}
    assert len(ours) == 5000
    assert all(r["POSIX_OPENS"] == 1 and r["POSIX_WRITES"] == 1 and r["POSIX_BYTES_WRITTEN"] == 1
               for r in ours.values())
    assert darshan.DarshanReport(str(log)).modules["POSIX"]["partial_flag"] is False


def test_stat_family(bins: Path, tmp_path: Path) -> None:
    target, log = tmp_path / "stat.dat", tmp_path / "stat.darshan"
    target.write_bytes(b"s" * 10)
    record(log, [str(bins / "stats"), str(target), str(tmp_path)])
    records = posix(log)
    assert_counters(records[(0, str(target))],
                    untouched(target) | {"POSIX_OPENS": 1, "POSIX_STATS": 5})
    assert not [n for (_, n) in records if n == str(tmp_path)]


def test_rename(bins: Path, tmp_path: Path) -> None:
    old, new, log = tmp_path / "old.dat", tmp_path / "new.dat", tmp_path / "rename.darshan"
    record(log, [str(bins / "renames"), str(old), str(new)])
    records = posix(log)
    source = records[(0, str(old))]
    target = records[(0, str(new))]
    assert_counters(source, {"POSIX_RENAME_SOURCES": 1, "POSIX_RENAME_TARGETS": 0,
                             "POSIX_WRITES": 1, "POSIX_BYTES_WRITTEN": 100})
    assert_counters(target, {"POSIX_RENAME_TARGETS": 1, "POSIX_RENAME_SOURCES": 0,
                             "POSIX_RENAMED_FROM": as_int64(record_id(str(old)))})


def test_mmap_counted(bins: Path, tmp_path: Path) -> None:
    data, log = tmp_path / "map.dat", tmp_path / "map.darshan"
    data.write_bytes(b"m" * 4096)
    record(log, [str(bins / "mmaps"), str(data)])
    assert_counters(only(log, str(data)), untouched(data) | {"POSIX_OPENS": 1, "POSIX_MMAPS": 2})


def test_static_binary(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "static.dat", tmp_path / "static.darshan"
    record(log, [str(bins / "seq_write_static"), str(out)])
    assert_counters(only(log, str(out)), {"POSIX_OPENS": 1, "POSIX_WRITES": 16,
                                          "POSIX_BYTES_WRITTEN": 65536, "POSIX_SEQ_WRITES": 15})


def test_raw_syscalls(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "raw.dat", tmp_path / "raw.darshan"
    record(log, [str(bins / "raw_syscalls"), str(out)])
    assert_counters(only(log, str(out)), untouched(out) | {
        "POSIX_OPENS": 1, "POSIX_WRITES": 4, "POSIX_READS": 1, "POSIX_MODE": 0o600,
        "POSIX_BYTES_WRITTEN": 1024, "POSIX_BYTES_READ": 256,
        "POSIX_MAX_BYTE_WRITTEN": 1023, "POSIX_MAX_BYTE_READ": 255,
        "POSIX_SEQ_WRITES": 3, "POSIX_CONSEC_WRITES": 3, "POSIX_RW_SWITCHES": 1,
        "POSIX_FILE_NOT_ALIGNED": 3, "POSIX_MAX_READ_TIME_SIZE": 256,
        "POSIX_MAX_WRITE_TIME_SIZE": 256, "POSIX_SIZE_READ_100_1K": 1,
        "POSIX_SIZE_WRITE_100_1K": 4, "POSIX_ACCESS1_ACCESS": 256, "POSIX_ACCESS1_COUNT": 5,
    })


def test_python_script(tmp_path: Path) -> None:
    out, log = tmp_path / "py.dat", tmp_path / "py.darshan"
    script = (f"import os\nfd = os.open({str(out)!r}, os.O_CREAT | os.O_WRONLY, 0o600)\n"
              "for _ in range(3):\n    os.write(fd, b'x' * 5000)\nos.close(fd)\n"
              f"fd = os.open({str(out)!r}, os.O_RDONLY)\nos.read(fd, 15000)\nos.close(fd)\n")
    import sys
    record(log, [sys.executable, "-c", script])
    assert_counters(only(log, str(out)), {
        "POSIX_OPENS": 2, "POSIX_WRITES": 3, "POSIX_READS": 1, "POSIX_BYTES_WRITTEN": 15000,
        "POSIX_BYTES_READ": 15000, "POSIX_MAX_BYTE_WRITTEN": 14999, "POSIX_MODE": 0o600,
        "POSIX_SIZE_WRITE_1K_10K": 3, "POSIX_SIZE_READ_10K_100K": 1, "POSIX_RW_SWITCHES": 1})


def test_dd(tmp_path: Path) -> None:
    out, log = tmp_path / "dd.dat", tmp_path / "dd.darshan"
    record(log, ["dd", "if=/dev/zero", f"of={out}", "bs=4096", "count=8", "status=none"])
    records = posix(log)
    assert [n for (_, n) in records] == [str(out)]  # /dev/zero is excluded, stderr is not a file
    assert_counters(records[(0, str(out))], {"POSIX_WRITES": 8, "POSIX_BYTES_WRITTEN": 32768,
                                             "POSIX_SIZE_WRITE_1K_10K": 8, "POSIX_READS": 0,
                                             "POSIX_SEQ_WRITES": 7, "POSIX_CONSEC_WRITES": 7})


def test_fd_open_before_tracing(bins: Path, tmp_path: Path) -> None:
    """stdout redirected to a file by the caller is resolved and counted
    (echo writes through stdio, whose system calls POSIX leaves to the STDIO
    module, so that module is off here)."""
    out, log = tmp_path / "stdout.txt", tmp_path / "stdout.darshan"
    with open(out, "w") as f:
        record(log, ["echo", "hello"], "--no-stdio", stdout=f)
    assert_counters(only(log, str(out)), {"POSIX_OPENS": 0, "POSIX_WRITES": 1,
                                          "POSIX_BYTES_WRITTEN": 6})


def test_close_range_closes(bins: Path, tmp_path: Path) -> None:
    a, b, log = tmp_path / "a.dat", tmp_path / "b.dat", tmp_path / "cr.darshan"
    record(log, [str(bins / "close_ranges"), str(a), str(b)])
    for path in (a, b):
        rec = only(log, str(path))
        assert rec["POSIX_WRITES"] == 1
        assert rec["POSIX_F_WRITE_END_TIMESTAMP"] <= rec["POSIX_F_CLOSE_START_TIMESTAMP"]
        assert 0 < rec["POSIX_F_CLOSE_START_TIMESTAMP"] <= rec["POSIX_F_CLOSE_END_TIMESTAMP"]


def test_exec_is_followed(bins: Path, tmp_path: Path) -> None:
    """The shell execs the workload in the same process: still rank 0."""
    out, log = tmp_path / "exec.dat", tmp_path / "exec.darshan"
    record(log, ["sh", "-c", f"exec {bins / 'seq_write'} {out}"])
    assert_counters(only(log, str(out)), {"POSIX_OPENS": 1, "POSIX_WRITES": 16})
    assert darshan.DarshanReport(str(log)).metadata["job"]["nprocs"] == 1
