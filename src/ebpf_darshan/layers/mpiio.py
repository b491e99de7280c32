"""The MPI-IO layer: uprobes on the MPI library's MPI_File_* functions
(bpf/mpiio.bpf.c), written as Darshan's MPI-IO module."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from .. import bpf_layout as L
from ..binding import BpfObject, function_offsets
from ..darshan import modules as M, record_id
from ..posix_records import kernel_times, top_values
from . import open_merge
from .base import KernelMap, LayerRecords, LayerResult, LibraryLayer, Probe, Tables

if TYPE_CHECKING:
    from ..recorder import Recording

MPIIO = "MPI-IO"
C = {name: i for i, name in enumerate(M.counter_names(MPIIO))}
DTYPE = M.record_dtype(MPIIO)
MAX_RECORDS = 4096
TOP = 4
# A function only Open MPI defines: its handles are pointers to objects.
OPENMPI_MARKER = "ompi_file_open"
# Byte offsets in Open MPI 3.x-4.x objects (non-debug builds): the size of
# a datatype (opal_datatype_t.size), a communicator's group
# (ompi_communicator_t.c_local_group) and its size (ompi_group_t.
# grp_proc_count), an info object's Fortran index (0 is MPI_INFO_NULL).
OPENMPI_LAYOUT = {
    "ompi_datatype_size_offset": 24,
    "ompi_comm_local_group_offset": 248,
    "ompi_group_size_offset": 16,
    "ompi_info_f2c_offset": 72,
}


def _probe(function: str, op: int, flags: int = 0, counter: int = 0) -> Probe:
    return Probe(function, "mpiio_enter", "mpiio_exit",
                 op | counter << L.MIO_COUNTER_SHIFT | flags)


def _both(name: str, op: int, flags: int = 0, counter: int = 0) -> tuple[Probe, ...]:
    """MPI_x and PMPI_x: one address where MPI_x is a weak alias (Open MPI,
    MPICH by default), two functions otherwise (the outer call counts)."""
    return (_probe(f"MPI_{name}", op, flags, counter), _probe(f"PMPI_{name}", op, flags, counter))


def _accesses(op: int, counter: str, *names: str) -> tuple[Probe, ...]:
    """Read or write functions incrementing `counter`, with their MPI 4
    large-count `_c` variants; names ending in `_at...` take an offset."""
    probes: tuple[Probe, ...] = ()
    for name in names:
        at = L.MIO_AT if "_at" in name else 0
        probes += _both(f"File_{name}", op, at, C[counter])
        probes += _both(f"File_{name}_c", op, at | L.MIO_LARGE_COUNT, C[counter])
    return probes


# Every function Darshan wraps (the split *_end halves are not counted by
# Darshan either), plus set_size and preallocate, whose time is meta time.
PROBES: tuple[Probe, ...] = (
    _both("File_open", L.MIO_OPEN) + _both("File_close", L.MIO_CLOSE)
    + _both("File_sync", L.MIO_SYNC) + _both("File_set_view", L.MIO_SET_VIEW)
    + _both("File_set_size", L.MIO_RESIZE) + _both("File_preallocate", L.MIO_RESIZE)
    + _accesses(L.MIO_READ, "MPIIO_INDEP_READS", "read", "read_at", "read_shared")
    + _accesses(L.MIO_WRITE, "MPIIO_INDEP_WRITES", "write", "write_at", "write_shared")
    + _accesses(L.MIO_READ, "MPIIO_COLL_READS", "read_all", "read_at_all", "read_ordered")
    + _accesses(L.MIO_WRITE, "MPIIO_COLL_WRITES", "write_all", "write_at_all", "write_ordered")
    + _accesses(L.MIO_READ, "MPIIO_SPLIT_READS", "read_all_begin", "read_at_all_begin",
                "read_ordered_begin")
    + _accesses(L.MIO_WRITE, "MPIIO_SPLIT_WRITES", "write_all_begin", "write_at_all_begin",
                "write_ordered_begin")
    + _accesses(L.MIO_READ, "MPIIO_NB_READS", "iread", "iread_all", "iread_at", "iread_at_all",
                "iread_shared")
    + _accesses(L.MIO_WRITE, "MPIIO_NB_WRITES", "iwrite", "iwrite_all", "iwrite_at",
                "iwrite_at_all", "iwrite_shared")
)


class MpiioLayer(LibraryLayer):
    name = "mpiio"
    layer_id = L.LAYER_MPIIO
    bpf_object = "mpiio.bpf.o"
    hold_prefix = "libmpi"
    # Open MPI's libmpi.so.40, MPICH's libmpi.so.12 or libmpich.so.12
    library = re.compile(r"libmpi(ch)?\.so(\.[0-9]+)*")
    probes = PROBES
    description = "MPI-IO module: MPI_File_* through uprobes on libmpi"

    def library_cookie(self, path: str) -> int:
        openmpi = function_offsets(path, [OPENMPI_MARKER])
        return (L.ABI_OPENMPI if openmpi else L.ABI_MPICH) << L.MIO_ABI_SHIFT

    record_maps = (KernelMap("mpiio_records", L.file_key, L.mpiio_record, MAX_RECORDS),)
    process_maps = (KernelMap("mpiio_handles", L.mpiio_handle_key, np.dtype(np.uint64),
                              MAX_RECORDS),)

    def configure(self, obj: BpfObject) -> None:
        super().configure(obj)
        for name, offset in OPENMPI_LAYOUT.items():
            obj.set_const(name, np.uint32(offset))

    def result(self, tables: Tables) -> MpiioResult:
        return MpiioResult(*tables[0])


class MpiioResult(LayerResult):
    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys = keys
        self.values = values

    def procs(self) -> set[int]:
        return {int(p) for p in self.keys["proc"]}

    def records(self, rec: Recording, rank_of: dict[int, int]) -> LayerRecords:
        out = LayerRecords()
        names = rec.layer_names.get(L.LAYER_MPIIO, {})
        groups: dict[tuple[int, str], list[int]] = {}
        unnamed = 0
        for i, key in enumerate(self.keys):
            name = names.get((int(key["proc"]), int(key["dev"]), int(key["ino"])))
            if name is None:
                unnamed += 1
            elif not rec.path_filter.excluded(name):
                groups.setdefault((int(key["proc"]), name), []).append(i)
        rows = []
        owners = out.owners.setdefault(L.DARSHAN_MPIIO_MOD, {})
        for (proc, name), index in groups.items():
            row = to_darshan(open_merge.open_order(self.values[index]), rec.start_ktime)
            row["id"] = record_id(name)
            row["rank"] = rank_of[proc]
            rows.append(row)
            out.names[int(row["id"])] = name
            for key in self.keys[index]:
                owners[(proc, int(key["dev"]), int(key["ino"]))] = (rank_of[proc], name)
        if rows:
            out.modules[MPIIO] = np.array(rows, dtype=DTYPE)
        out.lost["lost_mpiio_names"] = unnamed
        out.lost["mpiio_unknown_datatype_sizes"] = int(self.values["unknown_sizes"].sum())
        return out


def to_darshan(values: np.ndarray, start_ktime: int) -> np.void:
    """One Darshan MPI-IO record from the kernel records of one name in one
    process, in open order."""
    row: np.void = np.zeros(1, dtype=DTYPE)[0]
    counters = values["counters"].sum(axis=0)
    counters[C["MPIIO_MODE"]] = values["counters"][-1, C["MPIIO_MODE"]]  # the latest open's
    counters[C["MPIIO_RW_SWITCHES"]] += open_merge.switches_between(values)
    for size, which in (("MPIIO_MAX_READ_TIME_SIZE", open_merge.MAX_READ_TIME),
                        ("MPIIO_MAX_WRITE_TIME_SIZE", open_merge.MAX_WRITE_TIME)):
        counters[C[size]] = values["counters"][open_merge.slowest(values, which), C[size]]
    row["counters"][:L.MPIIO_KERNEL_COUNTERS] = counters
    top_v, top_c = top_values(*(a[None, :] for a in open_merge.merged_table(values)))
    first = C["MPIIO_ACCESS1_ACCESS"]
    row["counters"][first:first + TOP] = top_v[0]
    row["counters"][first + TOP:first + 2 * TOP] = top_c[0]
    row["fcounters"][:L.T_NUM_TIMES] = kernel_times(open_merge.merged_times(values), start_ktime)
    return row
