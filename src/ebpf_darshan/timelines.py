"""The HEATMAP and DXT parts of a log, and what was lost from them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import bpf_layout as L
from .darshan import Log, modules as M, record_id
from .dxt import DXT_MODULES, Owners, darshan_dxt
from .heatmap import bin_pending, heatmap_name, job_heatmaps


@dataclass
class KernelTimelines:
    """What the kernel kept for the heatmaps and DXT traces."""
    segments: np.ndarray  # L.io_segment, in arrival order
    segments_over_limit: int  # trace segments beyond --dxt-max-segments
    pending_over_limit: int  # pending heatmap segments beyond it
    heatmap_rows: dict[int, np.ndarray]  # proc -> L.heatmap_row per API
    # proc -> the bpf_ktime_get_ns() its row counts from, where that is not
    # the recording's start (own_heatmap_clocks)
    row_origins: dict[int, int] = field(default_factory=dict)


@dataclass
class OwnHeatmap:
    """A process's heatmap under own_heatmap_clocks."""
    origin: int        # bpf_ktime_get_ns() its bins count from
    rows: np.ndarray | None  # L.heatmap_row per API; None: it counted no byte


def _partial_bit(module: str) -> int:
    return 1 << M.MODULE_IDS[module]


def _kept(segments: np.ndarray, owners: dict[int, Owners]) -> np.ndarray:
    """The segments whose record is in the log."""
    keep = [(int(k["proc"]), int(k["dev"]), int(k["ino"])) in owners.get(int(m), {})
            for k, m in zip(segments["key"], segments["module"], strict=True)]
    return segments[np.array(keep, dtype=bool)] if len(segments) else segments


def add_timelines(log: Log, kernel: KernelTimelines, owners: dict[int, Owners],
                  rank_of: dict[int, int], start_ktime: int, health: np.ndarray) -> None:
    """Put the heatmaps and DXT traces into log, count and flag losses.
    owners: each module's kernel records in the log (by segment module id)."""
    segments = kernel.segments
    pending = segments[(segments["flags"] & L.SEG_HEATMAP_PENDING) != 0]
    rows = {proc: row for proc, row in kernel.heatmap_rows.items() if proc in rank_of}
    origins = {proc: kernel.row_origins.get(proc, start_ktime) for proc in rows}
    unbinned = bin_pending(rows, _kept(pending, owners), origins)
    run_ns = log.job.end_ns - log.job.start_ns
    log.heatmaps = job_heatmaps(rows, origins, rank_of, start_ktime, run_ns)
    names = {record_id(heatmap_name(api)): heatmap_name(api) for api in range(L.HEATMAP_APIS)}
    for heatmap in log.heatmaps:
        log.names[heatmap.id] = names[heatmap.id]
    log.dxt = darshan_dxt(segments, {m: o for m, o in owners.items() if m in DXT_MODULES},
                          start_ktime)

    # the trace's losses are not told apart by module
    traces = sorted(set(log.dxt) | {DXT_MODULES[L.DARSHAN_POSIX_MOD]})
    lost = {"dxt_segments_lost": (int(health[L.H_SEGMENTS_DROPPED]), traces),
            "dxt_segments_over_limit": (kernel.segments_over_limit, traces),
            "heatmap_lost_ops": (int(health[L.H_HEATMAP_DROPPED]) + kernel.pending_over_limit
                                 + unbinned, ["HEATMAP"])}
    for key, (count, modules) in lost.items():
        if count > 0:
            log.job.metadata[key] = str(count)
            for module in modules:
                log.partial_flag |= _partial_bit(module)
