"""The HDF5 layer: uprobes on libhdf5's H5F/H5D functions (bpf/hdf5.bpf.c),
written as Darshan's H5F and H5D modules.  Counters that only the library
could answer (selection and datatype sizes; the shapes of datasets opened
rather than created) are -1 (docs/counters.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import bpf_layout as L
from ..binding import function_offsets
from ..darshan import modules as M, record_id
from ..posix_records import kernel_times
from . import open_merge
from .base import KernelMap, LayerRecords, LayerResult, LibraryLayer, Probe, Tables

if TYPE_CHECKING:
    from ..recorder import Recording

H5F, H5D = "H5F", "H5D"
CF = {name: i for i, name in enumerate(M.counter_names(H5F))}
CD = {name: i for i, name in enumerate(M.counter_names(H5D))}
H5F_DTYPE = M.record_dtype(H5F)
H5D_DTYPE = M.record_dtype(H5D)
MAX_RECORDS = 4096
MAX_IDS = 16384  # groups, datasets, dataspaces and property lists open at once
NOT_KNOWN = -1
# Darshan's dataset names are "file:object path" cut to this many bytes.
NAME_MAX = 255
# A function only parallel builds define.
PARALLEL_MARKER = "H5Pset_fapl_mpio"
# H5D counters the calls show, summed over opens; the shape counters the
# creating call shows; every other one (except the rank counters of shared
# records) needs the library's answers.
H5D_KNOWN = {"H5D_OPENS": "opens", "H5D_READS": "reads", "H5D_WRITES": "writes",
             "H5D_FLUSHES": "flushes", "H5D_RW_SWITCHES": "rw_switches",
             "H5D_USE_DEPRECATED": "use_deprecated",
             "H5D_USE_MPIIO_COLLECTIVE": "use_mpiio_collective"}
H5D_SHAPE = ([CD["H5D_DATASPACE_NDIMS"], CD["H5D_DATASPACE_NPOINTS"]]
             + [CD[f"H5D_CHUNK_SIZE_D{d}"] for d in range(1, L.H5D_MAX_DIMS + 1)])
H5D_UNKNOWN = [i for name, i in CD.items()
               if name not in H5D_KNOWN and "_RANK" not in name and i not in H5D_SHAPE]
# enum h5f_time
H5F_STARTS, H5F_ENDS, H5F_META = [0, 1], [2, 3], 4


def _probes(op: int, *functions: str) -> tuple[Probe, ...]:
    return tuple(Probe(f, "h5_enter", "h5_exit", op) for f in functions)


PROBES: tuple[Probe, ...] = (
    _probes(L.H5_FILE_CREATE, "H5Fcreate") + _probes(L.H5_FILE_OPEN, "H5Fopen")
    + _probes(L.H5_FILE_FLUSH, "H5Fflush") + _probes(L.H5_FILE_CLOSE, "H5Fclose")
    + _probes(L.H5_GROUP_OPEN, "H5Gcreate2", "H5Gopen2", "H5Gcreate1", "H5Gopen1")
    + _probes(L.H5_DSET_OPEN, "H5Dopen2") + _probes(L.H5_DSET_OPEN | L.H5_CREATE, "H5Dcreate2")
    + _probes(L.H5_DSET_OPEN | L.H5_DEPRECATED, "H5Dopen1")
    + _probes(L.H5_DSET_OPEN | L.H5_DEPRECATED | L.H5_CREATE, "H5Dcreate1")
    + _probes(L.H5_OBJECT_OPEN, "H5Oopen")
    + _probes(L.H5_DSET_READ, "H5Dread") + _probes(L.H5_DSET_WRITE, "H5Dwrite")
    + _probes(L.H5_DSET_FLUSH, "H5Dflush")
    + _probes(L.H5_OBJECT_CLOSE, "H5Dclose", "H5Gclose", "H5Oclose", "H5Sclose", "H5Pclose")
    + _probes(L.H5_SPACE_CREATE, "H5Screate_simple") + _probes(L.H5_PLIST_CREATE, "H5Pcreate")
    + _probes(L.H5_PLIST_COPY, "H5Pcopy") + _probes(L.H5_SET_CHUNK, "H5Pset_chunk")
    + _probes(L.H5_SET_LAYOUT, "H5Pset_layout") + _probes(L.H5_ID_RELEASE, "H5Idec_ref")
)


class Hdf5Layer(LibraryLayer):
    name = "hdf5"
    layer_id = L.LAYER_HDF5
    bpf_object = "hdf5.bpf.o"
    hold_prefix = "libhdf5"
    # Debian's libhdf5_serial.so.103 (or _openmpi, _mpich), a wheel's
    # libhdf5-<hash>.so.320; not the high-level, C++ or Fortran libraries
    library = re.compile(r"libhdf5(_serial|_openmpi|_mpich)?(-[0-9a-f]+)?\.so(\.[0-9]+)*")
    probes = PROBES
    description = "H5F and H5D modules: H5F*/H5D* through uprobes on libhdf5"

    def library_cookie(self, path: str) -> int:
        return L.H5_PARALLEL_LIB if function_offsets(path, [PARALLEL_MARKER]) else 0

    record_maps = (KernelMap("h5f_records", L.file_key, L.h5f_record, MAX_RECORDS),
                   KernelMap("h5d_records", L.file_key, L.h5d_record, MAX_RECORDS))
    process_maps = (KernelMap("h5_ids", L.h5_id_key, L.h5_object, MAX_IDS),
                    KernelMap("h5_shapes", L.h5_id_key, L.h5_shape, MAX_IDS))

    def result(self, tables: Tables) -> Hdf5Result:
        files, datasets = tables
        return Hdf5Result(files, datasets)


@dataclass(frozen=True)
class _Object:
    """A group or dataset opened at `loc` under `name` (as given)."""

    loc: int
    name: str


class _Names:
    """The names of one recording's HDF5 files, groups and datasets."""

    def __init__(self, rec: Recording):
        self.files: dict[tuple[int, int], str] = {}
        self.objects: dict[tuple[int, int], _Object] = {}
        for (proc, dev, ino), name in rec.layer_names.get(L.LAYER_HDF5, {}).items():
            if dev == L.H5F_DEV:
                self.files[(proc, ino)] = name
            else:
                # "/" + the name as given (hdf5_layer.h)
                self.objects[(proc, ino & L.H5_SERIAL_MASK)] = _Object(
                    ino >> L.H5_LOC_SHIFT, name[1:])

    def path_in_file(self, proc: int, serial: int) -> str | None:
        """What H5Iget_name gives for an object: "/" for a file, the
        normalized path a group was opened by."""
        if (proc, serial) in self.files:
            return "/"
        obj = self.objects.get((proc, serial))
        if obj is None:
            return None
        parent = "" if obj.name.startswith("/") else self.path_in_file(proc, obj.loc)
        if parent is None:
            return None
        parts = [p for p in f"{parent}/{obj.name}".split("/") if p]
        return "/" + "/".join(parts)

    def dataset(self, proc: int, serial: int, file_serial: int) -> tuple[str, str] | None:
        """(file name, dataset record name) as Darshan makes them: the file,
        ':', the path of the location, the dataset name as given."""
        obj = self.objects.get((proc, serial))
        file = self.files.get((proc, file_serial))
        if obj is None or file is None:
            return None
        loc = self.path_in_file(proc, obj.loc)
        if loc is None:
            return None
        name = f"{file}:{loc}{obj.name}".encode(errors="surrogateescape")[:NAME_MAX]
        return file, name.decode(errors="ignore")


class Hdf5Result(LayerResult):
    def __init__(self, files: tuple[np.ndarray, np.ndarray],
                 datasets: tuple[np.ndarray, np.ndarray]):
        self.files = files
        self.datasets = datasets

    def procs(self) -> set[int]:
        return {int(p) for p in np.concatenate([self.files[0]["proc"],
                                                self.datasets[0]["proc"]])}

    def records(self, rec: Recording, rank_of: dict[int, int]) -> LayerRecords:
        out = LayerRecords()
        names = _Names(rec)
        unnamed = 0
        file_groups: dict[tuple[int, str], list[int]] = {}
        for i, key in enumerate(self.files[0]):
            name = names.files.get((int(key["proc"]), int(key["ino"])))
            if name is None:
                unnamed += 1
            elif not rec.path_filter.excluded(name):
                file_groups.setdefault((int(key["proc"]), name), []).append(i)
        dset_groups: dict[tuple[int, str, str], list[int]] = {}
        for i, (key, value) in enumerate(zip(*self.datasets, strict=True)):
            named = names.dataset(int(key["proc"]), int(key["ino"]), int(value["file_serial"]))
            if named is None:
                unnamed += 1
            elif not rec.path_filter.excluded(named[0]):
                dset_groups.setdefault((int(key["proc"]), *named), []).append(i)
        rows = []
        for (proc, name), index in file_groups.items():
            rows.append(_h5f_row(open_merge.open_order(self.files[1][index]), rec.start_ktime))
            rows[-1]["id"], rows[-1]["rank"] = record_id(name), rank_of[proc]
            out.names[record_id(name)] = name
        if rows:
            out.modules[H5F] = np.array(rows, dtype=H5F_DTYPE)
        rows = []
        for (proc, file, name), index in dset_groups.items():
            rows.append(_h5d_row(open_merge.open_order(self.datasets[1][index]),
                                 rec.start_ktime))
            rows[-1]["id"], rows[-1]["rank"] = record_id(name), rank_of[proc]
            rows[-1]["file_rec_id"] = record_id(file)
            out.names[record_id(name)] = name
        if rows:
            out.modules[H5D] = np.array(rows, dtype=H5D_DTYPE)
        out.lost["lost_hdf5_names"] = unnamed
        return out


def _h5f_row(values: np.ndarray, start_ktime: int) -> np.void:
    row: np.void = np.zeros(1, dtype=H5F_DTYPE)[0]
    row["counters"][CF["H5F_OPENS"]] = values["opens"].sum()
    row["counters"][CF["H5F_FLUSHES"]] = values["flushes"].sum()
    row["counters"][CF["H5F_USE_MPIIO"]] = values["use_mpiio"][-1]  # the latest open's
    times = values["times"]
    stamps = times[:, H5F_STARTS + H5F_ENDS].astype(np.float64)
    stamps = np.where(stamps > 0, (stamps - start_ktime) / 1e9, 0.0)
    starts = np.where(stamps[:, :2] > 0, stamps[:, :2], np.inf).min(axis=0)
    row["fcounters"][H5F_STARTS] = np.where(np.isinf(starts), 0.0, starts)
    row["fcounters"][H5F_ENDS] = stamps[:, 2:].max(axis=0)
    row["fcounters"][H5F_META] = times[:, H5F_META].sum() / 1e9
    return row


def _h5d_row(values: np.ndarray, start_ktime: int) -> np.void:
    row: np.void = np.zeros(1, dtype=H5D_DTYPE)[0]
    row["counters"][H5D_UNKNOWN] = NOT_KNOWN
    for counter, field in H5D_KNOWN.items():
        row["counters"][CD[counter]] = values[field].sum()
    row["counters"][CD["H5D_RW_SWITCHES"]] += open_merge.switches_between(values)
    for counter in ("H5D_USE_DEPRECATED", "H5D_USE_MPIIO_COLLECTIVE"):
        row["counters"][CD[counter]] = values[H5D_KNOWN[counter]][-1]  # the latest open's
    shapes = np.column_stack([values["shape"]["ndims"], values["shape"]["npoints"],
                              values["shape"]["chunk"]])
    known = shapes[:, 0] != NOT_KNOWN  # the records of creates
    row["counters"][H5D_SHAPE] = shapes[known][0] if known.any() else NOT_KNOWN
    row["fcounters"][:L.T_NUM_TIMES] = kernel_times(open_merge.merged_times(values), start_ktime)
    return row
