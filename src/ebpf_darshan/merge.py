"""One job log from the node logs of a job (`ebpf-darshan merge`).

A node log holds the records of the ranks that ran on its node, each under
its own rank: a file is reduced to rank -1 only when every rank of the job
(`nprocs`) has it, which a node holding part of the ranks never sees, so its
records stay per rank and carry what the reduction needs.  Merging puts the
ranks of all nodes together on one time base (the earliest node start) and
applies the same reduction as a single recorder would.

Node logs are of one job when their `job` metadata (the ranks' job id or MPI
namespace, ranks.py) is equal, or, without one, their job ids are; their job
sizes must agree and no rank may come from two logs.  DXT segments move to
the job's time base with the records, and so do heatmaps: rebinned at the
width Darshan would pick for the whole job, a node bin that straddles two
job bins split between them by time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .darshan import DxtRecord, HeatmapRecord, Job, Log, modules as M
from .heatmap import rebased_heatmaps
from .shared_reduction import RULES, reduce_shared

# Metadata lines summed over the node logs: the losses (log_builder.py).
SUMMED_METADATA = ("lost_files", "lost_file_calls", "lost_events", "lost_tasks")


class MergeError(ValueError):
    """Node logs that cannot be merged (shown as one line)."""


def _job_identity(log: Log) -> str:
    return log.job.metadata.get("job") or f"jobid {log.job.jobid}"


def _record_ranks(log: Log) -> set[int]:
    ranks: set[int] = set()
    for records in log.records.values():
        ranks.update(int(r) for r in records["rank"] if r >= 0)
    for dxt in log.dxt.values():
        ranks.update(d.rank for d in dxt)
    return ranks


def _check_one_job(logs: list[tuple[str, Log]]) -> None:
    first_name, first = logs[0]
    seen: dict[int, str] = {}
    for name, log in logs:
        if _job_identity(log) != _job_identity(first):
            raise MergeError(f"{first_name} and {name} are logs of different jobs "
                             f"({_job_identity(first)} vs {_job_identity(log)})")
        if log.job.nprocs != first.job.nprocs:
            raise MergeError(f"{first_name} and {name} disagree on the job size "
                             f"({first.job.nprocs} vs {log.job.nprocs} processes)")
        for rank in _record_ranks(log):
            if rank in seen:
                raise MergeError(f"rank {rank} is in both {seen[rank]} and {name}")
            seen[rank] = name


def _rank_ranges(ranks: set[int]) -> str:
    """0-3,7,9-10"""
    out: list[str] = []
    for r in sorted(ranks):
        if out and r == int(out[-1].split("-")[-1]) + 1:
            out[-1] = f"{out[-1].split('-')[0]}-{r}"
        else:
            out.append(str(r))
    return ",".join(out) or "none"


def _rebased(records: np.ndarray, module: str, shift: float) -> np.ndarray:
    """Timestamps moved from a node's time base to the job's (0 stays 0)."""
    out = records.copy()
    stamps = [i for i, n in enumerate(M.fcounter_names(module)) if n.endswith("_TIMESTAMP")]
    fc = out["fcounters"]
    fc[:, stamps] = np.where(fc[:, stamps] != 0, fc[:, stamps] + shift, 0.0)
    return out


def _rebased_dxt(record: DxtRecord, shift: float) -> DxtRecord:
    segments = []
    for seg in (record.write_segments, record.read_segments):
        seg = seg.copy()
        seg["start_time"] += shift
        seg["end_time"] += shift
        segments.append(seg)
    return dataclasses.replace(record, write_segments=segments[0], read_segments=segments[1])


def _metadata(logs: list[tuple[str, Log]], reduce: bool) -> dict[str, str]:
    first = logs[0][1].job.metadata
    out = {k: v for k, v in first.items()
           if k not in SUMMED_METADATA and k not in ("node", "scope", "shared_reduction")}
    if first.get("ranks", "").startswith("MPI"):
        out["shared_reduction"] = "on" if reduce else "off"
    for key in SUMMED_METADATA:
        total = sum(int(log.job.metadata.get(key, "0").split()[0]) for _, log in logs)
        if total:
            out[key] = str(total)
    out["nodes"] = str(len(logs))
    used = sum(len(k) + len(v) + 2 for k, v in out.items())
    for i, (name, log) in enumerate(logs):
        line = (f"{log.job.metadata.get('node', name)}: ranks "
                f"{_rank_ranges(_record_ranks(log))} ({log.job.metadata.get('scope', name)})")
        key = f"node{i}"
        room = M.METADATA_LEN - 1 - used - len("nodes_not_listed=99999999\n")
        if len(key) + len(line) + 2 > room:
            out["nodes_not_listed"] = str(len(logs) - i)
            break
        out[key] = line
        used += len(key) + len(line) + 2
    return out


def merge_logs(logs: list[tuple[str, Log]], shared_reduction: bool = True) -> Log:
    """The job log of node logs given as (file name, log)."""
    if not logs:
        raise MergeError("no node logs to merge")
    _check_one_job(logs)
    first = logs[0][1].job
    start = min(log.job.start_ns for _, log in logs)
    end = max(log.job.end_ns for _, log in logs)
    records: dict[str, list[np.ndarray]] = {}
    dxt: dict[str, list[DxtRecord]] = {}
    names: dict[int, str] = {}
    mounts: list[tuple[str, str]] = []
    partial = 0
    heatmaps: list[tuple[int, list[HeatmapRecord]]] = []
    for _, log in logs:
        shift = (log.job.start_ns - start) / 1e9
        for module, recs in log.records.items():
            records.setdefault(module, []).append(_rebased(recs, module, shift))
        for module, dxt_recs in log.dxt.items():
            dxt.setdefault(module, []).extend(_rebased_dxt(r, shift) for r in dxt_recs)
        heatmaps.append((log.job.start_ns - start, log.heatmaps))
        for rid, name in log.names.items():
            names.setdefault(rid, name)
        mounts.extend(m for m in log.job.mounts if m not in mounts)
        partial |= log.partial_flag
    reduce = shared_reduction and first.metadata.get("ranks", "").startswith("MPI")
    merged: dict[str, np.ndarray] = {}
    for module, parts in records.items():
        recs = np.concatenate(parts)
        if reduce and module in RULES:
            recs = reduce_shared(recs, module, first.nprocs)
        merged[module] = recs
    job = Job(uid=first.uid, start_ns=start, end_ns=end, nprocs=first.nprocs, jobid=first.jobid,
              metadata=_metadata(logs, reduce), exe=first.exe, mounts=mounts)
    return Log(job=job, names=names, records=merged,
               heatmaps=rebased_heatmaps(heatmaps, end - start), dxt=dxt, partial_flag=partial)
