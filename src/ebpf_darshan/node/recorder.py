"""The node-wide recorder: events routed to jobs, records of ended
processes taken out of the kernel maps, one log per job when it ends.

Memory is bounded.  The kernel maps are fixed at --max-records slots: the
records of a process are taken out and their slots given back as soon as
it has ended.  User space keeps, per running job, the taken records of
its ended processes (1.7 KiB each; records of excluded files are dropped)
and the names of its files, and frees them when the job's log is
written; all jobs together keep at most --max-job-records taken records
(110 MiB for the default 65536), and records beyond that are counted as
lost in their job's log (marked partial).

Heatmaps work the same way: each process's counts from its job's clock
(heatmap_own_clocks in bpf/heatmap.bpf.h), in one of --heatmap-procs
kernel rows lent to it at its first byte and given back at its end; a job
keeps the nonzero bins of its ended processes, and at most
max_kept_segments operations whose bytes the kernel left to user space.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import bpf_layout as L
from ..heatmap import compact_rows, expand_rows
from ..layers.base import LayerResult, concat_tables
from ..library_probes import LibraryProbes
from ..log_builder import JobFacts, build_log
from ..mounts import merge_tables, mount_table
from ..names import PathFilter
from ..recorder import release
from ..timelines import KernelTimelines
from ..tracer import Tracer, off_metadata
from .jobs import EVENT_HEADER, JobTable, NodeJob, Origin
from .logs import job_log_path, mark_partial, obfuscate_log, write_job_log

# A process that vanished without an exit event (the ring buffer was full)
# is noticed by a sweep this often; records of processes the daemon never
# heard of are taken when two sweeps in a row found them.
SWEEP_S = 2.0
# A job whose processes were never seen to exec (forked from a process that
# was running before the daemon) has no command to name its log after.
UNKNOWN_EXE = "unknown"


@dataclass
class NodeOptions:
    log_dir: Path
    obfuscate: bool = False
    max_kept_records: int = 65536
    max_kept_segments: int = 1 << 20  # 56 MiB
    sweep_s: float = SWEEP_S


@dataclass
class NodeStats:
    logs_written: int = 0
    log_errors: int = 0
    orphan_records: int = 0   # records of processes whose fork event was lost


def _event_kind(raw: bytes) -> tuple[int, int]:
    ev = np.frombuffer(raw[:EVENT_HEADER], dtype=L.event)[0]
    return int(ev["kind"]), int(ev["proc"])


class NodeRecorder:
    """Call step() in a loop; stop() writes the logs of running jobs."""

    def __init__(self, tracer: Tracer, path_filter: PathFilter, options: NodeOptions):
        self.tracer = tracer
        self.options = options
        boot_epoch_ns = time.time_ns() - time.monotonic_ns()
        # Every job's processes get the library probes, attached while the
        # kernel holds them as for `record` (library_probes.py).
        self.probes = LibraryProbes(tracer.layers, shared_to=tracer.library_probed)
        self.jobs = JobTable(path_filter, boot_epoch_ns, [self.probes])
        self.stats = NodeStats()
        # Held while the tables change; query and metrics threads take it
        # to read a consistent picture.
        self.lock = threading.Lock()
        self._ended: set[int] = set()
        self._suspects: set[int] = set()
        self._last_sweep = time.monotonic()
        # Told of every finished job and its records (the metrics keep totals).
        self.on_job_done: Callable[[NodeJob, np.ndarray, np.ndarray], None] = \
            lambda job, keys, values: None

    def step(self, timeout_ms: int) -> None:
        # The sweep looks for gone processes before the drain, never after:
        # the kernel sends a process's exit event before /proc forgets its
        # pid, so the drain then brings every exit event that was not lost,
        # with the events sent before it.  A process found gone after the
        # drain may have events still in the ring: its records would be
        # taken before their names came, its job written without them.
        due = time.monotonic() - self._last_sweep >= self.options.sweep_s
        gone = self._gone() if due else None
        raws = self.tracer.poll(timeout_ms)
        with self.lock:
            health = self.tracer.health()
            for raw in raws:
                self._dispatch(raw, health)
            self._route_segments()
            if gone is not None:
                self._sweep(gone)
            if self._ended:
                self._take(self._ended)
                self._ended = set()
            for job in [j for j in self.jobs.running.values() if not j.live]:
                self._write(job, partial=None)

    def _dispatch(self, raw: bytes, health: np.ndarray) -> None:
        kind, proc = _event_kind(raw)
        job: NodeJob | None
        if kind == L.EV_FORK:
            job = self.jobs.place(Origin.of_fork(raw), health)
        else:
            job = self.jobs.of(proc)
        if job is None:
            # its fork event was lost: the sweep takes its records
            ev = np.frombuffer(raw[:EVENT_HEADER], dtype=L.event)[0]
            if ev["held"]:
                release(int(ev["pid"]))
            return
        job.recording.handle(raw, self.tracer)
        if kind == L.EV_EXIT:
            self.jobs.ended(proc)
            self._ended.add(proc)

    def _route_segments(self) -> None:
        """Give each job the operations of its processes that the kernel
        left to user space to bin (their file had no accepted name yet)."""
        segments, _, over = self.tracer.take_segments()
        running = list(self.jobs.running.values())
        for each in running:
            each.lost_pending += over  # not told apart by job
        kept = sum(j.pending_count for j in running)
        procs = segments["key"]["proc"]
        for proc in np.unique(procs).tolist():
            job = self.jobs.of(proc)
            if job is None:
                continue
            mine = segments[procs == proc]
            if kept + len(mine) > self.options.max_kept_segments:
                job.lost_pending += len(mine)
                continue
            kept += len(mine)
            job.pending.append(mine)
            job.pending_count += len(mine)

    def _gone(self) -> set[int]:
        """The live processes that have left /proc."""
        gone = set()
        for job in self.jobs.running.values():
            for proc in job.live:
                pid = job.recording.procs[proc].pid if proc in job.recording.procs else 0
                if not pid or not os.path.exists(f"/proc/{pid}"):
                    gone.add(proc)
        return gone

    def _sweep(self, gone: set[int]) -> None:
        """Catch what lost events hid: processes gone without an exit event
        (gone: found gone before the events were drained), records of
        processes never placed in a job."""
        self._last_sweep = time.monotonic()
        for proc in gone:
            job = self.jobs.of(proc)
            if job is not None and proc in job.recording.procs:
                self.probes.forget(job.recording.procs[proc].pid)
            self.jobs.ended(proc)
            self._ended.add(proc)
        keys, _ = self.tracer.records()
        seen = set(np.unique(keys["proc"]).tolist()) | self.tracer.heatmap_procs()
        unknown = {p for p in seen if self.jobs.of(p) is None}
        orphans = unknown & self._suspects
        self._suspects = unknown - orphans
        if orphans:
            keys, _ = self.tracer.take_records(np.array(sorted(orphans), dtype=np.uint32))
            self.tracer.own_heatmaps(sorted(orphans), take=True)
            self.stats.orphan_records += len(keys)

    def _take(self, procs: set[int]) -> None:
        """Move the ended processes' records from the kernel to their jobs."""
        keys, values = self.tracer.take_records(np.array(sorted(procs), dtype=np.uint32))
        counted = (values["flags"] & L.RECORD_EXCLUDED) == 0
        keys, values = keys[counted], values[counted]
        kept = sum(j.kept_count for j in self.jobs.running.values())
        for proc in np.unique(keys["proc"]).tolist():
            job = self.jobs.of(proc)
            mine = keys["proc"] == proc
            if job is None:
                self.stats.orphan_records += int(mine.sum())
                continue
            n = int(mine.sum())
            if kept + n > self.options.max_kept_records:
                job.lost_records += n
                continue
            kept += n
            job.kept_keys.append(keys[mine])
            job.kept_values.append(values[mine])
            job.kept_count += n
        self._take_layers(procs)
        for proc, heatmap in self.tracer.own_heatmaps(sorted(procs), take=True).items():
            job = self.jobs.of(proc)
            if job is None:
                continue
            job.heatmap_origins[proc] = heatmap.origin
            if heatmap.rows is not None:
                job.heatmap_bins[proc] = compact_rows(heatmap.rows)

    def _take_layers(self, procs: set[int]) -> None:
        """Move the ended processes' library-layer records to their jobs."""
        for layer, tables in self.tracer.take_layers(np.array(sorted(procs), dtype=np.uint32)):
            owners = np.unique(np.concatenate([keys["proc"] for keys, _ in tables]))
            by_job: dict[str, list[int]] = {}
            for proc in owners.tolist():
                job = self.jobs.of(proc)
                if job is not None:
                    by_job.setdefault(job.key, []).append(proc)
            for key, mine in by_job.items():
                job = self.jobs.running[key]
                job.layer_tables.setdefault(layer.name, []).append(tuple(
                    (keys[np.isin(keys["proc"], mine)], values[np.isin(keys["proc"], mine)])
                    for keys, values in tables))

    def _layer_results(self, job: NodeJob) -> list[LayerResult]:
        """The job's library-layer results: its processes are all taken."""
        return [layer.result(concat_tables(job.layer_tables[layer.name]))
                for layer, _ in self.tracer.layers if layer.name in job.layer_tables]

    def job_records(self, job: NodeJob) -> tuple[np.ndarray, np.ndarray]:
        """Everything the job has counted so far: taken records and the live
        records of its running processes (copied from the map)."""
        kept_keys, kept_values = job.kept()
        if not job.live:
            return kept_keys, kept_values
        keys, values = self.tracer.records()
        mine = np.isin(keys["proc"], np.array(sorted(job.live), dtype=np.uint32))
        return np.concatenate([kept_keys, keys[mine]]), np.concatenate([kept_values, values[mine]])

    def job_timelines(self, job: NodeJob) -> KernelTimelines:
        """The job's heatmaps so far: taken ones and those of its running
        processes (copied from the kernel), with the operations left to
        user space to bin."""
        live = self.tracer.own_heatmaps(sorted(job.live), take=False)
        origins = {**job.heatmap_origins, **{p: h.origin for p, h in live.items()}}
        rows = {p: expand_rows(*bins) for p, bins in job.heatmap_bins.items()}
        rows.update((p, h.rows) for p, h in live.items() if h.rows is not None)
        pending = (np.concatenate(job.pending) if job.pending
                   else np.zeros(0, dtype=L.io_segment))
        for proc in np.unique(pending["key"]["proc"]).tolist():
            if proc in origins and proc not in rows:  # all its bytes are pending
                rows[proc] = np.zeros(L.HEATMAP_APIS, dtype=L.heatmap_row)
        return KernelTimelines(pending, 0, job.lost_pending, rows, origins)

    def _write(self, job: NodeJob, partial: str | None) -> None:
        if job.live:  # the daemon is stopping: the rest of its layer records
            self._take_layers(set(job.live))
        keys, values = self.job_records(job)
        rec = job.recording
        rec.end_epoch_ns = time.time_ns()
        health = self.tracer.health() - job.health_at_start
        try:
            mounts = merge_tables(mount_table(os.getpid()), rec.namespaces.tables())
        finally:
            rec.namespaces.close()
        facts = JobFacts(job.uid, job.jobid, [job.exe or UNKNOWN_EXE], mounts,
                         metadata=off_metadata(self.tracer.off))
        log = build_log(rec, keys, values, health, facts, layers=self._layer_results(job),
                        timelines=self.job_timelines(job))
        if job.lost_records:
            log.job.metadata["lost_retired_records"] = str(job.lost_records)
            mark_partial(log, "the daemon's bound on kept records was reached")
        if partial:
            mark_partial(log, partial)
        self.on_job_done(job, keys, values)
        if self.options.obfuscate:
            log = obfuscate_log(log)
        path = job_log_path(self.options.log_dir, job.uid, log.job.exe, job.jobid, job.pid,
                            rec.start_epoch_ns)
        try:
            write_job_log(path, log, job.uid)
            self.stats.logs_written += 1
        except (OSError, ValueError) as e:
            self.stats.log_errors += 1
            print(f"ebpf-darshan daemon: cannot write {path}: {e}", file=sys.stderr)
        self.jobs.finish(job)

    def stop(self) -> None:
        """Write the logs of the jobs still running, marked partial."""
        with self.lock:
            for raw in self.tracer.poll(0):
                self._dispatch(raw, self.tracer.health())
            self._route_segments()
            if self._ended:
                self._take(self._ended)
            for job in list(self.jobs.running.values()):
                self._write(job, partial="the daemon stopped while the job was running")
        self.probes.close()
