"""`attach --pid`: a process already writing is recorded from the attach on,
through the fd it opened before (named and positioned by the kernel)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_counters, module_records, posix
from ebpf_darshan.darshan import read_log
from test_hdf5 import WORKLOADS as H5_WORKLOADS, check_h5py_rw

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

BLOCK = 4096


def start_attach(log: Path, pid: int, *options: str) -> subprocess.Popen:
    attach = subprocess.Popen([sys.executable, "-m", "ebpf_darshan", "attach", "--pid", str(pid),
                               "-o", str(log), *options], stderr=subprocess.PIPE, text=True)
    line = attach.stderr.readline()
    assert "recording pid" in line, line + attach.stderr.read()
    return attach


def test_attach_counts_from_the_attach_on(bins: Path, tmp_path: Path) -> None:
    data = tmp_path / "out.dat"
    app = subprocess.Popen([str(bins / "write_then_wait"), str(data)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    assert app.stdout.readline() == "ready\n"  # 4 blocks written, untraced
    log = tmp_path / "attached.darshan"
    attach = start_attach(log, app.pid)
    app.stdin.write("go\n")
    app.stdin.close()
    assert app.wait(30) == 0
    _, err = attach.communicate(timeout=30)
    assert attach.returncode == 0, err
    records = {n: r for (_, n), r in posix(log).items()}
    assert_counters(records[str(data)], {
        "POSIX_OPENS": 0, "POSIX_WRITES": 3, "POSIX_BYTES_WRITTEN": 3 * BLOCK,
        # the kernel's file position: these writes went to blocks 5 to 7;
        # the first follows no write seen, so it is sequential, not consecutive
        "POSIX_MAX_BYTE_WRITTEN": 7 * BLOCK - 1, "POSIX_SEQ_WRITES": 3,
        "POSIX_CONSEC_WRITES": 2})
    assert not read_log(log).partial_flag


def test_attach_stops_after_the_duration(bins: Path, tmp_path: Path) -> None:
    data = tmp_path / "out.dat"
    app = subprocess.Popen([str(bins / "write_then_wait"), str(data)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline() == "ready\n"
        log = tmp_path / "timed.darshan"
        attach = start_attach(log, app.pid, "--duration", "0.5")
        _, err = attach.communicate(timeout=30)
        assert attach.returncode == 0, err
        assert app.poll() is None  # still running: the duration ended the recording
        assert read_log(log).job.end_ns > read_log(log).job.start_ns
    finally:
        app.kill()
        app.wait()


def test_attach_adopts_a_stream_opened_before(bins: Path, tmp_path: Path) -> None:
    """The library probes go on the running process, and the FILE it opened
    before the attach is counted from its first call after, under its name."""
    data = tmp_path / "stream.dat"
    app = subprocess.Popen([str(bins / "fwrite_then_wait"), str(data)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    assert app.stdout.readline() == "ready\n"  # 5 items written, untraced
    log = tmp_path / "stream.darshan"
    attach = start_attach(log, app.pid)
    app.stdin.write("go\n")
    app.stdin.close()
    assert app.wait(30) == 0
    _, err = attach.communicate(timeout=30)
    assert attach.returncode == 0, err
    stdio = {n: r for (_, n), r in module_records(log, "STDIO").items()}
    assert set(stdio) == {str(data)}  # fgets on stdin was in flight: not counted
    assert_counters(stdio[str(data)], {
        "STDIO_OPENS": 0, "STDIO_WRITES": 7, "STDIO_BYTES_WRITTEN": 700,
        # counted from the stream's position at the attach
        "STDIO_MAX_BYTE_WRITTEN": 1199, "STDIO_READS": 0})
    # the stream's system calls (fclose's write and close) are stdio's, not
    # the application's, as in a recording that launched it
    assert (0, str(data)) not in posix(log)
    assert not read_log(log).partial_flag


def test_attach_then_dlopen_hdf5(tmp_path: Path) -> None:
    """A process that loads libhdf5 (h5py's own copy, by dlopen) after the
    attach is held at the mapping and probed: H5F and H5D are exact."""
    h5 = tmp_path / "late.h5"
    app = subprocess.Popen([sys.executable, str(H5_WORKLOADS / "h5py_rw.py"), str(h5), "wait"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert app.stdout.readline() == "ready\n"
    log = tmp_path / "late.darshan"
    attach = start_attach(log, app.pid)
    app.stdin.write("go\n")
    app.stdin.close()
    assert app.wait(60) == 0
    _, err = attach.communicate(timeout=30)
    assert attach.returncode == 0, err
    check_h5py_rw(log, h5)
