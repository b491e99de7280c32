"""The reduction rules of format spec 3.1 on hand-made records, for the
values a real job cannot pin down (ties, time-based fields, table merges)."""

from __future__ import annotations

import numpy as np
import pytest

from ebpf_darshan.darshan import modules as M
from ebpf_darshan.shared_reduction import combine_same_file, reduce_shared


def make(module: str, rows: list[tuple[int, int, dict[str, float]]]) -> np.ndarray:
    """Records of module from (id, rank, {counter: value})."""
    out = np.zeros(len(rows), dtype=M.record_dtype(module))
    for rec, (rid, rank, values) in zip(out, rows, strict=True):
        rec["id"], rec["rank"] = rid, rank
        for name, value in values.items():
            field = "fcounters" if "_F_" in name else "counters"
            rec[field][M.counter_index(module, name)] = value
    return out


def value(rec: np.void, module: str, name: str) -> float:
    return rec["fcounters" if "_F_" in name else "counters"][M.counter_index(module, name)]


SHARED, PRIVATE = 111, 222
POSIX_RANKS = [
    (SHARED, 2, {"POSIX_OPENS": 1, "POSIX_FILENOS": -1, "POSIX_BYTES_WRITTEN": 300,
                 "POSIX_MAX_BYTE_WRITTEN": 299, "POSIX_MODE": 0o600,
                 "POSIX_ACCESS1_ACCESS": 7, "POSIX_ACCESS1_COUNT": 6,
                 "POSIX_F_WRITE_START_TIMESTAMP": 0.5, "POSIX_F_WRITE_END_TIMESTAMP": 0.9,
                 "POSIX_F_WRITE_TIME": 0.25, "POSIX_F_MAX_WRITE_TIME": 0.2,
                 "POSIX_MAX_WRITE_TIME_SIZE": 300}),
    (SHARED, 0, {"POSIX_OPENS": 1, "POSIX_FILENOS": -1, "POSIX_BYTES_WRITTEN": 100,
                 "POSIX_BYTES_READ": 50, "POSIX_MAX_BYTE_WRITTEN": 99,
                 "POSIX_ACCESS1_ACCESS": 1000, "POSIX_ACCESS1_COUNT": 5,
                 "POSIX_ACCESS2_ACCESS": 10, "POSIX_ACCESS2_COUNT": 2,
                 "POSIX_F_READ_START_TIMESTAMP": 0.3,
                 "POSIX_F_WRITE_START_TIMESTAMP": 0.2, "POSIX_F_WRITE_END_TIMESTAMP": 0.4,
                 "POSIX_F_WRITE_TIME": 0.125, "POSIX_F_META_TIME": 0.125,
                 "POSIX_F_MAX_WRITE_TIME": 0.1, "POSIX_MAX_WRITE_TIME_SIZE": 100}),
    (SHARED, 1, {"POSIX_OPENS": 1, "POSIX_FILENOS": -1, "POSIX_BYTES_WRITTEN": 200,
                 "POSIX_MAX_BYTE_WRITTEN": 4199, "POSIX_MODE": 0o644,
                 "POSIX_ACCESS1_ACCESS": 10, "POSIX_ACCESS1_COUNT": 4,
                 "POSIX_ACCESS2_ACCESS": 7, "POSIX_ACCESS2_COUNT": 1,
                 "POSIX_F_WRITE_START_TIMESTAMP": 0.3, "POSIX_F_WRITE_END_TIMESTAMP": 0.6,
                 "POSIX_F_WRITE_TIME": 0.25, "POSIX_F_MAX_WRITE_TIME": 0.2,
                 "POSIX_MAX_WRITE_TIME_SIZE": 200}),
    (PRIVATE, 1, {"POSIX_OPENS": 3, "POSIX_BYTES_READ": 5}),
]


def test_posix_shared_record() -> None:
    out = reduce_shared(make("POSIX", POSIX_RANKS), "POSIX", nprocs=3)
    assert sorted((int(r["id"]), int(r["rank"])) for r in out) == [(SHARED, -1), (PRIVATE, 1)]
    rec = out[out["id"] == SHARED][0]
    times = np.array([0.25, 0.25, 0.25])  # ranks 0, 1, 2: read + write + meta
    moved = np.array([150.0, 200.0, 300.0])
    expected = {
        "POSIX_OPENS": 3, "POSIX_FILENOS": -1, "POSIX_BYTES_WRITTEN": 600,
        "POSIX_BYTES_READ": 50, "POSIX_MAX_BYTE_WRITTEN": 4199,
        "POSIX_MODE": 0o644,  # from one input: the first in rank order that has one
        # summed counts per value, most frequent first: 7 (7), 10 (6), 1000 (5)
        "POSIX_ACCESS1_ACCESS": 7, "POSIX_ACCESS1_COUNT": 7,
        "POSIX_ACCESS2_ACCESS": 10, "POSIX_ACCESS2_COUNT": 6,
        "POSIX_ACCESS3_ACCESS": 1000, "POSIX_ACCESS3_COUNT": 5,
        "POSIX_ACCESS4_ACCESS": 0, "POSIX_ACCESS4_COUNT": 0,
        "POSIX_F_READ_START_TIMESTAMP": 0.3,  # minimum of the nonzero ones
        "POSIX_F_WRITE_START_TIMESTAMP": 0.2, "POSIX_F_WRITE_END_TIMESTAMP": 0.9,
        "POSIX_F_WRITE_TIME": 0.625, "POSIX_F_META_TIME": 0.125,
        # two ranks tie for the longest write: the lower rank's size comes along
        "POSIX_F_MAX_WRITE_TIME": 0.2, "POSIX_MAX_WRITE_TIME_SIZE": 200,
        # all three ranks tie on time: the lowest rank is both fastest and slowest
        "POSIX_FASTEST_RANK": 0, "POSIX_FASTEST_RANK_BYTES": 150,
        "POSIX_SLOWEST_RANK": 0, "POSIX_SLOWEST_RANK_BYTES": 150,
        "POSIX_F_FASTEST_RANK_TIME": 0.25, "POSIX_F_SLOWEST_RANK_TIME": 0.25,
        "POSIX_F_VARIANCE_RANK_TIME": float(times.var()),
        "POSIX_F_VARIANCE_RANK_BYTES": float(moved.var()),
    }
    got = {name: value(rec, "POSIX", name) for name in expected}
    assert got == pytest.approx(expected, abs=1e-12)


def test_fastest_and_slowest_follow_total_time() -> None:
    rows = [(SHARED, r, {"STDIO_BYTES_WRITTEN": 10 * (r + 1), "STDIO_MAX_BYTE_WRITTEN": 5 - r,
                         "STDIO_F_WRITE_TIME": t, "STDIO_F_OPEN_START_TIMESTAMP": 1.0 + r})
            for r, t in enumerate([0.5, 0.125, 0.75, 0.25])]
    (rec,) = reduce_shared(make("STDIO", rows), "STDIO", nprocs=4)
    expected = {"STDIO_BYTES_WRITTEN": 100, "STDIO_MAX_BYTE_WRITTEN": 5,
                "STDIO_FASTEST_RANK": 1, "STDIO_FASTEST_RANK_BYTES": 20,
                "STDIO_SLOWEST_RANK": 2, "STDIO_SLOWEST_RANK_BYTES": 30,
                "STDIO_F_FASTEST_RANK_TIME": 0.125, "STDIO_F_SLOWEST_RANK_TIME": 0.75,
                "STDIO_F_OPEN_START_TIMESTAMP": 1.0, "STDIO_F_WRITE_TIME": 1.625,
                "STDIO_F_VARIANCE_RANK_TIME": float(np.var([0.5, 0.125, 0.75, 0.25])),
                "STDIO_F_VARIANCE_RANK_BYTES": float(np.var([10, 20, 30, 40]))}
    got = {name: value(rec, "STDIO", name) for name in expected}
    assert got == pytest.approx(expected, abs=1e-12)
    assert rec["rank"] == -1


def test_file_missing_from_one_rank_is_not_shared() -> None:
    records = make("POSIX", POSIX_RANKS)
    out = reduce_shared(records, "POSIX", nprocs=4)
    assert sorted(out["rank"].tolist()) == [0, 1, 1, 2]


def test_records_of_one_file_in_one_rank_combine_without_rank_fields() -> None:
    records = make("POSIX", [
        (SHARED, 0, {"POSIX_OPENS": 1, "POSIX_MODE": 0o600, "POSIX_F_OPEN_START_TIMESTAMP": 0.5}),
        (PRIVATE, 0, {"POSIX_OPENS": 7}),
        (SHARED, 0, {"POSIX_OPENS": 2, "POSIX_MODE": 0o644, "POSIX_FASTEST_RANK_BYTES": 9,
                     "POSIX_F_OPEN_START_TIMESTAMP": 0.25})])
    keys = records[["rank", "id"]]
    out = combine_same_file(records, keys, "POSIX")
    assert out["id"].tolist() == [SHARED, PRIVATE]
    assert [value(out[0], "POSIX", n) for n in ("POSIX_OPENS", "POSIX_MODE",
                                                 "POSIX_FASTEST_RANK_BYTES",
                                                 "POSIX_F_OPEN_START_TIMESTAMP")] == [
        3, 0o600, 0, 0.25]
