"""Holding traced processes (bpf/process_hold.bpf.h) and finding the
library copies they map (proc_maps.py), in the real kernel."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ebpf_darshan import bpf_layout as L
from ebpf_darshan.launch import HeldCommand
from ebpf_darshan.names import PathFilter
from ebpf_darshan.proc_maps import mapped_executables
from ebpf_darshan.recorder import Recording, run

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.tracer import Tracer, TracerOptions

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


STOP_WAIT_S = 1.0


def process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat ('T' = stopped)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


class ExecWatcher:
    """Notes, at each hold, what runs and whether it is really stopped."""

    def __init__(self) -> None:
        self.holds: list[tuple[int, str, str]] = []

    def on_hold(self, kind: int, proc: int, pid: int) -> None:
        # the stop is queued before the event: it takes effect as the task
        # returns to user space, at the latest a moment after we hear of it
        deadline = time.monotonic() + STOP_WAIT_S
        while process_state(pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.001)
        self.holds.append((kind, os.readlink(f"/proc/{pid}/exe"), process_state(pid)))

    def on_exec(self, proc: int, pid: int) -> None:
        pass

    def on_exit(self, proc: int, pid: int) -> None:
        pass


def test_hold_at_exec(bins: Path, tmp_path: Path) -> None:
    """Each exec of a traced process stops it before its first instruction
    until the watchers are done; then it runs on to a normal end."""
    watcher = ExecWatcher()
    tracer = Tracer(TracerOptions(hold_at_exec=True))
    try:
        command = HeldCommand.start(["sh", "-c", f"{bins / 'seq_write'} {tmp_path / 'out'}"])
        run(tracer, command, Recording(PathFilter(), watchers=[watcher]), "sh")
    finally:
        tracer.close()
    assert command.exit_code == 0
    assert (tmp_path / "out").stat().st_size == 65536
    sh = os.path.realpath("/bin/sh")
    assert [(k, os.path.realpath(exe), state) for k, exe, state in watcher.holds] == [
        (L.EV_EXEC, sh, "T"), (L.EV_EXEC, str(bins / "seq_write"), "T")]


def test_mapped_executables_finds_libc() -> None:
    """The libc a process maps, with the device and inode the kernel's file
    keys have."""
    child = subprocess.Popen(["sleep", "5"])
    try:
        for _ in range(100):
            libc = [m for m in mapped_executables(child.pid) if m.basename == "libc.so.6"]
            if libc:
                break
            os.sched_yield()
        assert len(libc) == 1
        st = os.stat(libc[0].path_from(child.pid))
        assert (libc[0].ino, libc[0].dev) == (st.st_ino,
                                              (os.major(st.st_dev) << 20) | os.minor(st.st_dev))
    finally:
        child.kill()
        child.wait()
    assert mapped_executables(child.pid) == []
