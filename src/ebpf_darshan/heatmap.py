"""Kernel heatmap rows (bpf_layout.heatmap_row) to Darshan HEATMAP records.

A row keeps every bin width it has needed (see struct heatmap_row in
bpf/ebpf_darshan.h); Darshan's final heatmap is those bins summed into the
width Darshan's collapsing would have reached by the end of the job.
Operations the kernel left to user space (pending segments: their file had
no accepted name yet) are binned here with the kernel's arithmetic.
"""

from __future__ import annotations

import numpy as np

from . import bpf_layout as L
from .darshan import HeatmapRecord, record_id
from .darshan import modules as M

HALF = L.HEATMAP_BINS // 2
# Darshan module id of a segment -> its heatmap API (row index)
API_OF_MODULE = {L.DARSHAN_POSIX_MOD: L.HEATMAP_POSIX, L.DARSHAN_STDIO_MOD: L.HEATMAP_STDIO,
                 L.DARSHAN_MPIIO_MOD: L.HEATMAP_MPIIO}


def heatmap_name(api: int) -> str:
    return f"heatmap:{M.HEATMAP_APIS[api]}"


def _bin_start_tenths(b: np.ndarray) -> np.ndarray:
    """Start of row bins, in units of Darshan's initial 0.1 s width."""
    b = np.asarray(b, dtype=np.int64)
    level = np.where(b < L.HEATMAP_BINS, 0, (b - L.HEATMAP_BINS) // HALF + 1)
    k = (b - L.HEATMAP_BINS) % HALF
    return np.where(b < L.HEATMAP_BINS, b, (HALF + k) << level)


def row_bin(t_ns: int) -> int:
    """The row bin holding t_ns since job start (heatmap_locate() in the kernel)."""
    tenths = t_ns // L.HEATMAP_BIN_NS
    if tenths < L.HEATMAP_BINS:
        return tenths
    level = (tenths // HALF).bit_length() - 1
    if level > L.HEATMAP_LEVELS:
        return L.HEATMAP_ROW_BINS
    return L.HEATMAP_BINS + (level - 1) * HALF + (tenths >> level) - HALF


def spread(bins: np.ndarray, write: bool, nbytes: int, t1: int, t2: int) -> bool:
    """Add one operation to a row's bins (ns since job start) as heatmap_add()
    does; False if it ends past the row."""
    first, last = row_bin(t1), row_bin(t2)
    if last >= L.HEATMAP_ROW_BINS:
        return False
    column = bins["write"] if write else bins["read"]
    span = t2 - t1
    shift = max(span.bit_length() - 32, 0)
    span >>= shift
    done = 0
    for b in range(first, last + 1):
        if b == last:
            upto = nbytes
        else:
            end = int(_bin_start_tenths(b + 1)) * L.HEATMAP_BIN_NS
            upto = nbytes * ((end - t1) >> shift) // span
        column[b] += upto - done
        done = upto
    return True


def bin_pending(rows: dict[int, np.ndarray], pending: np.ndarray, start_ktime: int) -> int:
    """Bin pending segments (already filtered to kept records) into rows;
    returns how many could not be binned."""
    lost = 0
    for seg in pending:
        proc = int(seg["key"]["proc"])
        if proc not in rows:
            lost += 1
            continue
        row = rows[proc]["bins"][API_OF_MODULE[int(seg["module"])]]
        t1 = max(int(seg["start_ns"]) - start_ktime, 0)
        t2 = max(int(seg["end_ns"]) - start_ktime, 0)
        if not spread(row, int(seg["op"]) == L.IO_WRITE, int(seg["length"]), t1, t2):
            lost += 1
    return lost


def darshan_width(end_ns: int) -> tuple[int, int]:
    """(doublings, nbins) Darshan ends with for a job of end_ns: the width
    0.1 s * 2^doublings is the first whose 200 bins reach the end."""
    tenths = max(end_ns, 1) / L.HEATMAP_BIN_NS
    doublings = 0
    while tenths > L.HEATMAP_BINS << doublings:
        doublings += 1
    nbins = min(L.HEATMAP_BINS, int(np.ceil(tenths / (1 << doublings))))
    return doublings, max(nbins, 1)


def darshan_heatmaps(rows: dict[int, np.ndarray], rank_of: dict[int, int],
                     run_ns: int) -> list[HeatmapRecord]:
    """One record per (rank, API) that moved bytes, all with one width;
    the rows of processes that share a rank are added up."""
    by_rank: dict[int, dict[str, np.ndarray]] = {}
    for proc, row in rows.items():
        mine = by_rank.setdefault(rank_of[proc], {
            op: np.zeros((L.HEATMAP_APIS, L.HEATMAP_ROW_BINS), dtype=np.int64)
            for op in ("read", "write")})
        for op, total in mine.items():
            total += row["bins"][op].astype(np.int64)
    starts = _bin_start_tenths(np.arange(L.HEATMAP_ROW_BINS))
    end_ns = run_ns
    for totals in by_rank.values():
        used = np.nonzero((totals["read"] | totals["write"]).any(axis=0))[0]
        if len(used):  # late bytes (a process outliving the job) stay in the last bin
            end_ns = max(end_ns, int(starts[used[-1]]) * L.HEATMAP_BIN_NS + 1)
    doublings, nbins = darshan_width(end_ns)
    coarse = starts >> doublings
    inside = coarse < nbins  # unused bins past the end
    out = []
    for rank, totals in sorted(by_rank.items()):
        for api in range(L.HEATMAP_APIS):
            if not (totals["read"][api].any() or totals["write"][api].any()):
                continue
            summed = {}
            for op, total in totals.items():
                summed[op] = np.zeros(nbins, dtype=np.int64)
                np.add.at(summed[op], coarse[inside], total[api][inside])
            out.append(HeatmapRecord(
                id=record_id(heatmap_name(api)), rank=rank,
                bin_width=0.1 * (1 << doublings),
                write_bins=summed["write"], read_bins=summed["read"]))
    return out
