"""The STDIO module: exact counters for stdio workloads whose calls we know,
read back through PyDarshan; the system calls stdio makes are not counted
again in POSIX; probes reach forked and exec'd children before they run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import darshan
import pytest
from darshan.backend.cffi_backend import counter_names, fcounter_names

from conftest import assert_counters, posix, record

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


def stdio(log: Path) -> dict[tuple[int, str], dict[str, float]]:
    """STDIO records of a log as PyDarshan reads them: (rank, name) -> counters."""
    report = darshan.DarshanReport(str(log), read_all=True)
    names = report.name_records
    out: dict[tuple[int, str], dict[str, float]] = {}
    for r in report.records.get("STDIO", []):
        row: dict[str, float] = dict(zip(counter_names("STDIO"),
                                         (int(v) for v in r["counters"]), strict=True))
        row.update(zip(fcounter_names("STDIO"), (float(v) for v in r["fcounters"]), strict=True))
        out[(int(r["rank"]), names[r["id"]])] = row
    return out


def untouched() -> dict[str, float]:
    return {name: 0 for name in counter_names("STDIO")}


# stdio_ops' main stream
ONE_STREAM = {"STDIO_OPENS": 1, "STDIO_WRITES": 12, "STDIO_READS": 6, "STDIO_SEEKS": 3,
              "STDIO_FLUSHES": 1, "STDIO_BYTES_WRITTEN": 4113, "STDIO_BYTES_READ": 5119,
              "STDIO_MAX_BYTE_WRITTEN": 4112, "STDIO_MAX_BYTE_READ": 4112}


def test_stdio_calls_exact(bins: Path, tmp_path: Path) -> None:
    main, fdo, unl = tmp_path / "main.txt", tmp_path / "fdopen.txt", tmp_path / "unlocked.txt"
    log = tmp_path / "stdio.darshan"
    record(log, [str(bins / "stdio_ops"), str(main), str(fdo), str(unl)])
    records = stdio(log)
    assert_counters(records[(0, str(main))], untouched() | ONE_STREAM)
    assert_counters(records[(0, str(fdo))], untouched() | {
        "STDIO_OPENS": 1, "STDIO_FDOPENS": 1, "STDIO_WRITES": 1, "STDIO_BYTES_WRITTEN": 10,
        "STDIO_MAX_BYTE_WRITTEN": 9})
    assert_counters(records[(0, str(unl))], untouched() | {
        "STDIO_OPENS": 2, "STDIO_WRITES": 2, "STDIO_READS": 2, "STDIO_BYTES_WRITTEN": 101,
        "STDIO_BYTES_READ": 51, "STDIO_MAX_BYTE_WRITTEN": 100, "STDIO_MAX_BYTE_READ": 50})
    # the standard streams, named as Darshan names them, with the open
    # Darshan gives them at startup; stdin was not used, so it has no record
    assert_counters(records[(0, "<STDOUT>")], untouched() | {
        "STDIO_OPENS": 1, "STDIO_WRITES": 1, "STDIO_BYTES_WRITTEN": 6,
        "STDIO_MAX_BYTE_WRITTEN": 5})
    assert_counters(records[(0, "<STDERR>")], untouched() | {
        "STDIO_OPENS": 1, "STDIO_WRITES": 1, "STDIO_BYTES_WRITTEN": 4,
        "STDIO_MAX_BYTE_WRITTEN": 3})
    assert set(records) == {(0, str(main)), (0, str(fdo)), (0, str(unl)), (0, "<STDOUT>"),
                            (0, "<STDERR>")}


def test_fortified_printf_family_is_counted(bins: Path, tmp_path: Path) -> None:
    """_FORTIFY_SOURCE turns the printf family into __*printf_chk (the test
    checks the binary calls them), which Darshan's wrappers never see."""
    out, log = tmp_path / "fortified.txt", tmp_path / "fortified.darshan"
    binary = str(bins / "fortify_printf")
    imports = subprocess.run(["nm", "-D", binary], capture_output=True, text=True).stdout
    assert "__fprintf_chk" in imports and "__printf_chk" in imports
    done = record(log, [binary, str(out)], stdout=subprocess.PIPE)
    assert done.stdout == "2\nxyz\n"
    records = stdio(log)
    assert_counters(records[(0, str(out))], untouched() | {
        "STDIO_OPENS": 1, "STDIO_WRITES": 2, "STDIO_BYTES_WRITTEN": 15,
        "STDIO_MAX_BYTE_WRITTEN": 14})
    assert_counters(records[(0, "<STDOUT>")], untouched() | {
        "STDIO_OPENS": 1, "STDIO_WRITES": 2, "STDIO_BYTES_WRITTEN": 6,
        "STDIO_MAX_BYTE_WRITTEN": 5})


def test_stdio_times(bins: Path, tmp_path: Path) -> None:
    main = tmp_path / "main.txt"
    log = tmp_path / "stdio.darshan"
    record(log, [str(bins / "stdio_ops"), str(main), str(tmp_path / "b"), str(tmp_path / "c")])
    t = stdio(log)[(0, str(main))]
    run_time = darshan.DarshanReport(str(log), read_all=True).metadata["job"]["run_time"]
    # opened, written, read, closed, in that order, within the run
    assert 0 < t["STDIO_F_OPEN_START_TIMESTAMP"] <= t["STDIO_F_OPEN_END_TIMESTAMP"]
    assert t["STDIO_F_OPEN_END_TIMESTAMP"] <= t["STDIO_F_WRITE_START_TIMESTAMP"]
    assert t["STDIO_F_WRITE_START_TIMESTAMP"] < t["STDIO_F_WRITE_END_TIMESTAMP"]
    assert t["STDIO_F_WRITE_END_TIMESTAMP"] <= t["STDIO_F_READ_START_TIMESTAMP"]
    assert t["STDIO_F_READ_START_TIMESTAMP"] < t["STDIO_F_READ_END_TIMESTAMP"]
    assert t["STDIO_F_READ_END_TIMESTAMP"] <= t["STDIO_F_CLOSE_START_TIMESTAMP"]
    assert t["STDIO_F_CLOSE_START_TIMESTAMP"] <= t["STDIO_F_CLOSE_END_TIMESTAMP"] < run_time
    for timer, (start, end) in {"WRITE": ("WRITE_START", "WRITE_END"),
                                "READ": ("READ_START", "READ_END")}.items():
        span = t[f"STDIO_F_{end}_TIMESTAMP"] - t[f"STDIO_F_{start}_TIMESTAMP"]
        assert 0 < t[f"STDIO_F_{timer}_TIME"] <= span
    assert 0 < t["STDIO_F_META_TIME"] < run_time


def test_posix_does_not_count_stdio_system_calls(bins: Path, tmp_path: Path) -> None:
    """Files used through stdio have no POSIX record; the application's own
    open() of the fdopen'd file is POSIX's, the write stdio did is not."""
    main, fdo, unl = tmp_path / "main.txt", tmp_path / "fdopen.txt", tmp_path / "unlocked.txt"
    log = tmp_path / "stdio.darshan"
    record(log, [str(bins / "stdio_ops"), str(main), str(fdo), str(unl)])
    records = posix(log)
    assert (0, str(main)) not in records and (0, str(unl)) not in records
    assert_counters(records[(0, str(fdo))], {"POSIX_OPENS": 1, "POSIX_WRITES": 0,
                                             "POSIX_BYTES_WRITTEN": 0})
    # nor are the pages its write dirtied taken for stores through a mapping
    meta = darshan.DarshanReport(str(log)).metadata["job"]["metadata"]
    assert "extra_mmap_dirtied_bytes" not in meta


def test_no_stdio_counts_posix_instead(bins: Path, tmp_path: Path) -> None:
    main, fdo, unl = tmp_path / "main.txt", tmp_path / "fdopen.txt", tmp_path / "unlocked.txt"
    log = tmp_path / "nostdio.darshan"
    record(log, [str(bins / "stdio_ops"), str(main), str(fdo), str(unl)], "--no-stdio")
    assert stdio(log) == {}
    records = posix(log)
    assert records[(0, str(main))]["POSIX_BYTES_WRITTEN"] == 4113
    assert records[(0, str(fdo))]["POSIX_BYTES_WRITTEN"] == 10


def test_forked_child_is_probed(bins: Path, tmp_path: Path) -> None:
    """A child forked without exec is held until its own probes are in."""
    parent, child = tmp_path / "parent.txt", tmp_path / "child.txt"
    log = tmp_path / "fork.darshan"
    record(log, [str(bins / "stdio_fork"), str(parent), str(child)])
    records = stdio(log)
    expected = untouched() | {"STDIO_OPENS": 1}
    assert_counters(records[(0, str(parent))], expected | {
        "STDIO_WRITES": 2, "STDIO_BYTES_WRITTEN": 14, "STDIO_MAX_BYTE_WRITTEN": 13})
    assert_counters(records[(1, str(child))], expected | {
        "STDIO_WRITES": 3, "STDIO_BYTES_WRITTEN": 21, "STDIO_MAX_BYTE_WRITTEN": 20})


def test_exec_d_children_are_probed(bins: Path, tmp_path: Path) -> None:
    """The shell forks and execs each program; each maps libc anew and is
    held at that mapping until probed."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    log = tmp_path / "sh.darshan"
    fork = bins / "stdio_fork"
    record(log, ["sh", "-c", f"{fork} {a} {b} && {fork} {b} {a}"])
    writes = {key: r["STDIO_WRITES"] for key, r in stdio(log).items()}
    # ranks: sh is not one (no I/O); the first program and its child, then
    # the second and its child
    assert writes == {(0, str(a)): 2, (1, str(b)): 3, (2, str(b)): 2, (3, str(a)): 3}


def test_exec_into_the_same_libc_counts_each_call_once(bins: Path, tmp_path: Path) -> None:
    """The shell was probed in libc; it execs a program that maps the same
    libc, whose calls the same links see: probing it again would count
    every entry twice (and stdio's nesting would never unwind)."""
    main, fdo, unl = tmp_path / "main.txt", tmp_path / "fdopen.txt", tmp_path / "unlocked.txt"
    log = tmp_path / "exec.darshan"
    record(log, ["sh", "-c", f"echo start; exec {bins / 'stdio_ops'} {main} {fdo} {unl}"])
    records = stdio(log)
    assert_counters(records[(0, str(main))], untouched() | ONE_STREAM)
    assert posix(log)[(0, str(fdo))]["POSIX_OPENS"] == 1


def test_calls_after_a_lost_return_are_counted(bins: Path, tmp_path: Path) -> None:
    """An fwrite that its stream's write function longjmps out of never
    returns, and its return probe never fires: the later calls are still
    counted, each once, and their system calls are still stdio's."""
    out, log = tmp_path / "after.txt", tmp_path / "lost.darshan"
    record(log, [str(bins / "stdio_lost_return"), str(out)])
    records = stdio(log)
    # the custom stream is not counted, as Darshan does not
    assert set(records) == {(0, str(out))}
    assert_counters(records[(0, str(out))], untouched() | {
        "STDIO_OPENS": 1, "STDIO_WRITES": 3, "STDIO_BYTES_WRITTEN": 300,
        "STDIO_MAX_BYTE_WRITTEN": 299})
    assert (0, str(out)) not in posix(log)
