"""Kernel segments (bpf_layout.io_segment) to Darshan DXT records: one per
(process, file), its writes and its reads each in the order they completed."""

from __future__ import annotations

import socket

import numpy as np

from . import bpf_layout as L
from .darshan import DxtRecord, modules as M, record_id

DXT_MODULES = {L.DARSHAN_POSIX_MOD: "DXT_POSIX", L.DARSHAN_MPIIO_MOD: "DXT_MPIIO"}
NS_PER_S = 1e9

# (proc, dev, ino) of a kernel record -> (rank, name) of the Darshan record it
# went into; records that are not in the log (excluded) are absent.
Owners = dict[tuple[int, int, int], tuple[int, str]]


def hostname() -> str:
    """This machine's name, cut to what a DXT record holds."""
    raw = socket.gethostname().encode("utf-8")[:M.DXT_HOSTNAME_LEN]
    return raw.decode("utf-8", errors="ignore")


def owner_index(segments: np.ndarray, owners: Owners,
                groups: list[tuple[int, str]]) -> np.ndarray:
    """For each segment, the index in groups of its owner, or -1."""
    if not len(segments):
        return np.zeros(0, dtype=np.int64)
    # (proc, dev) and ino as two integers: sorting those is far faster
    # than sorting the structured keys
    keys = segments["key"]
    high = keys["proc"].astype(np.uint64) << np.uint64(32) | keys["dev"].astype(np.uint64)
    low = keys["ino"]
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
    # a segment without owner (None) gets -1
    where: dict[tuple[int, str] | None, int] = {owner: i for i, owner in enumerate(groups)}
    lut = np.array([where.get(owners.get((int(h >> np.uint64(32)), int(h & np.uint64(0xFFFFFFFF)),
                                          int(i))), -1)
                    for h, i in zip(high[first], low[first], strict=True)], dtype=np.int64)
    group = np.empty(len(order), dtype=np.int64)
    group[order] = lut[np.cumsum(first) - 1]
    return group


def _darshan_segments(segs: np.ndarray, start_ktime: int) -> np.ndarray:
    out = np.zeros(len(segs), dtype=M.DXT_SEGMENT)
    out["offset"] = segs["offset"]
    out["length"] = segs["length"]
    out["start_time"] = (segs["start_ns"].astype(np.int64) - start_ktime) / NS_PER_S
    out["end_time"] = (segs["end_ns"].astype(np.int64) - start_ktime) / NS_PER_S
    return out


def darshan_dxt(segments: np.ndarray, owners_by_module: dict[int, Owners],
                start_ktime: int) -> dict[str, list[DxtRecord]]:
    """DXT records of every module with trace segments, by module name."""
    host = hostname()
    traced = segments[(segments["flags"] & L.SEG_TRACE) != 0]
    out: dict[str, list[DxtRecord]] = {}
    for module, owners in owners_by_module.items():
        segs = traced[traced["module"] == module]
        groups = sorted(set(owners.values()))
        group = owner_index(segs, owners, groups)
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(len(groups) + 1))
        records = []
        for i, (rank, name) in enumerate(groups):
            mine = segs[order[bounds[i]:bounds[i + 1]]]
            if not len(mine):
                continue
            write = mine["op"] == L.IO_WRITE
            records.append(DxtRecord(id=record_id(name), rank=rank, hostname=host,
                                     write_segments=_darshan_segments(mine[write], start_ktime),
                                     read_segments=_darshan_segments(mine[~write], start_ktime)))
        if records:
            out[DXT_MODULES[module]] = records
    return out
