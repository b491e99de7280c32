"""Kernel heatmap rows (bpf_layout.heatmap_row) to Darshan HEATMAP records.

A row keeps every bin width it has needed (see struct heatmap_row in
bpf/ebpf_darshan.h); Darshan's final heatmap is those bins summed into the
width Darshan's collapsing would have reached by the end of the job.
Operations the kernel left to user space (pending segments: their file had
no accepted name yet) are binned here with the kernel's arithmetic.  Rows
that count from different clocks (the node daemon's processes, or nodes
being merged) are moved onto the job's time base.
"""

from __future__ import annotations

import numpy as np

from . import bpf_layout as L
from .darshan import HeatmapRecord, modules as M, record_id

HALF = L.HEATMAP_BINS // 2
# Darshan module id of a segment -> its heatmap API (row index)
API_OF_MODULE = {L.DARSHAN_POSIX_MOD: L.HEATMAP_POSIX, L.DARSHAN_STDIO_MOD: L.HEATMAP_STDIO,
                 L.DARSHAN_MPIIO_MOD: L.HEATMAP_MPIIO}


def heatmap_name(api: int) -> str:
    return f"heatmap:{M.HEATMAP_APIS[api]}"


def _bin_start_tenths(b: int | np.ndarray) -> np.ndarray:
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


def bin_pending(rows: dict[int, np.ndarray], pending: np.ndarray,
                origins: dict[int, int]) -> int:
    """Bin pending segments (already filtered to kept records) into rows,
    each counting from its origin (bpf_ktime_get_ns() time); returns how
    many could not be binned."""
    lost = 0
    for seg in pending:
        proc = int(seg["key"]["proc"])
        if proc not in rows:
            lost += 1
            continue
        row = rows[proc]["bins"][API_OF_MODULE[int(seg["module"])]]
        t1 = max(int(seg["start_ns"]) - origins[proc], 0)
        t2 = max(int(seg["end_ns"]) - origins[proc], 0)
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


def rebased_heatmaps(parts: list[tuple[int, list[HeatmapRecord]]],
                     run_ns: int) -> list[HeatmapRecord]:
    """Heatmaps counted from later clocks (each part's start given in ns
    after the job's) on the job's time base, all at one width: Darshan's
    for the whole run, or a part's if coarser.  A part's bin's bytes go to
    the one or two job bins it overlaps, in proportion to the time in each;
    every byte stays.  Records of one (rank, API) in several parts are
    added up."""
    recs = [(shift, r) for shift, part in parts for r in part]
    if not recs:
        return []
    # a part's last bins may reach past the run: only bytes there (a
    # process outliving the job) make the job longer
    end_ns = max([run_ns] + [shift + round(r.bin_width * 1e9) * int(used[-1]) + 1
                             for shift, r in recs
                             if len(used := np.flatnonzero(r.write_bins + r.read_bins))])
    doublings = max([darshan_width(end_ns)[0]] +
                    [round(r.bin_width * 1e9 / L.HEATMAP_BIN_NS).bit_length() - 1
                     for _, r in recs])
    width = L.HEATMAP_BIN_NS << doublings
    nbins = -(-end_ns // width)
    out: dict[tuple[int, int], HeatmapRecord] = {}
    for shift, r in recs:
        w = round(r.bin_width * 1e9)
        starts = shift + np.arange(r.nbins, dtype=np.int64) * w
        first = starts // width
        share = np.minimum((first + 1) * width - starts, w) / w
        mine = out.setdefault((r.rank, r.id), HeatmapRecord(
            id=r.id, rank=r.rank, bin_width=0.1 * (1 << doublings),
            write_bins=np.zeros(nbins, dtype=np.int64), read_bins=np.zeros(nbins, dtype=np.int64)))
        for bins, src in ((mine.write_bins, r.write_bins), (mine.read_bins, r.read_bins)):
            src = np.asarray(src, dtype=np.int64)
            head = np.minimum(np.floor(src * share).astype(np.int64), src)
            np.add.at(bins, first, head)
            np.add.at(bins, np.minimum(first + 1, nbins - 1), src - head)
    return [out[k] for k in sorted(out)]


def job_heatmaps(rows: dict[int, np.ndarray], origins: dict[int, int], rank_of: dict[int, int],
                 start_ktime: int, run_ns: int) -> list[HeatmapRecord]:
    """darshan_heatmaps() of rows that count from their own origins
    (bpf_ktime_get_ns() time, none before the job's start_ktime)."""
    by_origin: dict[int, dict[int, np.ndarray]] = {}
    for proc, row in rows.items():
        by_origin.setdefault(max(origins[proc], start_ktime), {})[proc] = row
    if list(by_origin) in ([], [start_ktime]):
        return darshan_heatmaps(rows, rank_of, run_ns)
    return rebased_heatmaps([(origin - start_ktime, darshan_heatmaps(
        mine, rank_of, max(run_ns - (origin - start_ktime), 1)))
        for origin, mine in sorted(by_origin.items())], run_ns)


def compact_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A process's rows (L.heatmap_row per API) as the places and values
    of their nonzero bins: a few bins where the rows hold thousands."""
    flat = np.concatenate([rows["bins"][op].reshape(-1) for op in ("read", "write")])
    places = np.flatnonzero(flat).astype(np.uint32)
    return places, flat[places]


def expand_rows(places: np.ndarray, values: np.ndarray) -> np.ndarray:
    """compact_rows() undone."""
    rows = np.zeros(L.HEATMAP_APIS, dtype=L.heatmap_row)
    flat = np.zeros(2 * rows["bins"].size, dtype=np.uint64)
    flat[places] = values
    for op, half in zip(("read", "write"), np.split(flat, 2), strict=True):
        rows["bins"][op] = half.reshape(rows["bins"].shape)
    return rows
