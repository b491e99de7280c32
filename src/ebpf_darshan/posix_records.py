"""Kernel POSIX records (bpf_layout.posix_record) to Darshan POSIX records."""

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

