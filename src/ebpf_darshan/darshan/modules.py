"""Darshan module ids, names, versions, counter names and record dtypes.

Everything here is defined once; the reader, writer, text output and the
collector all take their layouts from this module. Counter lists follow the
order of the on-disk arrays (format spec, section 3).
"""

from __future__ import annotations

import numpy as np

# Module ids of the 3.41 format, in id order; the index is the id.
MODULE_NAMES: tuple[str, ...] = (
    "NULL", "POSIX", "MPI-IO", "H5F", "H5D", "PNETCDF_FILE", "PNETCDF_VAR", "BG/Q",
    "LUSTRE", "STDIO", "DXT_POSIX", "DXT_MPIIO", "MDHIM", "APXC", "APMPI", "HEATMAP",
    "DFS", "DAOS",
)
MODULE_IDS: dict[str, int] = {name: i for i, name in enumerate(MODULE_NAMES)}
MAX_MODULES = 64

# Newest record version of each module this package can read.
CURRENT_VERSIONS: dict[str, int] = {
    "POSIX": 4, "MPI-IO": 3, "H5F": 3, "H5D": 2, "PNETCDF_FILE": 3, "PNETCDF_VAR": 1,
    "LUSTRE": 2, "STDIO": 2, "DXT_POSIX": 2, "DXT_MPIIO": 3, "HEATMAP": 1,
}
# Versions the writer declares: DXT keeps the 32-byte segment layout that the
# released 3.5.0 tools read (spec 1.8); everything else is current.
WRITE_VERSIONS: dict[str, int] = {**CURRENT_VERSIONS, "DXT_POSIX": 1, "DXT_MPIIO": 2}

HEATMAP_APIS = ("POSIX", "STDIO", "MPIIO", "DFS", "DAOS")

_SIZE_BINS = ("0_100", "100_1K", "1K_10K", "10K_100K", "100K_1M", "1M_4M", "4M_10M",
              "10M_100M", "100M_1G", "1G_PLUS")
_DIMS = ("D1", "D2", "D3", "D4", "D5")
_TOP = (1, 2, 3, 4)


def _size_histograms(prefix: str, agg: str = "") -> list[str]:
    """`P_SIZE_READ_0_100 ...` (agg="_AGG": `P_SIZE_READ_AGG_0_100 ...`), reads then writes."""
    return [f"{prefix}_SIZE_{op}{agg}_{b}" for op in ("READ", "WRITE") for b in _SIZE_BINS]


def _top4(prefix: str, kind: str) -> list[str]:
    """`P_ACCESS1_ACCESS..4` then `P_ACCESS1_COUNT..4` (kind ACCESS or STRIDE)."""
    return ([f"{prefix}_{kind}{n}_{kind}" for n in _TOP]
            + [f"{prefix}_{kind}{n}_COUNT" for n in _TOP])


def _top4_shaped(prefix: str) -> list[str]:
    """H5D/PNETCDF_VAR access tuples: size, five lengths, five strides, x4, then counts."""
    names = []
    for n in _TOP:
        names.append(f"{prefix}_ACCESS{n}_ACCESS")
        names += [f"{prefix}_ACCESS{n}_LENGTH_{d}" for d in _DIMS]
        names += [f"{prefix}_ACCESS{n}_STRIDE_{d}" for d in _DIMS]
    return names + [f"{prefix}_ACCESS{n}_COUNT" for n in _TOP]


def _rank_counters(prefix: str) -> list[str]:
    return [f"{prefix}_FASTEST_RANK", f"{prefix}_FASTEST_RANK_BYTES",
            f"{prefix}_SLOWEST_RANK", f"{prefix}_SLOWEST_RANK_BYTES"]


def _io_fcounters(prefix: str) -> list[str]:
    """The 17 float counters shared by POSIX, MPI-IO, H5D and PNETCDF_VAR."""
    stamps = [f"{prefix}_F_{op}_{edge}_TIMESTAMP" for edge in ("START", "END")
              for op in ("OPEN", "READ", "WRITE", "CLOSE")]
    times = [f"{prefix}_F_{t}" for t in ("READ_TIME", "WRITE_TIME", "META_TIME",
                                        "MAX_READ_TIME", "MAX_WRITE_TIME",
                                        "FASTEST_RANK_TIME", "SLOWEST_RANK_TIME",
                                        "VARIANCE_RANK_TIME", "VARIANCE_RANK_BYTES")]
    return stamps + times


def _prefixed(prefix: str, names: str) -> list[str]:
    return [f"{prefix}_{n}" for n in names.split()]


_POSIX = (
    _prefixed("POSIX", "OPENS FILENOS DUPS READS WRITES SEEKS STATS MMAPS FSYNCS FDSYNCS "
                       "RENAME_SOURCES RENAME_TARGETS RENAMED_FROM MODE BYTES_READ "
                       "BYTES_WRITTEN MAX_BYTE_READ MAX_BYTE_WRITTEN CONSEC_READS CONSEC_WRITES "
                       "SEQ_READS SEQ_WRITES RW_SWITCHES MEM_NOT_ALIGNED MEM_ALIGNMENT "
                       "FILE_NOT_ALIGNED FILE_ALIGNMENT MAX_READ_TIME_SIZE MAX_WRITE_TIME_SIZE")
    + _size_histograms("POSIX") + _top4("POSIX", "STRIDE") + _top4("POSIX", "ACCESS")
    + _rank_counters("POSIX"))

_MPIIO = (
    _prefixed("MPIIO", "INDEP_OPENS COLL_OPENS INDEP_READS INDEP_WRITES COLL_READS "
                       "COLL_WRITES SPLIT_READS SPLIT_WRITES NB_READS NB_WRITES SYNCS HINTS "
                       "VIEWS MODE BYTES_READ BYTES_WRITTEN RW_SWITCHES MAX_READ_TIME_SIZE "
                       "MAX_WRITE_TIME_SIZE")
    + _size_histograms("MPIIO", "_AGG") + _top4("MPIIO", "ACCESS") + _rank_counters("MPIIO"))

_STDIO = (
    _prefixed("STDIO", "OPENS FDOPENS READS WRITES SEEKS FLUSHES BYTES_WRITTEN BYTES_READ "
                       "MAX_BYTE_READ MAX_BYTE_WRITTEN")
    + _rank_counters("STDIO"))
_STDIO_F = _prefixed(
    "STDIO_F", "META_TIME WRITE_TIME READ_TIME OPEN_START_TIMESTAMP CLOSE_START_TIMESTAMP "
               "WRITE_START_TIMESTAMP READ_START_TIMESTAMP OPEN_END_TIMESTAMP "
               "CLOSE_END_TIMESTAMP WRITE_END_TIMESTAMP READ_END_TIMESTAMP FASTEST_RANK_TIME "
               "SLOWEST_RANK_TIME VARIANCE_RANK_TIME VARIANCE_RANK_BYTES")

_H5F = _prefixed("H5F", "OPENS FLUSHES USE_MPIIO")
_H5F_F = _prefixed("H5F_F", "OPEN_START_TIMESTAMP CLOSE_START_TIMESTAMP OPEN_END_TIMESTAMP "
                            "CLOSE_END_TIMESTAMP META_TIME")


_H5D = (
    _prefixed("H5D", "OPENS READS WRITES FLUSHES BYTES_READ BYTES_WRITTEN RW_SWITCHES "
                     "REGULAR_HYPERSLAB_SELECTS IRREGULAR_HYPERSLAB_SELECTS POINT_SELECTS "
                     "MAX_READ_TIME_SIZE MAX_WRITE_TIME_SIZE")
    + _size_histograms("H5D", "_AGG") + _top4_shaped("H5D")
    + _prefixed("H5D", "DATASPACE_NDIMS DATASPACE_NPOINTS DATATYPE_SIZE")
    + [f"H5D_CHUNK_SIZE_{d}" for d in _DIMS]
    + _prefixed("H5D", "USE_MPIIO_COLLECTIVE USE_DEPRECATED") + _rank_counters("H5D"))

_PNETCDF_FILE = _prefixed(
    "PNETCDF_FILE", "CREATES OPENS REDEFS INDEP_WAITS COLL_WAITS SYNCS BYTES_READ "
                    "BYTES_WRITTEN WAIT_FAILURES")
_PNETCDF_FILE_F = _prefixed(
    "PNETCDF_FILE_F", "OPEN_START_TIMESTAMP CLOSE_START_TIMESTAMP WAIT_START_TIMESTAMP "
                      "OPEN_END_TIMESTAMP CLOSE_END_TIMESTAMP WAIT_END_TIMESTAMP META_TIME "
                      "WAIT_TIME")

_VAR_KINDS = ("VAR", "VAR1", "VARA", "VARS", "VARM", "VARN")
_PNETCDF_VAR = (
    _prefixed("PNETCDF_VAR", "OPENS INDEP_READS INDEP_WRITES COLL_READS COLL_WRITES NB_READS "
                             "NB_WRITES BYTES_READ BYTES_WRITTEN RW_SWITCHES")
    + [f"PNETCDF_VAR_PUT_{k}" for k in (*_VAR_KINDS, "VARD")]
    + [f"PNETCDF_VAR_GET_{k}" for k in (*_VAR_KINDS, "VARD")]
    + [f"PNETCDF_VAR_{api}_{k}" for api in ("IPUT", "IGET", "BPUT") for k in _VAR_KINDS]
    + _prefixed("PNETCDF_VAR", "MAX_READ_TIME_SIZE MAX_WRITE_TIME_SIZE")
    + _size_histograms("PNETCDF_VAR", "_AGG") + _top4_shaped("PNETCDF_VAR")
    + _prefixed("PNETCDF_VAR", "NDIMS NPOINTS DATATYPE_SIZE IS_RECORD_VAR")
    + _rank_counters("PNETCDF_VAR"))

LUSTRE_COMP_COUNTERS: list[str] = _prefixed(
    "LUSTRE_COMP", "STRIPE_SIZE STRIPE_COUNT STRIPE_PATTERN FLAGS EXT_START EXT_END MIRROR_ID")

_COUNTERS: dict[str, tuple[list[str], list[str]]] = {
    "POSIX": (_POSIX, _io_fcounters("POSIX")),
    "MPI-IO": (_MPIIO, _io_fcounters("MPIIO")),
    "H5F": (_H5F, _H5F_F),
    "H5D": (_H5D, _io_fcounters("H5D")),
    "PNETCDF_FILE": (_PNETCDF_FILE, _PNETCDF_FILE_F),
    "PNETCDF_VAR": (_PNETCDF_VAR, _io_fcounters("PNETCDF_VAR")),
    "STDIO": (_STDIO, _STDIO_F),
}

# Modules whose records are one fixed-size struct, in module id order.
FIXED_MODULES: tuple[str, ...] = tuple(n for n in MODULE_NAMES if n in _COUNTERS)
# Fixed modules whose record carries the id of the file record after the rank.
WITH_FILE_REC_ID: frozenset[str] = frozenset({"H5D", "PNETCDF_VAR"})
# Integer counters that hold record ids and print as unsigned.
UNSIGNED_COUNTERS: frozenset[str] = frozenset({"POSIX_RENAMED_FROM"})


def counter_names(module: str) -> list[str]:
    """Integer counter names of a fixed-size module, in on-disk order."""
    return list(_COUNTERS[module][0])


def fcounter_names(module: str) -> list[str]:
    """Floating point counter names of a fixed-size module, in on-disk order."""
    return list(_COUNTERS[module][1])


_INDEX: dict[str, dict[str, int]] = {
    module: {**{n: i for i, n in enumerate(ints)}, **{n: i for i, n in enumerate(floats)}}
    for module, (ints, floats) in _COUNTERS.items()
}


def counter_index(module: str, counter: str) -> int:
    """Index of `counter` in its module's `counters` or `fcounters` array
    (float counter names all contain `_F_`, so one name space suffices)."""
    try:
        return _INDEX[module][counter]
    except KeyError:
        raise KeyError(f"{module} has no counter {counter}") from None


def record_dtype(module: str, counters: int | None = None, fcounters: int | None = None,
                 file_rec_id: bool | None = None, byteorder: str = "<") -> np.dtype:
    """numpy dtype of one record of a fixed-size module.

    Without the optional arguments this is the current on-disk layout; the
    reader passes other counts to describe older record versions.
    """
    ints, floats = _COUNTERS[module]
    has_file = module in WITH_FILE_REC_ID if file_rec_id is None else file_rec_id
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = [
        ("id", f"{byteorder}u8"), ("rank", f"{byteorder}i8")]
    if has_file:
        fields.append(("file_rec_id", f"{byteorder}u8"))
    n_ints = len(ints) if counters is None else counters
    n_floats = len(floats) if fcounters is None else fcounters
    fields += [("counters", f"{byteorder}i8", (n_ints,)),
               ("fcounters", f"{byteorder}f8", (n_floats,))]
    return np.dtype(fields)


def field_names(dtype: np.dtype) -> tuple[str, ...]:
    """The fields of a structured dtype (numpy has None for other dtypes)."""
    if dtype.names is None:
        raise TypeError(f"{dtype} is not a structured dtype")
    return dtype.names


def field_offset(dtype: np.dtype, field: str) -> int:
    """Where a field of a structured dtype begins, in bytes."""
    if dtype.fields is None:
        raise TypeError(f"{dtype} is not a structured dtype")
    return dtype.fields[field][1]


# One DXT segment as this package keeps it; pthread_id is 0 for the 32-byte
# on-disk layout (DXT_POSIX 1, DXT_MPIIO 1 and 2), which has no thread id.
DXT_SEGMENT = np.dtype([("offset", "<i8"), ("length", "<i8"), ("start_time", "<f8"),
                        ("end_time", "<f8"), ("pthread_id", "<u8")])
DXT_HOSTNAME_LEN = 64
LUSTRE_POOL_NAME_LEN = 16


# --- on-disk layouts of the header, the job struct and variable-size records ---

MAGIC = 6567223
COMPRESSIONS = ("ZLIB", "BZIP2", "NONE")  # header comp_type 0, 1, 2

HEADER = np.dtype([("version", "S8"), ("magic", "<i8"), ("comp_type", "u1"), ("pad", "V7"),
                   ("partial_flag", "<u8"), ("name_map", "<u8", (2,)),
                   ("mod_map", "<u8", (MAX_MODULES, 2)), ("mod_ver", "<u4", (MAX_MODULES,))])
# Logs before 3.41: 16 module slots and a 32-bit partial flag.
OLD_MODULE_SLOTS = 16
HEADER_OLD = np.dtype([("version", "S8"), ("magic", "<i8"), ("comp_type", "u1"), ("pad", "V3"),
                       ("partial_flag", "<u4"), ("name_map", "<u8", (2,)),
                       ("mod_map", "<u8", (OLD_MODULE_SLOTS, 2)),
                       ("mod_ver", "<u4", (OLD_MODULE_SLOTS,))])

METADATA_LEN = 1024
JOB = np.dtype([("uid", "<i8"), ("start_time_sec", "<i8"), ("start_time_nsec", "<i8"),
                ("end_time_sec", "<i8"), ("end_time_nsec", "<i8"), ("nprocs", "<i8"),
                ("jobid", "<i8"), ("metadata", f"V{METADATA_LEN}")])
JOB_OLD = np.dtype([("uid", "<i8"), ("start_time_sec", "<i8"), ("end_time_sec", "<i8"),
                    ("nprocs", "<i8"), ("jobid", "<i8"), ("metadata", f"V{METADATA_LEN}")])
JOB_REGION_MAX = 4096  # job struct + exe/mount string + NUL, decompressed
EXE_MOUNT_MAX = JOB_REGION_MAX - JOB.itemsize - 1  # 3015 characters

HEATMAP_HEAD = np.dtype([("id", "<u8"), ("rank", "<i8"), ("bin_width", "<f8"),
                         ("nbins", "<i8"), ("unused", "V16")])
DXT_HEAD = np.dtype([("id", "<u8"), ("rank", "<i8"), ("shared_record", "<i8"),
                     ("hostname", f"V{DXT_HOSTNAME_LEN}"), ("write_count", "<i8"),
                     ("read_count", "<i8")])
DXT_SEGMENT_32 = np.dtype([("offset", "<i8"), ("length", "<i8"), ("start_time", "<f8"),
                           ("end_time", "<f8")])
DXT_SEGMENT_40 = np.dtype([*DXT_SEGMENT_32.descr, ("pthread_id", "<u8")])
LUSTRE_HEAD = np.dtype([("id", "<u8"), ("rank", "<i8"), ("num_comps", "<i8"),
                        ("num_stripes", "<i8")])
LUSTRE_HEAD_V1 = np.dtype([("id", "<u8"), ("rank", "<i8"), ("unused", "<i8", (3,)),
                           ("stripe_size", "<i8"), ("stripe_count", "<i8")])
LUSTRE_COMPONENT = np.dtype([("counters", "<i8", (len(LUSTRE_COMP_COUNTERS),)),
                             ("pool_name", f"V{LUSTRE_POOL_NAME_LEN}")])
