"""The kernel side of a recording: load and attach the BPF objects, register
the first traced process, drain events, read the counters out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import bpf_layout as L
from .binding import BPF_F_LOCK, BpfError, BpfObject, EventStream, map_dump, map_lookup, \
    map_update, task_key
from .layers.base import LayerResult, LibraryLayer

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
    layers: list[LibraryLayer] = field(default_factory=list)
    hold_at_exec: bool = False  # stop each process after exec until user space continues it


class Tracer:
    """Loaded, attached BPF programs and the maps they fill."""

    def __init__(self, options: TracerOptions):
        self.options = options
        self._objects: list[BpfObject] = []
        self._events: EventStream | None = None
        self.layers: list[tuple[LibraryLayer, BpfObject]] = []
        try:
            lifecycle = self._open("lifecycle.bpf.o")
            lifecycle.resize_map("events", options.event_buffer_mb * 1024 * 1024)
            lifecycle.set_const("hold_at_exec", np.bool_(options.hold_at_exec))
            lifecycle.load()
            posix = self._load_posix(lifecycle)
            self.layers = [(layer, self._load_layer(layer, lifecycle))
                           for layer in options.layers]
            self._attachable = [lifecycle, posix]
            for obj in self._attachable:
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
            self._set_holds(posix)
            try:
                posix.load()
                return posix
            except BpfError:
                if variant == POSIX_VARIANTS[-1]:
                    raise
                self._objects.remove(posix)
                posix.close()
        raise AssertionError("unreachable")

    def _set_holds(self, posix: BpfObject) -> None:
        """Mapping one of the layers' libraries holds the process, and so
        does a fork, so that probes are in place before the library runs."""
        prefixes = np.zeros((L.HOLD_PREFIXES, L.HOLD_PREFIX_LEN), dtype=np.uint8)
        for i, layer in enumerate(self.options.layers):
            raw = layer.hold_prefix.encode()[:L.HOLD_PREFIX_LEN - 1]
            prefixes[i, :len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        posix.set_const("hold_libraries", np.bool_(bool(self.options.layers)))
        posix.set_const("hold_prefixes", prefixes)

    def _load_layer(self, layer: LibraryLayer, lifecycle: BpfObject) -> BpfObject:
        """A layer's object shares the process maps; its uprobes are attached
        per process later (library_probes.py)."""
        obj = self._open(layer.bpf_object)
        for name in SHARED_MAPS:
            obj.share_map(name, lifecycle)
        layer.configure(obj)
        obj.use_uprobe_multi()
        obj.load()
        return obj

    def collect_layers(self) -> list[LayerResult]:
        return [layer.collect(obj) for layer, obj in self.layers]

    def _open(self, name: str) -> BpfObject:
        obj = BpfObject(name)
        self._objects.append(obj)
        return obj

    def trace_process(self, pid: int, proc: int) -> None:
        """Trace pid (and, from now on, everything it starts) as proc."""
        state = np.zeros(1, dtype=L.task_state)
        state["proc"] = proc
        key = task_key(pid)
        try:
            map_update(self._tasks_fd, key, state)
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
