"""The heatmap arithmetic, against a plain model of Darshan's own binning:
no kernel needed."""

from __future__ import annotations

import numpy as np
import pytest

from ebpf_darshan import bpf_layout as L
from ebpf_darshan.heatmap import darshan_heatmaps, job_heatmaps, spread


def darshan_reference(ops: list[tuple[int, int]], end_ns: int) -> tuple[float, np.ndarray]:
    """Darshan's runtime algorithm for instantaneous writes (time ns, bytes):
    200 bins of 0.1 s, collapsed in place whenever an operation or the end
    falls past the last bin."""
    width, bins = 0.1, np.zeros(L.HEATMAP_BINS, dtype=np.int64)

    def collapse() -> None:
        nonlocal width
        bins[:L.HEATMAP_BINS // 2] = bins[0::2] + bins[1::2]
        bins[L.HEATMAP_BINS // 2:] = 0
        width *= 2

    for t, nbytes in ops:
        while t / 1e9 > width * L.HEATMAP_BINS:
            collapse()
        bins[int(t / 1e9 / width)] += nbytes
    while end_ns / 1e9 > width * L.HEATMAP_BINS:
        collapse()
    return width, bins[:int(np.ceil(end_ns / 1e9 / width))]


@pytest.mark.parametrize("end_s", [0.35, 19.9, 20.5, 333.0, 86400.0 * 3])
def test_row_layout_gives_darshans_collapsed_bins(end_s: float) -> None:
    rng = np.random.default_rng(int(end_s * 10))
    end_ns = int(end_s * 1e9)
    # times a microsecond off any bin edge, so float and integer binning agree
    ops = [(int(t) // 1000 * 1000 + 1000, int(n)) for t, n in
           zip(rng.integers(0, end_ns - 2000, 500), rng.integers(1, 1 << 20, 500), strict=True)]
    rows = np.zeros(L.HEATMAP_APIS, dtype=L.heatmap_row)
    for t, nbytes in ops:
        assert spread(rows["bins"][L.HEATMAP_POSIX], True, nbytes, t, t)
    (ours,) = darshan_heatmaps({7: rows}, {7: 0}, end_ns)
    width, theirs = darshan_reference(ops, end_ns)
    assert ours.bin_width == width
    assert list(ours.write_bins) == list(theirs)
    assert ours.write_bins.sum() == sum(n for _, n in ops)


def test_rows_of_one_rank_on_two_clocks_add_up() -> None:
    """Two processes of rank 0 (the node daemon's): one counts from the
    job's start, one from 0.25 s later, where its first bin (0.25-0.35 s)
    straddles two of the job's."""
    start = 5_000_000_000
    rows = {p: np.zeros(L.HEATMAP_APIS, dtype=L.heatmap_row) for p in (1, 2)}
    rows[1]["bins"]["write"][L.HEATMAP_POSIX, 0] = 100
    rows[2]["bins"]["write"][L.HEATMAP_POSIX, 0] = 50
    rows[2]["bins"]["read"][L.HEATMAP_POSIX, 1] = 8
    (job,) = job_heatmaps(rows, {1: start, 2: start + 250_000_000}, {1: 0, 2: 0}, start,
                          1_000_000_000)
    assert (job.rank, job.bin_width, job.nbins) == (0, 0.1, 10)
    assert list(job.write_bins[:5]) == [100, 0, 25, 25, 0]
    assert list(job.read_bins[:5]) == [0, 0, 0, 4, 4]


def test_spread_splits_exactly() -> None:
    row = np.zeros(L.HEATMAP_ROW_BINS, dtype=L.heatmap_bin)
    # 1001 bytes over 0.05 s .. 0.35 s: a sixth, a third, a third, a sixth,
    # each bin the difference of floored running totals 166, 500, 834, 1001
    assert spread(row, False, 1001, 50_000_000, 350_000_000)
    assert list(row["read"][:4]) == [166, 334, 334, 167]
    # 3 GiB over 30 s crosses from the 0.1 s bins into the 0.2 s level
    big = np.zeros(L.HEATMAP_ROW_BINS, dtype=L.heatmap_bin)
    assert spread(big, True, 3 << 30, 1_000_000_000, 31_000_000_000)
    assert big["write"].sum() == 3 << 30
    assert not spread(big, True, 1, 0, 10**9 * 20 * 2**16)  # past the last level
