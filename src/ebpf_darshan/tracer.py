"""The kernel side of a recording: load and attach the BPF objects, register
the first traced process, drain events, read the counters out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import bpf_layout as L
from .binding import BPF_ANY, BPF_F_LOCK, BPF_NOEXIST, BpfError, BpfObject, EventStream, \
    map_dump, map_lookup, map_update, task_key

SHARED_MAPS = ("task_states", "events", "health")
# Direct struct file reads need Linux 6.2 (bpf_rdonly_cast); older kernels
# get the same program built with probe reads.
POSIX_VARIANTS = ("posix.bpf.o", "posix_compat.bpf.o")
DEFAULT_MAX_RECORDS = 16384
DEFAULT_EVENT_BUFFER_MB = 4


@dataclass
class TracerOptions:
    max_records: int = DEFAULT_MAX_RECORDS
    event_buffer_mb: int = DEFAULT_EVENT_BUFFER_MB
    mem_alignment: int = 8
    # lifecycle.bpf.c's `const volatile` settings, by name (a scope's)
    lifecycle_consts: dict[str, np.generic | np.ndarray] = field(default_factory=dict)


class Tracer:
    """Loaded, attached BPF programs and the maps they fill."""

    def __init__(self, options: TracerOptions):
        self.options = options
        self._objects: list[BpfObject] = []
        self._events: EventStream | None = None
        try:
            lifecycle = self._open("lifecycle.bpf.o")
            lifecycle.resize_map("events", options.event_buffer_mb * 1024 * 1024)
            for name, value in options.lifecycle_consts.items():
                lifecycle.set_const(name, value)
            lifecycle.load()
            posix = self._load_posix(lifecycle)
            for obj in self._objects:
                obj.attach()
            self._records_fd = posix.map_fd("records")
            self._tasks_fd = lifecycle.map_fd("task_states")
            self._health_fd = lifecycle.map_fd("health")
            self._events = EventStream(lifecycle.map_fd("events"))
        except BpfError:
            self.close()
            raise

    def _load_posix(self, lifecycle: BpfObject) -> BpfObject:
        """The fast variant where the kernel takes it, else the portable one."""
        for variant in POSIX_VARIANTS:
            posix = self._open(variant)
            for name in SHARED_MAPS:
                posix.share_map(name, lifecycle)
            posix.resize_map("records", self.options.max_records)
            posix.set_const("mem_alignment", np.int64(self.options.mem_alignment))
            try:
                posix.load()
                return posix
            except BpfError:
                if variant == POSIX_VARIANTS[-1]:
                    raise
                self._objects.remove(posix)
                posix.close()
        raise AssertionError("unreachable")

    def _open(self, name: str) -> BpfObject:
        obj = BpfObject(name)
        self._objects.append(obj)
        return obj

    def trace_process(self, pid: int, proc: int) -> None:
        """Trace pid (and, from now on, everything it starts) as proc."""
        self._set_task(task_key(pid), proc, BPF_ANY)

    def trace_thread(self, tid: int, proc: int) -> bool:
        """Trace one running thread as part of proc, unless it is traced
        already; False if it is gone or was traced."""
        try:
            key = task_key(tid, thread=True)
        except OSError:
            return False
        try:
            self._set_task(key, proc, BPF_NOEXIST)
        except BpfError:
            return False
        return True

    def _set_task(self, key: np.ndarray, proc: int, flags: int) -> None:
        state = np.zeros(1, dtype=L.task_state)
        state["proc"] = proc
        try:
            map_update(self._tasks_fd, key, state, flags)
        finally:
            os.close(int(key[0]))

    def poll(self, timeout_ms: int) -> list[bytes]:
        assert self._events is not None
        return self._events.poll(timeout_ms)

    def exclude(self, key: np.void) -> None:
        """Stop counting a record whose name is excluded; its counts go."""
        value = np.zeros(1, dtype=L.posix_record)
        value["flags"] = L.RECORD_EXCLUDED
        try:
            map_update(self._records_fd, np.array([key], dtype=L.file_key), value, BPF_F_LOCK)
        except BpfError:
            pass  # already gone: nothing to stop

    def records(self) -> tuple[np.ndarray, np.ndarray]:
        return map_dump(self._records_fd, L.file_key, L.posix_record,
                        self.options.max_records)

    def health(self) -> np.ndarray:
        out = np.zeros(L.H_NUM_SLOTS, dtype=np.uint64)
        for slot in range(L.H_NUM_SLOTS):
            out[slot] = map_lookup(self._health_fd, np.array([slot], dtype=np.uint32),
                                   np.dtype(np.uint64))[0]
        return out

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        for obj in reversed(self._objects):
            obj.close()
        self._objects.clear()
