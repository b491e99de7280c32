"""The MPI-IO and H5D layers make one kernel record per open handle;
Darshan keeps one record per name and process.  These helpers merge the
kernel records of one name (in the order of their opens) before they are
converted, so the result is what one record would have counted."""

from __future__ import annotations

import numpy as np

from .. import bpf_layout as L

# enum posix_time, the layout of every layer's `times`
STARTS = slice(0, 4)
ENDS = slice(4, 8)
SUMMED = [8, 9, 10]           # read, write and meta time
MAX_READ_TIME, MAX_WRITE_TIME = 11, 12


def open_order(values: np.ndarray) -> np.ndarray:
    """The records sorted by the start of the open that made each."""
    return values[np.argsort(values["open_ns"], kind="stable")]


def merged_times(values: np.ndarray) -> np.ndarray:
    """Earliest nonzero starts, latest ends, summed timers, longest calls."""
    times = values["times"]
    out: np.ndarray = times[0].copy()
    starts = np.where(times[:, STARTS] > 0, times[:, STARTS], np.iinfo(np.int64).max).min(axis=0)
    out[STARTS] = np.where(starts == np.iinfo(np.int64).max, 0, starts)
    out[ENDS] = times[:, ENDS].max(axis=0)
    out[SUMMED] = times[:, SUMMED].sum(axis=0)
    out[[MAX_READ_TIME, MAX_WRITE_TIME]] = times[:, [MAX_READ_TIME, MAX_WRITE_TIME]].max(axis=0)
    return out


def slowest(values: np.ndarray, which: int) -> int:
    """Index of the record holding the longest read (MAX_READ_TIME) or write."""
    return int(np.argmax(values["times"][:, which]))


def switches_between(values: np.ndarray) -> int:
    """Read/write switches across consecutive opens: the last access of one
    open and the first of the next (Darshan's last access type outlives a
    close)."""
    switches = 0
    last = L.IO_NONE
    for first, final in zip(values["first_io_type"], values["last_io_type"], strict=True):
        if first != L.IO_NONE and last != L.IO_NONE and first != last:
            switches += 1
        if final != L.IO_NONE:
            last = int(final)
    return switches


def merged_table(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The access-value tables of all records as one (values, counts)."""
    vals = values["access"]["value"]
    counts = values["access"]["count"]
    used = counts > 0
    uniq, inverse = np.unique(vals[used], return_inverse=True)
    return uniq, np.bincount(inverse, weights=counts[used]).astype(np.int64)
