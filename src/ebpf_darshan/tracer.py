"""The kernel side of a recording: load and attach the BPF objects, register
the first traced process, drain events, read the counters out."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import bpf_layout as L
from .binding import (
    BPF_ANY,
    BPF_NOEXIST,
    BpfError,
    BpfObject,
    EventStream,
    MappedArray,
    map_delete,
    map_dump,
    map_lookup,
    map_update,
    queue_push,
    task_key,
)
from .layers.base import KernelMap, LayerResult, LibraryLayer, Tables
from .object_loader import Features, Loaded, load_object, set_consts
from .timelines import KernelTimelines, OwnHeatmap

SHARED_MAPS = ("task_states", "events", "health", "heatmaps", "job_clock", "segments",
               "named_records", "proc_heatmaps", "free_heatmap_rows", "probed_libraries")
# The POSIX module: posix.bpf.o holds the system call hooks (it counts reads
# and writes itself) and the record maps; each other object counts one
# concern, most of them handed over by the exit hook through a tail call
# (enum exit_slot).  Any of these may be refused by a kernel without the
# others going.
POSIX_MAPS = ("records", "record_index", "extras", "record_serials", "free_slots")


@dataclass(frozen=True)
class PosixPart:
    stem: str
    counts: str                          # what goes uncounted without it
    exit_slot: tuple[int, str] | None    # its exit_calls slot and program
    # programs of which any one will do: one tracepoint's names in
    # different kernels
    alternatives: tuple[str, ...] = ()


POSIX_PARTS = (
    PosixPart("posix_open", "opens, closes and dups", (L.EXIT_OPEN, "exit_open")),
    PosixPart("posix_meta", "seeks, syncs, stats, renames, unlinks",
              (L.EXIT_META, "exit_meta")),
    PosixPart("posix_copy", "sendfile, copy_file_range, splice", (L.EXIT_COPY, "exit_copy")),
    PosixPart("posix_mmap", "mmaps and bytes through file mappings", (L.EXIT_MMAP, "exit_mmap")),
    PosixPart("posix_uring", "io_uring requests", None,
              alternatives=("io_uring_submit", "io_uring_submit_old")),
)
DEFAULT_MAX_RECORDS = L.MAX_RECORDS_DEFAULT
DEFAULT_EVENT_BUFFER_MB = L.EVENTS_RINGBUF_MB_DEFAULT
# DXT: 1 Mi segments of 56 bytes (56 MiB) at most, about 20 times what
# Darshan's default 2 MiB per DXT module holds.
DEFAULT_DXT_MAX_SEGMENTS = 1 << 20
DEFAULT_DXT_BUFFER_MB = 16
# Without --dxt the segments ring only carries the few operations on files
# whose names user space has not seen yet.
PENDING_BUFFER_MB = L.PENDING_RINGBUF_MB_DEFAULT
DEFAULT_HEATMAP_PROCS = L.HEATMAP_PROCS_DEFAULT
PROC_HEATMAPS_MAX = L.PROC_HEATMAPS_DEFAULT
# MPI launchers (Open MPI's, PRRTE's, MPICH's Hydra): never held, see
# HOLD_SKIP_COMMS in bpf/ebpf_darshan.h.
HOLD_SKIP_COMMS = ("mpirun", "mpiexec", "orterun", "orted", "prterun", "prted",
                   "mpiexec.hydra", "hydra_pmi_proxy")
MB = L.RINGBUF_MB


@dataclass
class TracerOptions:
    max_records: int = DEFAULT_MAX_RECORDS
    event_buffer_mb: int = DEFAULT_EVENT_BUFFER_MB
    mem_alignment: int = 8
    # lifecycle.bpf.c's `const volatile` settings, by name (a scope's)
    lifecycle_consts: dict[str, np.generic | np.ndarray] = field(default_factory=dict)
    layers: list[LibraryLayer] = field(default_factory=list)
    hold_at_exec: bool = False  # stop each process after exec until user space continues it
    dxt: bool = False
    dxt_max_segments: int = DEFAULT_DXT_MAX_SEGMENTS
    dxt_buffer_mb: int = DEFAULT_DXT_BUFFER_MB
    heatmap_procs: int = DEFAULT_HEATMAP_PROCS
    # Each process's heatmap counts from its own job's start (the node
    # daemon); heatmap_procs rows are lent to processes doing I/O.
    own_heatmap_clocks: bool = False
    # Library probes fire in every process mapping the library, not per
    # process (library_probes.py; the node daemon).
    probes_shared: bool = False


def _string_table(strings: list[str], rows: int, width: int) -> np.ndarray:
    """A `char [rows][width]` constant: NUL-terminated strings, "" after."""
    table = np.zeros((rows, width), dtype=np.uint8)
    for i, string in enumerate(strings):
        raw = string.encode()[:width - 1]
        table[i, :len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return table


# named_records (bpf/heatmap.bpf.h), as a map whose entries are taken
NAMED_MARKS = KernelMap("named_records", L.file_key, np.dtype(np.uint8), L.NAMED_RECORDS_MAX)


def _take_entries(fd: int, kernel_map: KernelMap, procs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The entries of procs, deleted from the map."""
    keys, values = map_dump(fd, kernel_map.key, kernel_map.value, kernel_map.capacity)
    mine = np.isin(keys["proc"], procs)
    if mine.any():
        map_delete(fd, keys[mine])
    return keys[mine], values[mine]


def _array_values(fd: int, n: int) -> np.ndarray:
    """The u64 slots of a small array map."""
    out = np.zeros(n, dtype=np.uint64)
    for slot in range(n):
        out[slot] = map_lookup(fd, np.array([slot], dtype=np.uint32), np.dtype(np.uint64))[0]
    return out


@dataclass(frozen=True)
class PartOff:
    """A part of the recording this kernel refused, and why."""
    key: str     # short name, for the log's metadata
    what: str    # what goes uncounted
    reason: str

    def line(self) -> str:
        return f"{self.what} not recorded: {self.reason}"


# A reason kept in the log is cut here: the job region holds every
# metadata line in at most 4 KiB.
OFF_REASON_MAX = 160


def off_metadata(off: list[PartOff]) -> dict[str, str]:
    """The log's metadata lines for the parts that were not recorded."""
    return {f"off_{part.key}": part.line()[:OFF_REASON_MAX] for part in off}


class Tracer:
    """Loaded, attached BPF programs and the maps they fill.

    lifecycle.bpf.o and posix.bpf.o must load (BpfError otherwise); every
    other part that a kernel refuses is left out and listed in `off`."""

    def __init__(self, options: TracerOptions):
        self.options = options
        self._objects: list[BpfObject] = []
        self._events: EventStream | None = None
        self._records: MappedArray | None = None
        self.layers: list[tuple[LibraryLayer, BpfObject]] = []
        self.off: list[PartOff] = []
        self.loaded: list[str] = []  # the object files the kernel took
        try:
            lifecycle = self._load_lifecycle()
            posix = self._load("posix", lambda obj: self._configure(obj, lifecycle, None))
            parts = [self._load_part(part, lifecycle, posix) for part in POSIX_PARTS]
            self.layers = [(layer, obj) for layer in options.layers
                           if (obj := self._load_layer(layer, lifecycle)) is not None]
            self._fill_exit_calls(posix, parts)
            for obj in [lifecycle, posix, *(loaded for _, loaded in parts if loaded)]:
                obj.attach()
            self._records = MappedArray(posix.map_fd("records"), L.posix_record,
                                        options.max_records)
            self._index_fd = posix.map_fd("record_index")
            self._free_fd = posix.map_fd("free_slots")
            self._tasks_fd = lifecycle.map_fd("task_states")
            self._health_fd = lifecycle.map_fd("health")
            self._extras_fd = posix.map_fd("extras")
            self._clock_fd = lifecycle.map_fd("job_clock")
            self._heatmaps_fd = lifecycle.map_fd("heatmaps")
            self._named_fd = lifecycle.map_fd("named_records")
            self._probed_fd = lifecycle.map_fd("probed_libraries")
            self._proc_heatmaps_fd = lifecycle.map_fd("proc_heatmaps")
            self._free_rows_fd = lifecycle.map_fd("free_heatmap_rows")
            if options.own_heatmap_clocks:
                queue_push(self._free_rows_fd, np.arange(options.heatmap_procs, dtype=np.uint32))
            self._events = EventStream(lifecycle.map_fd("events"))
            self._events.add_segments(lifecycle.map_fd("segments"), options.dxt_max_segments)
        except BpfError:
            self.close()
            raise

    @property
    def features(self) -> Features:
        return Features(dxt=self.options.dxt, heatmap=True)

    def _load_lifecycle(self) -> BpfObject:
        def configure(obj: BpfObject) -> None:
            obj.resize_map("events", self.options.event_buffer_mb * MB)
            obj.set_const("hold_at_exec", np.bool_(self.options.hold_at_exec))
            for name, value in self.options.lifecycle_consts.items():
                obj.set_const(name, value)
            obj.resize_map("segments", (self.options.dxt_buffer_mb if self.options.dxt
                                        else PENDING_BUFFER_MB) * MB)
            obj.resize_map("heatmaps", self.options.heatmap_procs * L.HEATMAP_APIS)
            obj.resize_map("free_heatmap_rows", self.options.heatmap_procs)
            set_consts(obj, self._consts())

        return self._load("lifecycle", configure, variants=("",))

    def _load(self, stem: str, configure: Callable[[BpfObject], None],
              variants: tuple[str, ...] = ("", "_compat"), alternatives: tuple[str, ...] = ()
              ) -> BpfObject:
        """Load an object, noting the features and programs it came without."""
        loaded = load_object(stem, configure, self.features, variants)
        self._objects.append(loaded.obj)
        self.loaded.append(loaded.obj.name)
        if not set(alternatives) <= set(loaded.programs_off):
            for program in alternatives:
                loaded.programs_off.pop(program, None)
        self._note_fallbacks(stem, loaded)
        return loaded.obj

    def _note_fallbacks(self, stem: str, loaded: Loaded) -> None:
        if self.features.dxt and not loaded.features.dxt:
            self.off.append(PartOff(f"{stem}_dxt", f"DXT traces of {stem}.bpf.o",
                                    "the kernel refused its DXT code"))
        if not loaded.features.heatmap:
            self.off.append(PartOff(f"{stem}_heatmap", f"heatmap bytes of {stem}.bpf.o",
                                    "the kernel refused its heatmap code"))
        for program, reason in loaded.programs_off.items():
            self.off.append(PartOff(f"{stem}_{program}", f"program {program} of {stem}.bpf.o",
                                    reason))

    def _consts(self) -> dict[str, np.generic | np.ndarray]:
        """Settings shared by name with every object that has them."""
        proc_base, kernel_row = self._heatmap_split()
        prefixes = [layer.hold_prefix for layer in self.options.layers]
        return {
            "heatmap_proc_base": np.uint32(proc_base),
            "heatmap_kernel_row": np.uint32(kernel_row),
            "heatmap_own_clocks": np.bool_(self.options.own_heatmap_clocks),
            "mem_alignment": np.int64(self.options.mem_alignment),
            # Mapping one of the layers' libraries holds the process, and so
            # does a fork, so that probes are in place before the library runs.
            "hold_libraries": np.bool_(bool(self.options.layers)),
            "probes_shared": np.bool_(self.options.probes_shared),
            "hold_prefixes": _string_table(prefixes, L.HOLD_PREFIXES, L.HOLD_PREFIX_LEN),
            "hold_skip_comms": _string_table(list(HOLD_SKIP_COMMS), L.HOLD_SKIP_COMMS,
                                             L.COMM_LEN),
        }

    def _configure(self, obj: BpfObject, lifecycle: BpfObject, posix: BpfObject | None) -> None:
        """Before load: the maps it shares, the sizes of its own, the settings."""
        for name in SHARED_MAPS:
            obj.share_map(name, lifecycle)
        if posix is None:  # posix.bpf.o itself: it owns the record maps
            for name in ("records", "record_index", "free_slots"):
                obj.resize_map(name, self.options.max_records)
        else:
            for name in POSIX_MAPS:
                obj.share_map(name, posix)
        set_consts(obj, self._consts())

    def _load_part(self, part: PosixPart, lifecycle: BpfObject, posix: BpfObject
                   ) -> tuple[PosixPart, BpfObject | None]:
        def configure(obj: BpfObject) -> None:
            self._configure(obj, lifecycle, posix)
            if part.exit_slot:
                obj.set_autoattach(part.exit_slot[1], False)  # reached by tail call only

        try:
            return part, self._load(part.stem, configure, alternatives=part.alternatives)
        except BpfError as e:
            self.off.append(PartOff(part.stem, part.counts, e.describe()))
            return part, None

    def _fill_exit_calls(self, posix: BpfObject,
                         parts: list[tuple[PosixPart, BpfObject | None]]) -> None:
        fd = posix.map_fd("exit_calls")
        for part, obj in parts:
            if obj is not None and part.exit_slot:
                slot, program = part.exit_slot
                map_update(fd, np.array([slot], dtype=np.uint32),
                           np.array([obj.prog_fd(program)], dtype=np.uint32))

    def _heatmap_split(self) -> tuple[int, int]:
        """(first kernel-numbered process, its heatmap row): user space's
        processes have rows below that row (see heatmap_row_of())."""
        proc_base = int(self.options.lifecycle_consts.get("proc_base", 1))
        if proc_base <= self.options.heatmap_procs:
            return proc_base, proc_base
        return proc_base, self.options.heatmap_procs // 2  # a scope's: half each

    def _heatmap_row(self, proc: int) -> int | None:
        proc_base, kernel_row = self._heatmap_split()
        row = proc if proc < proc_base else proc - proc_base + kernel_row
        return row if row < self.options.heatmap_procs and (
            proc >= proc_base or row < kernel_row) else None

    def _load_layer(self, layer: LibraryLayer, lifecycle: BpfObject) -> BpfObject | None:
        """A layer's object shares the process maps; its uprobes are attached
        per process later (library_probes.py).  None if the kernel refuses it."""
        def configure(obj: BpfObject) -> None:
            for name in SHARED_MAPS:
                obj.share_map(name, lifecycle)
            layer.configure(obj)
            set_consts(obj, self._consts())
            obj.use_uprobe_multi()

        try:
            return self._load(layer.bpf_object.removesuffix(".bpf.o"), configure,
                              variants=("",))
        except BpfError as e:
            self.off.append(PartOff(layer.name, f"the {layer.description}", e.describe()))
            return None

    def collect_layers(self) -> list[LayerResult]:
        """After the run, before closing: every layer's records."""
        return [layer.result(tuple(map_dump(obj.map_fd(m.name), m.key, m.value, m.capacity)
                                   for m in layer.record_maps))
                for layer, obj in self.layers]

    def take_layers(self, procs: np.ndarray) -> list[tuple[LibraryLayer, Tables]]:
        """The library-layer records of ended processes, taken out of the
        kernel with what else they left there (handles, named marks)."""
        out = []
        for layer, obj in self.layers:
            out.append((layer, tuple(_take_entries(obj.map_fd(m.name), m, procs)
                                     for m in layer.record_maps)))
            for m in layer.process_maps:
                _take_entries(obj.map_fd(m.name), m, procs)
        _take_entries(self._named_fd, NAMED_MARKS, procs)
        return out

    def trace_process(self, pid: int, proc: int) -> None:
        """Trace pid (and, from now on, everything it starts) as proc."""
        self._set_task(task_key(pid), proc, 0, BPF_ANY)

    def trace_thread(self, tid: int, proc: int) -> bool:
        """Trace one running thread as part of proc, which joins mid-life
        (L.TASK_JOINED), unless it is traced already; False if it is gone
        or was traced."""
        try:
            key = task_key(tid, thread=True)
        except OSError:
            return False
        try:
            self._set_task(key, proc, L.TASK_JOINED, BPF_NOEXIST)
        except BpfError:
            return False
        return True

    def _set_task(self, key: np.ndarray, proc: int, task_flags: int, flags: int) -> None:
        state = np.zeros(1, dtype=L.task_state)
        state["proc"] = proc
        state["flags"] = task_flags
        try:
            map_update(self._tasks_fd, key, state, flags)
        finally:
            os.close(int(key[0]))

    def start_clock(self, ktime_ns: int) -> None:
        """Heatmap bins count from ktime_ns (bpf_ktime_get_ns time)."""
        map_update(self._clock_fd, np.zeros(1, dtype=np.uint32),
                   np.array([ktime_ns], dtype=np.uint64))

    def job_clock(self) -> int:
        """The heatmaps' origin (bpf_ktime_get_ns time), 0 if not started."""
        return int(_array_values(self._clock_fd, 1)[0])

    def accept(self, key: np.void) -> None:
        """The record's name is not excluded: its bytes may enter the heatmap."""
        self._set_flags(key, L.RECORD_NAMED)

    def accept_layer(self, key: np.void) -> None:
        """A library layer's record is not excluded: its bytes may enter the
        heatmap.  Full map: they reach it through user space instead."""
        with contextlib.suppress(BpfError):
            map_update(self._named_fd, np.array([key], dtype=L.file_key),
                       np.ones(1, dtype=np.uint8), BPF_ANY)

    def library_probed(self, dev: int, ino: int) -> None:
        """The library file's probes now fire in every process: mapping it
        needs no hold (TracerOptions.probes_shared)."""
        key = np.zeros(1, dtype=L.file_key)
        key["dev"], key["ino"] = dev, ino
        map_update(self._probed_fd, key, np.ones(1, dtype=np.uint8), BPF_ANY)

    def poll(self, timeout_ms: int) -> list[bytes]:
        assert self._events is not None
        return self._events.poll(timeout_ms)

    def _set_flags(self, key: np.void, flags: int) -> None:
        try:
            slot = map_lookup(self._index_fd, np.array([key], dtype=L.file_key),
                              np.dtype(np.uint32))
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return  # taken already (the node daemon): its process has ended
            raise
        assert self._records is not None
        # One word, which the BPF side only reads.
        self._records.array["flags"][int(slot[0])] = flags

    def exclude(self, key: np.void) -> None:
        """Stop counting a record whose name is excluded."""
        self._set_flags(key, L.RECORD_EXCLUDED)

    def records(self) -> tuple[np.ndarray, np.ndarray]:
        """Every record's key and a copy of its counters."""
        keys, slots = map_dump(self._index_fd, L.file_key, np.dtype(np.uint32),
                               self.options.max_records)
        assert self._records is not None
        return keys, self._records.array[slots]

    def take_records(self, procs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The records of ended processes, taken out of the maps: their index
        entries are deleted and their slots zeroed and given back for new
        records.  Only for processes with no thread left, so that nothing
        touches these slots any more (a thread's cached last slot dies with
        it)."""
        keys, slots = map_dump(self._index_fd, L.file_key, np.dtype(np.uint32),
                               self.options.max_records)
        mine = np.isin(keys["proc"], procs)
        keys, slots = keys[mine], slots[mine]
        assert self._records is not None
        values = self._records.array[slots]
        map_delete(self._index_fd, keys)
        self._records.array[slots] = np.zeros(1, dtype=L.posix_record)
        queue_push(self._free_fd, slots)
        return keys, values

    def record_count(self) -> int:
        """Records in use: the fill of the maps."""
        keys, _ = map_dump(self._index_fd, L.file_key, np.dtype(np.uint32),
                           self.options.max_records)
        return len(keys)

    def timelines(self, procs: list[int]) -> KernelTimelines:
        """Segments drained so far and the heatmap rows of procs."""
        assert self._events is not None
        segments, over_trace, over_pending = self._events.segments(L.io_segment)
        rows = {proc: self._read_row(row) for proc in procs
                if (row := self._heatmap_row(proc)) is not None}
        return KernelTimelines(segments, over_trace, over_pending, rows)

    def _row_ids(self, row: int) -> np.ndarray:
        return np.arange(row * L.HEATMAP_APIS, (row + 1) * L.HEATMAP_APIS, dtype=np.uint32)

    def _read_row(self, row: int) -> np.ndarray:
        """A process's heatmap row of every API."""
        return np.concatenate([map_lookup(self._heatmaps_fd, np.array([i], dtype=np.uint32),
                                          L.heatmap_row) for i in self._row_ids(row)])

    def take_segments(self) -> tuple[np.ndarray, int, int]:
        """The segments drained since the last call, and how many were
        beyond the bound (a recorder that keeps no trace: pending heatmap
        segments, taken as they come)."""
        assert self._events is not None
        return self._events.take_segments(L.io_segment)

    def own_heatmaps(self, procs: list[int], take: bool) -> dict[int, OwnHeatmap]:
        """The heatmaps of procs under own_heatmap_clocks.  take: the
        processes have ended; their entries go, and their rows are zeroed
        and lent again."""
        out = {}
        for proc in procs:
            key = np.array([proc], dtype=np.uint32)
            try:
                entry = map_lookup(self._proc_heatmaps_fd, key, L.proc_heatmap)[0]
            except BpfError as e:
                if e.errno == errno.ENOENT:
                    continue
                raise
            row = int(entry["row"])
            rows = None if row == L.NO_HEATMAP_ROW else self._read_row(row)
            if take:
                if rows is not None:
                    empty = np.zeros(1, dtype=L.heatmap_row)
                    for i in self._row_ids(row):
                        map_update(self._heatmaps_fd, np.array([i], dtype=np.uint32), empty,
                                   BPF_ANY)
                    queue_push(self._free_rows_fd, np.array([row], dtype=np.uint32))
                map_delete(self._proc_heatmaps_fd, key)
            out[proc] = OwnHeatmap(int(entry["origin"]), rows)
        return out

    def heatmap_procs(self) -> set[int]:
        """The processes with an own heatmap clock."""
        keys, _ = map_dump(self._proc_heatmaps_fd, np.dtype(np.uint32), L.proc_heatmap,
                           PROC_HEATMAPS_MAX)
        return set(keys.tolist())

    def health(self) -> np.ndarray:
        return _array_values(self._health_fd, L.H_NUM_SLOTS)

    def extras(self) -> dict[str, int]:
        """Totals of the calls Darshan has no counter for."""
        values = _array_values(self._extras_fd, len(L.EXTRA_KEYS))
        return {key: int(v) for key, v in zip(L.EXTRA_KEYS, values, strict=True)}

    def close(self) -> None:
        if self._records is not None:
            self._records.close()
            self._records = None
        if self._events is not None:
            self._events.close()
            self._events = None
        for obj in reversed(self._objects):
            obj.close()
        self._objects.clear()
