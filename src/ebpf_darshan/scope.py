"""Recording one job's processes without launching them: `record --pid`,
`--cgroup`, `--jobid-env` (and later `attach`).

A scope has two halves.  Processes already running in it when recording
starts are adopted from user space: each gets a traced-process index below
the kernel's (`FIRST_KERNEL_PROC`) and task storage on every one of its
threads; the listing is repeated until it finds nothing new, so children and
threads created while adopting are not missed (those created after their
parent is traced are the kernel's, at fork).  Processes that enter later are
let in by the kernel (lifecycle.bpf.c, scope.bpf.h): children of traced
processes at fork, and for a cgroup or environment scope any process that
execs in the cgroup / with NAME=VALUE, or is moved into the cgroup.

When a scope has ended is the scope's own rule (`ended`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .ranks import read_environ
from .recorder import Process, Recording
from .tracer import Tracer

# Indices below this are given by user space to adopted processes.
FIRST_KERNEL_PROC = 1 << 20
FNV64_OFFSET, FNV64_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv1a_64(data: bytes) -> int:
    """The hash scope.bpf.h matches environment entries by."""
    h = FNV64_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


class ScopeError(ValueError):
    """A scope that cannot be recorded (shown to the user as one line)."""


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _threads(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for tid in _threads(pid):
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.update(int(c) for c in text.split())
    return out


def _ancestors() -> set[int]:
    """This recorder and the processes above it: never part of its scope
    (it would wait for its own end)."""
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return out


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


@dataclass
class Scope:
    """The processes of one job on this node."""

    _next_proc: int = 0
    _seen_process: bool = False

    def lifecycle_consts(self) -> dict[str, np.generic | np.ndarray]:
        """lifecycle.bpf.c settings that let later processes in."""
        return {"proc_base": np.uint32(FIRST_KERNEL_PROC), "clock_at_entry": np.bool_(True)}

    def running(self) -> set[int]:
        """Processes in the scope now."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the log's metadata."""
        raise NotImplementedError

    def never_adopted(self) -> set[int]:
        """This recorder and the processes above it: adopted, they would
        keep the scope from ending until the recorder does."""
        return _ancestors()

    def start(self, tracer: Tracer, recording: Recording) -> None:
        """Adopt what is running; the job starts now if anything was (the
        clock first, so that the heatmaps miss none of their I/O); else
        when the kernel lets the first process in."""
        recording.start_ktime = 0
        running = self.running()
        if running:
            tracer.start_clock(time.monotonic_ns())
        while self._adopt(tracer, recording, running):
            running = self.running()
        if recording.procs:
            self._started(recording, tracer.job_clock())

    def _adopt(self, tracer: Tracer, recording: Recording, pids: set[int]) -> bool:
        """Trace pids and their descendants not traced yet; True if any was."""
        adopted = False
        known = {p.pid for p in recording.procs.values()} | self.never_adopted()
        todo = sorted(pids - known)
        while todo:
            pid = todo.pop(0)
            if pid in known:
                continue
            proc = self._next_proc
            if not _trace_threads(tracer, pid, proc):
                continue  # gone, or the kernel traced it first (a traced parent's fork)
            self._next_proc += 1
            recording.procs[proc] = Process(pid, None, _exe(pid), environ=read_environ(pid))
            recording.adopted(proc, pid)
            known.add(pid)
            adopted = True
            todo.extend(sorted(_children(pid) - known))
        return adopted

    def watch(self, tracer: Tracer, recording: Recording) -> None:
        """Things user space does for processes the kernel let in: their
        other threads (a process moved into a cgroup keeps its threads) and
        its environment if no exec brought it."""
        for proc, ktime in recording.entered:
            process = recording.procs[proc]
            _trace_threads(tracer, process.pid, proc)
            if process.environ is None:  # no exec brought it: it was moved in, running
                process.environ = read_environ(process.pid)
                recording.adopted(proc, process.pid)
            if not recording.start_ktime:
                self._started(recording, tracer.job_clock() or ktime)
        recording.entered.clear()

    def _started(self, recording: Recording, ktime: int) -> None:
        recording.start_ktime = ktime
        recording.start_epoch_ns = time.time_ns() - (time.monotonic_ns() - ktime)
        self._seen_process = True

    def ended(self, recording: Recording) -> bool:
        """By default: processes were seen, and none of them is alive."""
        return self._seen_process and not any(
            not p.ended_ns and _alive(p.pid) for p in recording.procs.values())


def _trace_threads(tracer: Tracer, pid: int, proc: int) -> bool:
    """Give every thread of pid task storage as proc, until a listing finds
    none new; False if none could be given (gone, or traced already)."""
    traced_any = False
    while True:
        new = [tid for tid in _threads(pid) if tracer.trace_thread(tid, proc)]
        if not new:
            return traced_any
        traced_any = True


@dataclass
class PidScope(Scope):
    """One process and its descendants, threads included."""

    pid: int = 0

    def __post_init__(self) -> None:
        if not _alive(self.pid):
            raise ScopeError(f"--pid {self.pid}: no such process")

    def running(self) -> set[int]:
        return {self.pid} if _alive(self.pid) else set()

    def ended(self, recording: Recording) -> bool:
        return not _alive(self.pid) and not any(
            not p.ended_ns and _alive(p.pid) for p in recording.procs.values())

    def describe(self) -> str:
        return f"pid {self.pid} and its descendants"

    def never_adopted(self) -> set[int]:
        """A process named by its pid is recorded even when it started the
        recorder (ebpf_darshan.recording() records a block of its caller
        that way); the recording then ends when it is stopped."""
        return _ancestors() - {self.pid}


@dataclass
class CgroupScope(Scope):
    """The processes of a cgroup v2 directory and its subdirectories.

    Ended: once the cgroup has had processes (at start, or when one entered)
    and is no longer populated (its cgroup.events says so, or the directory
    was removed).  Before any process arrives the recorder waits."""

    path: Path = field(default_factory=Path)

    def __post_init__(self) -> None:
        try:
            self._id = os.stat(self.path).st_ino  # a cgroup v2 id is its directory's inode
        except OSError as e:
            raise ScopeError(f"--cgroup {self.path}: {e.strerror}") from e
        if not (self.path / "cgroup.events").exists():  # only cgroup v2 has it
            raise ScopeError(f"--cgroup {self.path}: not a cgroup v2 directory")
        if os.getpid() in self.running():
            raise ScopeError(f"--cgroup {self.path}: the recorder itself is in it and would "
                             "wait for its own end; start it outside")

    def lifecycle_consts(self) -> dict[str, np.generic | np.ndarray]:
        return {**super().lifecycle_consts(), "scope_cgroup_id": np.uint64(self._id)}

    def running(self) -> set[int]:
        pids: set[int] = set()
        for procs in self.path.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
        return pids

    def _populated(self) -> bool:
        try:
            return "populated 1" in (self.path / "cgroup.events").read_text()
        except OSError:
            return False

    def ended(self, recording: Recording) -> bool:
        if self._populated():
            self._seen_process = True
            return False
        return self._seen_process

    def describe(self) -> str:
        return f"cgroup {self.path}"


@dataclass
class EnvScope(Scope):
    """Processes whose environment holds NAME=VALUE, and their descendants."""

    assignment: str = ""

    def __post_init__(self) -> None:
        name, sep, _ = self.assignment.partition("=")
        if not name or not sep:
            raise ScopeError(f"--jobid-env {self.assignment!r}: expected NAME=VALUE")

    def lifecycle_consts(self) -> dict[str, np.generic | np.ndarray]:
        return {**super().lifecycle_consts(),
                "scope_env_hash": np.uint64(fnv1a_64(self.assignment.encode()))}

    def running(self) -> set[int]:
        wanted = self.assignment.encode()
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if wanted in f.read().split(b"\0"):
                        pids.add(int(entry))
            except OSError:
                continue
        return pids

    def describe(self) -> str:
        return f"processes with {self.assignment} in their environment"


def record_scope(tracer: Tracer, scope: Scope, recording: Recording, stopped: Callable[[], bool],
                 ready: Callable[[], None], poll_ms: int) -> None:
    """Record the scope until it ends (or stopped() says so); ready() is
    called once the processes already running are traced."""
    scope.start(tracer, recording)
    ready()
    while not scope.ended(recording) and not stopped():
        recording.drain(tracer, poll_ms)
        scope.watch(tracer, recording)
    recording.end_epoch_ns = time.time_ns()
    recording.drain(tracer, 0)
    scope.watch(tracer, recording)
    if not recording.start_ktime:  # nothing ever entered: an empty log of no time
        recording.start_ktime = time.monotonic_ns()
        recording.start_epoch_ns = recording.end_epoch_ns
