"""One recording: the command's processes, the names of their files and
the renames they did, gathered from the event stream while it runs."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import bpf_layout as L
from .launch import HeldCommand
from .mounts import Namespaces
from .names import PathFilter, join_walk, printable, record_name
from .ranks import parse_environ

POLL_MS = 100
EVENT_HEADER = L.event.itemsize


@dataclass
class Process:
    pid: int
    parent: int | None  # None: launched by us, found running, or entered the scope
    exe: str = ""
    ended_ns: int = 0
    # The rank and job variables of its environment (ranks.py); None until known.
    environ: dict[str, str] | None = None


@dataclass
class Retirement:
    """A deleted file's record, moved off the key a new file took (EV_RETIRE)."""
    old: tuple[int, int, int]  # (proc, dev, ino), now the new file's
    new: tuple[int, int, int]  # the old file's record from now on
    at_ns: int                 # when the new file was opened


@dataclass
class Rename:
    proc: int
    old: str
    new: str
    start_ns: int
    end_ns: int


class ProcessWatcher(Protocol):
    """Something that must act on traced processes at exec, at a hold, at
    exit, and when one joins the recording mid-life.  A held process
    (bpf/process_hold.bpf.h) is stopped until every watcher's on_hold has
    returned."""

    def on_hold(self, kind: int, proc: int, pid: int) -> None:
        """kind: L.EV_EXEC (with TracerOptions.hold_at_exec), L.EV_LIB_MAP
        (a library of interest was just mapped) or L.EV_FORKED."""

    def on_exec(self, proc: int, pid: int) -> None: ...

    def on_exit(self, proc: int, pid: int) -> None: ...

    def on_adopt(self, proc: int, pid: int) -> None:
        """pid was running before it was traced (scope.py adopted it, or it
        was moved into the scope's cgroup); it is not held."""


class EventSource(Protocol):
    """What a recording needs of the kernel side (tracer.Tracer): its
    events, and a way to tell it which records to count."""

    def poll(self, timeout_ms: int) -> list[bytes]: ...

    def accept(self, key: np.void) -> None: ...

    def exclude(self, key: np.void) -> None: ...

    def accept_layer(self, key: np.void) -> None: ...


class CommandTracing(EventSource, Protocol):
    """What recording a launched command needs besides."""

    def trace_process(self, pid: int, proc: int) -> None: ...

    def start_clock(self, ktime_ns: int) -> None: ...


def release(pid: int) -> None:
    """Let a held process run on."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


@dataclass
class Recording:
    """What user space learns from events while the command runs."""

    path_filter: PathFilter
    start_ktime: int = 0
    start_epoch_ns: int = 0
    end_epoch_ns: int = 0
    procs: dict[int, Process] = field(default_factory=dict)
    names: dict[tuple[int, int, int], str] = field(default_factory=dict)
    renames: list[Rename] = field(default_factory=list)
    lost_files: list[str] = field(default_factory=list)
    excluded_drops: int = 0
    unlinks: int = 0
    namespaces: Namespaces = field(default_factory=Namespaces)
    env_truncated: int = 0  # execs whose environment was longer than the kernel copies
    # (index, kernel time) of processes that entered a scope by themselves,
    # for the scope to finish adopting (scope.py)
    entered: list[tuple[int, int]] = field(default_factory=list)
    watchers: list[ProcessWatcher] = field(default_factory=list)
    # names of records of the library layers, by layer id, keyed like names
    layer_names: dict[int, dict[tuple[int, int, int], str]] = field(default_factory=dict)
    retirements: list[Retirement] = field(default_factory=list)
    _pending_src: dict[int, tuple[int, str]] = field(default_factory=dict)

    def handle(self, raw: bytes, tracer: EventSource) -> None:
        ev = np.frombuffer(raw[:EVENT_HEADER], dtype=L.event)[0]
        try:
            self._handle(ev, raw, tracer)
        finally:
            if ev["held"]:
                release(int(ev["pid"]))

    def adopted(self, proc: int, pid: int) -> None:
        """A running process joined as proc: the watchers catch up with it."""
        for w in self.watchers:
            w.on_adopt(proc, pid)

    def _notify(self, kind: int, proc: int, pid: int, held: bool) -> None:
        for w in self.watchers:
            if kind == L.EV_EXEC:
                w.on_exec(proc, pid)
            elif kind == L.EV_EXIT:
                w.on_exit(proc, pid)
            if held:
                w.on_hold(kind, proc, pid)

    def _handle(self, ev: np.void, raw: bytes, tracer: EventSource) -> None:
        kind = int(ev["kind"])
        proc = int(ev["proc"])
        path = raw[EVENT_HEADER:EVENT_HEADER + int(ev["path_len"])].rstrip(b"\0")
        walk_start = EVENT_HEADER + int(ev["path_len"])
        walk = raw[walk_start:walk_start + int(ev["walk_len"])]
        if kind in (L.EV_OPEN, L.EV_STAT, L.EV_FILE, L.EV_EXEC):
            self.namespaces.note(int(ev["pid"]))
        if kind in (L.EV_OPEN, L.EV_STAT, L.EV_FILE):
            name = printable(join_walk(walk) if kind == L.EV_FILE else record_name(path, walk))
            key = ev["key"]
            excluded = self.path_filter.excluded(name)
            if ev["layer"] != L.LAYER_POSIX:
                # library layers drop excluded names when the log is built
                names = self.layer_names.setdefault(int(ev["layer"]), {})
                names.setdefault((proc, int(key["dev"]), int(key["ino"])), name)
                if not excluded:
                    tracer.accept_layer(key)
                return
            if ev["record_dropped"]:
                if excluded:
                    self.excluded_drops += 1
                else:
                    self.lost_files.append(name)
                return
            self._name_record(key, name, excluded, tracer)
        elif kind == L.EV_RETIRE:
            self._retire(ev, raw, tracer)
        elif kind == L.EV_UNLINK:
            if not self.path_filter.excluded(printable(record_name(path, walk))):
                self.unlinks += 1
        elif kind == L.EV_RENAME_SRC:
            self._pending_src[int(ev["tid"])] = (proc, printable(record_name(path, walk)))
        elif kind == L.EV_RENAME_DST:
            src = self._pending_src.pop(int(ev["tid"]), None)
            if src is not None:
                self.renames.append(Rename(proc, src[1], printable(record_name(path, walk)),
                                           int(ev["start_ns"]), int(ev["end_ns"])))
        elif kind == L.EV_FORK:
            parent = int(ev["parent_proc"])
            known = self.procs.get(parent)
            self.procs[proc] = Process(int(ev["pid"]), None if parent == L.NO_PARENT else parent,
                                       environ=known.environ if known else None)
            if parent == L.NO_PARENT:
                self.entered.append((proc, int(ev["start_ns"])))
        elif kind == L.EV_EXEC:
            if proc in self.procs:
                self.procs[proc].exe = printable(path.decode(errors="surrogateescape"))
                self.procs[proc].environ = parse_environ(walk)
                self.env_truncated += int(ev["walk_truncated"])
        elif kind == L.EV_EXIT and proc in self.procs:
            self.procs[proc].ended_ns = int(ev["end_ns"])
        self._notify(kind, proc, int(ev["pid"]), bool(ev["held"]))

    def _retire(self, ev: np.void, raw: bytes, tracer: EventSource) -> None:
        """The old file's name goes with its record to the new key, and so
        does user space's verdict on it (set on the old key, whose index
        entry the new file's record may have taken meanwhile)."""
        moved = np.frombuffer(raw[EVENT_HEADER:EVENT_HEADER + L.file_key.itemsize],
                              dtype=L.file_key)[0]
        key = ev["key"]
        old = (int(key["proc"]), int(key["dev"]), int(key["ino"]))
        new = (int(moved["proc"]), int(moved["dev"]), int(moved["ino"]))
        self.retirements.append(Retirement(old, new, int(ev["start_ns"])))
        name = self.names.pop(old, None)
        if name is not None:
            self._name_record(moved, name, self.path_filter.excluded(name), tracer)

    def _name_record(self, key: np.void, name: str, excluded: bool, tracer: EventSource) -> None:
        """A POSIX record's name (its first), and the kernel told whether
        to count it."""
        self.names.setdefault((int(key["proc"]), int(key["dev"]), int(key["ino"])), name)
        if excluded:
            tracer.exclude(key)
        else:
            tracer.accept(key)

    def retired_segments(self, segments: np.ndarray) -> np.ndarray:
        """segments with the POSIX operations on deleted files whose key a
        new file took moved to their records' new keys: those that started
        before the new file was opened."""
        if not self.retirements or not len(segments):
            return segments
        out = segments.copy()
        keys = out["key"]
        posix = out["module"] == L.DARSHAN_POSIX_MOD
        # a key retired twice: the first retirement takes the operations before it
        for r in sorted(self.retirements, key=lambda r: r.at_ns):
            mine = (posix & (keys["proc"] == r.old[0]) & (keys["dev"] == r.old[1])
                    & (keys["ino"] == r.old[2]) & (out["start_ns"] < r.at_ns))
            keys["dev"][mine], keys["ino"][mine] = r.new[1], r.new[2]
        return out

    def drain(self, tracer: EventSource, timeout_ms: int) -> None:
        for raw in tracer.poll(timeout_ms):
            self.handle(raw, tracer)

    def creation_order(self, procs: set[int]) -> list[int]:
        """procs in the order they were created (as their events came);
        processes whose fork event was lost last, by index."""
        order = {p: i for i, p in enumerate(self.procs)}
        return sorted(procs, key=lambda p: (order.get(p, len(order)), p))


def run(tracer: CommandTracing, command: HeldCommand, recording: Recording, exe: str) -> None:
    """Trace the held command from its exec to its end."""
    recording.procs[0] = Process(command.pid, None, exe)
    tracer.trace_process(command.pid, 0)
    recording.start_ktime = time.monotonic_ns()
    recording.start_epoch_ns = time.time_ns()
    tracer.start_clock(recording.start_ktime)
    command.release()
    while not command.poll():
        recording.drain(tracer, POLL_MS)
    recording.end_epoch_ns = time.time_ns()
    recording.drain(tracer, 0)
