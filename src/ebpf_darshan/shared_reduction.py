"""Reducing Darshan records of one file into one, with numpy over all
records at once (format spec 3.1).

Two uses: records of one file in one rank (a rank's processes, or an inode
that changed under one name) are combined into that rank's record; and
records of a file that every rank of an MPI job has become one rank -1
record with the fastest/slowest rank and the variances across ranks.

How each counter combines is a per-module table (`RULES`) built from the
counter names, so every module whose records follow Darshan's naming
(POSIX, STDIO, MPI-IO) is reduced by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .darshan import modules as M

TOP = 4  # entries of a common-value table
SHARED_RANK = -1


@dataclass(frozen=True)
class Rules:
    """Counter indices by how they combine; integer counters not listed are summed."""

    max_counters: list[int]
    one_input: list[int]  # taken from one input (the first nonzero, in rank order)
    clamp_negative: list[int]  # sums below zero become -1 ("not monitored")
    tables: list[tuple[int, int]]  # (first value, first count) of each top-4 table
    max_times: list[tuple[int, int]]  # (float max duration, its size counter)
    start_times: list[int]  # minimum nonzero
    end_times: list[int]  # maximum
    sum_times: list[int]
    bytes: list[int]  # read and written: a rank's bytes
    rank_counters: list[int]  # FASTEST_RANK, _BYTES, SLOWEST_RANK, _BYTES
    rank_fcounters: list[int]  # F_FASTEST/SLOWEST_RANK_TIME, F_VARIANCE_RANK_TIME/_BYTES


def _rules(module: str, prefix: str, one_input: tuple[str, ...] = (),
           clamp_through: str = "") -> Rules:
    names = M.counter_names(module)
    fnames = M.fcounter_names(module)
    c = {n: i for i, n in enumerate(names)}
    f = {n: i for i, n in enumerate(fnames)}
    tables = [(c[f"{prefix}_{kind}1_{kind}"], c[f"{prefix}_{kind}1_COUNT"])
              for kind in ("STRIDE", "ACCESS") if f"{prefix}_{kind}1_{kind}" in c]
    return Rules(
        max_counters=[c[n] for n in names if "_MAX_BYTE_" in n],
        one_input=[c[f"{prefix}_{n}"] for n in one_input],
        clamp_negative=list(range(c[clamp_through] + 1)) if clamp_through else [],
        tables=tables,
        max_times=[(f[f"{prefix}_F_MAX_{op}_TIME"], c[f"{prefix}_MAX_{op}_TIME_SIZE"])
                   for op in ("READ", "WRITE") if f"{prefix}_F_MAX_{op}_TIME" in f],
        start_times=[f[n] for n in fnames if n.endswith("_START_TIMESTAMP")],
        end_times=[f[n] for n in fnames if n.endswith("_END_TIMESTAMP")],
        sum_times=[f[f"{prefix}_F_{t}_TIME"] for t in ("READ", "WRITE", "META")],
        bytes=[c[f"{prefix}_BYTES_READ"], c[f"{prefix}_BYTES_WRITTEN"]],
        rank_counters=[c[f"{prefix}_{n}"] for n in ("FASTEST_RANK", "FASTEST_RANK_BYTES",
                                                     "SLOWEST_RANK", "SLOWEST_RANK_BYTES")],
        rank_fcounters=[f[f"{prefix}_F_{n}"] for n in ("FASTEST_RANK_TIME", "SLOWEST_RANK_TIME",
                                                        "VARIANCE_RANK_TIME",
                                                        "VARIANCE_RANK_BYTES")],
    )


RULES: dict[str, Rules] = {
    "POSIX": _rules("POSIX", "POSIX", one_input=("RENAMED_FROM", "MODE", "MEM_ALIGNMENT",
                                                 "FILE_ALIGNMENT"),
                    clamp_through="POSIX_RENAME_TARGETS"),
    "STDIO": _rules("STDIO", "STDIO"),
    "MPI-IO": _rules("MPI-IO", "MPIIO", one_input=("MODE",)),
}


def _first_where(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group (rows from each start to the next), the first row where
    mask holds, column by column; len(mask) where it never does."""
    n = len(mask)
    rows = np.arange(n).reshape((n,) + (1,) * (mask.ndim - 1))
    return np.minimum.reduceat(np.where(mask, rows, n), starts, axis=0)


def _group_of_row(starts: np.ndarray, n: int) -> np.ndarray:
    sizes = np.diff(np.append(starts, n))
    return np.repeat(np.arange(len(starts)), sizes)


def _merge_tables(values: np.ndarray, counts: np.ndarray, groups: np.ndarray,
                  ngroups: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-4 tables of each group's rows merged: counts of equal values
    added, then the most frequent values, ties to the larger value."""
    g = np.repeat(groups, TOP)
    v, cnt = values.ravel(), counts.ravel()
    keep = (v != 0) & (cnt != 0)
    g, v, cnt = g[keep], v[keep], cnt[keep]
    order = np.lexsort((v, g))
    g, v, cnt = g[order], v[order], cnt[order]
    new_run = np.ones(len(g), dtype=bool)
    new_run[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    run_starts = np.flatnonzero(new_run)
    g, v = g[run_starts], v[run_starts]
    cnt = np.add.reduceat(cnt, run_starts) if len(run_starts) else cnt[:0]
    order = np.lexsort((-v, -cnt, g))
    g, v, cnt = g[order], v[order], cnt[order]
    first_of_group = np.searchsorted(g, g)
    place = np.arange(len(g)) - first_of_group
    top = place < TOP
    out_v = np.zeros((ngroups, TOP), dtype=np.int64)
    out_c = np.zeros((ngroups, TOP), dtype=np.int64)
    out_v[g[top], place[top]] = v[top]
    out_c[g[top], place[top]] = cnt[top]
    return out_v, out_c


def _combine(records: np.ndarray, starts: np.ndarray, rules: Rules) -> np.ndarray:
    """One record per group of rows (sorted so each group is contiguous,
    beginning at `starts`); id and rank from each group's first row, the
    rank counters and rank float counters zero."""
    n = len(records)
    ints, floats = records["counters"], records["fcounters"]
    out: np.ndarray = records[starts].copy()
    counters = np.add.reduceat(ints, starts, axis=0)
    if rules.max_counters:
        counters[:, rules.max_counters] = np.maximum.reduceat(ints[:, rules.max_counters],
                                                              starts, axis=0)
    if rules.one_input:
        picked = ints[:, rules.one_input]
        first = _first_where(picked != 0, starts)
        cols = np.arange(len(rules.one_input))
        at_first = picked[np.minimum(first, n - 1), cols]
        counters[:, rules.one_input] = np.where(first < n, at_first, 0)
    if rules.clamp_negative:
        ops = counters[:, rules.clamp_negative]
        counters[:, rules.clamp_negative] = np.where(ops < 0, -1, ops)
    groups = _group_of_row(starts, n)
    for first_value, first_count in rules.tables:
        top_v, top_c = _merge_tables(ints[:, first_value:first_value + TOP],
                                     ints[:, first_count:first_count + TOP], groups, len(starts))
        counters[:, first_value:first_value + TOP] = top_v
        counters[:, first_count:first_count + TOP] = top_c
    fc = np.zeros((len(starts), floats.shape[1]), dtype=np.float64)
    stamps = floats[:, rules.start_times]
    earliest = np.minimum.reduceat(np.where(stamps > 0, stamps, np.inf), starts, axis=0)
    fc[:, rules.start_times] = np.where(np.isinf(earliest), 0.0, earliest)
    fc[:, rules.end_times] = np.maximum.reduceat(floats[:, rules.end_times], starts, axis=0)
    fc[:, rules.sum_times] = np.add.reduceat(floats[:, rules.sum_times], starts, axis=0)
    for ftime, size in rules.max_times:
        longest = np.maximum.reduceat(floats[:, ftime], starts)
        row = _first_where(floats[:, ftime] == longest[groups], starts)
        fc[:, ftime] = longest
        counters[:, size] = ints[row, size]
    counters[:, rules.rank_counters] = 0
    out["counters"] = counters
    out["fcounters"] = fc
    return out


def _group_starts(keys: np.ndarray) -> np.ndarray:
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    return np.flatnonzero(new)


def combine_same_file(records: np.ndarray, keys: np.ndarray, module: str) -> np.ndarray:
    """Records with equal keys (e.g. a rank's several records of one file)
    combined into one each, in order of first appearance."""
    if len(records) == 0:
        return records
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.lexsort((np.arange(len(keys)), first[inverse]))
    sorted_keys = first[inverse][order]
    return _combine(records[order], _group_starts(sorted_keys), RULES[module])


def reduce_shared(records: np.ndarray, module: str, nprocs: int) -> np.ndarray:
    """Records of files that all nprocs ranks have, reduced to one rank -1
    record each; the others untouched.  Expects at most one record per
    (rank, file) and ranks in [0, nprocs)."""
    rules = RULES[module]
    per_rank = records[records["rank"] >= 0]
    order = np.lexsort((per_rank["rank"], per_rank["id"]))
    per_rank = per_rank[order]
    starts = _group_starts(per_rank["id"])
    sizes = np.diff(np.append(starts, len(per_rank)))
    shared_group = sizes == nprocs
    in_shared = np.repeat(shared_group, sizes)
    shared = per_rank[in_shared]
    if len(shared) == 0:
        return records
    starts = _group_starts(shared["id"])
    groups = _group_of_row(starts, len(shared))
    out = _combine(shared, starts, rules)
    out["rank"] = SHARED_RANK
    floats = shared["fcounters"]
    time = floats[:, rules.sum_times].sum(axis=1)
    moved = shared["counters"][:, rules.bytes].sum(axis=1)
    fastest = _first_where(time == np.minimum.reduceat(time, starts)[groups], starts)
    slowest = _first_where(time == np.maximum.reduceat(time, starts)[groups], starts)
    fastest_rank, fastest_bytes, slowest_rank, slowest_bytes = rules.rank_counters
    fastest_time, slowest_time, var_time, var_bytes = rules.rank_fcounters
    out["counters"][:, fastest_rank] = shared["rank"][fastest]
    out["counters"][:, fastest_bytes] = moved[fastest]
    out["counters"][:, slowest_rank] = shared["rank"][slowest]
    out["counters"][:, slowest_bytes] = moved[slowest]
    out["fcounters"][:, fastest_time] = time[fastest]
    out["fcounters"][:, slowest_time] = time[slowest]
    out["fcounters"][:, var_time] = _population_variance(time, starts, groups)
    out["fcounters"][:, var_bytes] = _population_variance(moved.astype(np.float64), starts, groups)
    rest = np.concatenate([records[records["rank"] < 0], per_rank[~in_shared]])
    return np.concatenate([out, rest])


def _population_variance(x: np.ndarray, starts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    n = np.diff(np.append(starts, len(x)))
    mean = np.add.reduceat(x, starts) / n
    return np.add.reduceat((x - mean[groups]) ** 2, starts) / n
