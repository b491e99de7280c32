"""Merging node logs, where no recording is needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import ebpf_darshan
from ebpf_darshan.darshan import HeatmapRecord
from ebpf_darshan.heatmap import rebased_heatmaps


def test_merged_heatmaps_move_to_the_job_time_base() -> None:
    """The job ran 20.5 s: its bins are 0.2 s wide.  The first node's 0.1 s
    bins pair up; the second node started 50 ms later, so its bin at
    0.15-0.25 s straddles two job bins and is split by time (11 bytes: 5
    before 0.2 s, floored, and the other 6 after)."""
    first = HeatmapRecord(id=1, rank=0, bin_width=0.1, write_bins=np.array([10, 20, 30]),
                          read_bins=np.zeros(3, dtype=np.int64))
    late = HeatmapRecord(id=1, rank=1, bin_width=0.1, write_bins=np.array([100, 11, 7]),
                         read_bins=np.array([0, 0, 1]))
    job = rebased_heatmaps([(0, [first]), (50_000_000, [late])], 20_500_000_000)
    assert [(h.rank, h.bin_width, h.nbins) for h in job] == [(0, 0.2, 103), (1, 0.2, 103)]
    assert list(job[0].write_bins[:3]) == [30, 30, 0] and job[0].write_bins.sum() == 60
    assert list(job[1].write_bins[:3]) == [105, 13, 0] and job[1].write_bins.sum() == 118
    assert list(job[1].read_bins[:3]) == [0, 1, 0] and job[1].read_bins.sum() == 1


def test_merge_of_a_missing_log_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    done = ebpf_darshan("merge", "-o", str(tmp_path / "x.darshan"), str(missing))
    assert (done.returncode, done.stderr) == (1, f"ebpf-darshan: {missing}: no such file\n")
