"""Kernel POSIX records (bpf_layout.posix_record) to Darshan POSIX records,
and the reduction of several Darshan records of one file into one."""

from __future__ import annotations

import numpy as np

from . import bpf_layout as L
from .darshan import modules as M

POSIX = "POSIX"
C = {name: i for i, name in enumerate(M.counter_names(POSIX))}
F = {name: i for i, name in enumerate(M.fcounter_names(POSIX))}
DTYPE = M.record_dtype(POSIX)

TOP = 4
ACCESS = C["POSIX_ACCESS1_ACCESS"]
ACCESS_COUNT = C["POSIX_ACCESS1_COUNT"]
STRIDE = C["POSIX_STRIDE1_STRIDE"]
STRIDE_COUNT = C["POSIX_STRIDE1_COUNT"]
NS_PER_S = 1e9

# fileno() makes no system call: it is only seen by the STDIO layer's
# uprobes, so at the syscall level POSIX_FILENOS is "not monitored".
NOT_MONITORED = -1
FILENOS = C["POSIX_FILENOS"]
# Darshan's reductions force negative sums of counters 0..11 to -1.
OPERATION_COUNTERS = slice(0, C["POSIX_RENAMED_FROM"])

# Counters combined by max, or taken from one input, when records of one
# file are reduced; everything else among the integer counters is summed.
MAX_COUNTERS = [C["POSIX_MAX_BYTE_READ"], C["POSIX_MAX_BYTE_WRITTEN"]]
ONE_INPUT_COUNTERS = [C["POSIX_MODE"], C["POSIX_MEM_ALIGNMENT"], C["POSIX_FILE_ALIGNMENT"],
                      C["POSIX_RENAMED_FROM"]]
RANK_COUNTERS = [C["POSIX_FASTEST_RANK"], C["POSIX_FASTEST_RANK_BYTES"],
                 C["POSIX_SLOWEST_RANK"], C["POSIX_SLOWEST_RANK_BYTES"]]
START_TIMES = [F["POSIX_F_OPEN_START_TIMESTAMP"], F["POSIX_F_READ_START_TIMESTAMP"],
               F["POSIX_F_WRITE_START_TIMESTAMP"], F["POSIX_F_CLOSE_START_TIMESTAMP"]]
END_TIMES = [F["POSIX_F_OPEN_END_TIMESTAMP"], F["POSIX_F_READ_END_TIMESTAMP"],
             F["POSIX_F_WRITE_END_TIMESTAMP"], F["POSIX_F_CLOSE_END_TIMESTAMP"]]
SUM_TIMES = [F["POSIX_F_READ_TIME"], F["POSIX_F_WRITE_TIME"], F["POSIX_F_META_TIME"]]
MAX_TIMES = {F["POSIX_F_MAX_READ_TIME"]: C["POSIX_MAX_READ_TIME_SIZE"],
             F["POSIX_F_MAX_WRITE_TIME"]: C["POSIX_MAX_WRITE_TIME_SIZE"]}


def top_values(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Darshan's top-4 common values, row by row: the most frequent nonzero
    values, ties broken by the larger value; empty slots are (0, 0)."""
    short = max(TOP - values.shape[-1], 0)  # fewer candidates than slots: pad with empties
    pad = [(0, 0)] * (values.ndim - 1) + [(0, short)]
    values, counts = np.pad(values, pad), np.pad(counts, pad)
    counts = np.where(values == 0, 0, counts)
    order = np.lexsort((-values, -counts), axis=-1)[..., :TOP]
    top_v = np.take_along_axis(values, order, axis=-1)
    top_c = np.take_along_axis(counts, order, axis=-1)
    top_v = np.where(top_c == 0, 0, top_v)
    return top_v, top_c


def from_kernel(values: np.ndarray, ids: np.ndarray, ranks: np.ndarray,
                start_ktime: int) -> np.ndarray:
    """Darshan POSIX records for kernel records, all at once."""
    out = np.zeros(len(values), dtype=DTYPE)
    out["id"] = ids
    out["rank"] = ranks
    counters = values["counters"].copy()
    for first, count_first, table in ((ACCESS, ACCESS_COUNT, "access"),
                                      (STRIDE, STRIDE_COUNT, "stride")):
        top_v, top_c = top_values(values[table]["value"], values[table]["count"])
        counters[:, first:first + TOP] = top_v
        counters[:, count_first:count_first + TOP] = top_c
    counters[:, FILENOS] = NOT_MONITORED
    out["counters"] = counters
    out["fcounters"][:, :L.T_NUM_TIMES] = kernel_times(values["times"], start_ktime)
    return out


def kernel_times(times_ns: np.ndarray, start_ktime: int) -> np.ndarray:
    """Kernel times (enum posix_time, also the order of the MPI-IO and H5D
    float counters) as Darshan's seconds: stamps since the job's start."""
    times = times_ns.astype(np.float64)
    stamps = times[..., L.TIMESTAMPS]
    times[..., L.TIMESTAMPS] = np.where(stamps > 0, (stamps - start_ktime) / NS_PER_S, 0.0)
    times[..., L.DURATIONS] /= NS_PER_S
    return times


def _merge_tables(records: np.ndarray, first: int, count_first: int) -> tuple[np.ndarray, np.ndarray]:
    values = records["counters"][:, first:first + TOP].ravel()
    counts = records["counters"][:, count_first:count_first + TOP].ravel()
    uniq, inverse = np.unique(values, return_inverse=True)
    summed = np.bincount(inverse, weights=counts).astype(np.int64)
    return top_values(uniq[None, :], summed[None, :])


def reduce_file(records: np.ndarray) -> np.void:
    """One record from several records of the same file, by Darshan's
    reduction rules (sums, max, earliest start, latest end, merged tables)."""
    out = records[0].copy()
    counters = records["counters"]
    summed = counters.sum(axis=0)
    summed[MAX_COUNTERS] = counters[:, MAX_COUNTERS].max(axis=0)
    for i in ONE_INPUT_COUNTERS:
        nonzero = counters[:, i][counters[:, i] != 0]
        summed[i] = nonzero[0] if len(nonzero) else 0
    summed[RANK_COUNTERS] = 0
    ops = summed[OPERATION_COUNTERS]
    ops[ops < 0] = NOT_MONITORED
    for first, count_first in ((ACCESS, ACCESS_COUNT), (STRIDE, STRIDE_COUNT)):
        top_v, top_c = _merge_tables(records, first, count_first)
        summed[first:first + TOP] = top_v[0]
        summed[count_first:count_first + TOP] = top_c[0]
    fc = records["fcounters"]
    merged = np.zeros_like(fc[0])
    for i in START_TIMES:
        nonzero = fc[:, i][fc[:, i] > 0]
        merged[i] = nonzero.min() if len(nonzero) else 0.0
    merged[END_TIMES] = fc[:, END_TIMES].max(axis=0)
    merged[SUM_TIMES] = fc[:, SUM_TIMES].sum(axis=0)
    for ftime, size in MAX_TIMES.items():
        slowest = int(np.argmax(fc[:, ftime]))
        merged[ftime] = fc[slowest, ftime]
        summed[size] = counters[slowest, size]
    out["counters"] = summed
    out["fcounters"] = merged
    return out
