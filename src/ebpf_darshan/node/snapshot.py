"""What query and top show: a running job's counters so far, in total, per
process and per file."""

from __future__ import annotations

import socket
from collections.abc import Hashable
from typing import TypeVar

import numpy as np

from .. import bpf_layout as L
from ..live import as_dict, totals
from .jobs import NodeJob
from .logs import obfuscated, user_of
from .query import JsonObject
from .recorder import NodeRecorder

NS_PER_S = 1e9
UNNAMED = "<unnamed>"

Label = TypeVar("Label", bound=Hashable)


def _grouped(labels: list[Label], rows: np.ndarray) -> dict[Label, np.ndarray]:
    out: dict[Label, np.ndarray] = {}
    for label, row in zip(labels, rows, strict=True):
        out[label] = out.get(label, 0) + row
    return out


def job_rows(node: NodeRecorder, job: NodeJob) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The job's counted records (excluded ones left out): keys, names
    (hashed when names are obfuscated) and totals() rows."""
    keys, values = node.job_records(job)
    rec = job.recording
    names = [rec.names.get((int(k["proc"]), int(k["dev"]), int(k["ino"])), UNNAMED)
             for k in keys]
    keep = np.array([(v["flags"] & L.RECORD_EXCLUDED) == 0 and not rec.path_filter.excluded(n)
                     for v, n in zip(values, names, strict=True)], dtype=bool)
    names = [n for n, k in zip(names, keep, strict=True) if k]
    if node.options.obfuscate:
        names = [obfuscated(n) for n in names]
    return keys[keep], names, totals(values[keep])


def job_snapshot(node: NodeRecorder, job: NodeJob) -> JsonObject:
    keys, names, rows = job_rows(node, job)
    rec = job.recording
    per_proc = _grouped(keys["proc"].tolist(), rows)
    per_file = _grouped(names, rows)
    return {
        "job": job.key,
        "jobid": job.jobid,
        "uid": job.uid,
        "user": user_of(job.uid)[0],
        "exe": obfuscated(job.exe) if node.options.obfuscate else job.exe,
        "pid": job.pid,
        "start_time": rec.start_epoch_ns / NS_PER_S,
        "running_processes": len(job.live),
        "totals": as_dict(rows.sum(axis=0)),
        "processes": [dict(pid=rec.procs[p].pid if p in rec.procs else 0,
                           exe=rec.procs[p].exe if p in rec.procs else "", **as_dict(row))
                      for p, row in per_proc.items()],
        "files": [dict(name=name, **as_dict(row)) for name, row in per_file.items()],
    }


def health(node: NodeRecorder) -> dict[str, int]:
    h = node.tracer.health()
    return {"records_in_use": node.tracer.record_count(),
            "record_slots": node.tracer.options.max_records,
            "records_dropped": int(h[L.H_RECORDS_DROPPED]),
            "events_lost": int(h[L.H_EVENTS_DROPPED]),
            "processes_lost": int(h[L.H_PROCS_DROPPED]),
            "calls_lost_busy": int(h[L.H_CALLS_BUSY]),
            "orphan_records": node.stats.orphan_records,
            "logs_written": node.stats.logs_written,
            "log_errors": node.stats.log_errors}


def answer(node: NodeRecorder, uid: int, request: JsonObject) -> JsonObject:
    """The query socket's answer to a peer: root sees every job, a user
    only their own."""
    with node.lock:
        jobs = [job_snapshot(node, j) for j in node.jobs.running.values()
                if uid == 0 or j.uid == uid]
        out = {"host": socket.gethostname(), "jobs": jobs, "health": health(node)}
    wanted = request.get("job")
    if wanted is not None:
        out["jobs"] = [j for j in jobs if str(wanted) in (j["job"], str(j["jobid"]))]
    return out
