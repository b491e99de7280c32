"""Processes grouped into jobs, and what each job has gathered so far.

A new traced process joins, in this order:
  1. the Slurm job N, if its cgroup path has a `job_N` directory or its
     environment (read when its fork or exec is seen) has SLURM_JOB_ID=N;
  2. its parent's job, if its parent is traced and does not lead its
     session (children of a process inherit its job: a script and
     everything it runs are one job);
  3. otherwise a job of its own, of which it is the top-level process.  A
     process is top-level when nothing traced started it (its parent
     belongs to root or another user below the daemon's uid threshold:
     sshd, cron, systemd, su, a batch system's step daemon) or when its
     parent leads its session (an interactive or login shell: every
     command typed is a job, the shell itself another).
A job ends when its last traced process has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import bpf_layout as L
from ..layers.base import Tables
from ..names import PathFilter
from ..recorder import ProcessWatcher, Recording
from .slurm import SlurmJobs

EVENT_HEADER = L.event.itemsize


@dataclass
class NodeJob:
    key: str           # "slurm-N" or "proc-P" (P: the top-level process)
    jobid: int         # the Slurm job id, else the top-level pid
    uid: int
    pid: int           # the top-level (first) process
    recording: Recording
    health_at_start: np.ndarray
    live: set[int] = field(default_factory=set)
    # Records of ended processes, taken out of the kernel maps.
    kept_keys: list[np.ndarray] = field(default_factory=list)
    kept_values: list[np.ndarray] = field(default_factory=list)
    kept_count: int = 0
    lost_records: int = 0  # ended processes' records beyond the daemon's bound
    # Heatmaps of ended processes, taken out of the kernel: the clock each
    # counts from, and the nonzero bins (heatmap.compact_rows) of those
    # that counted bytes.
    heatmap_origins: dict[int, int] = field(default_factory=dict)
    heatmap_bins: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Operations the kernel left to user space to bin (L.io_segment), and
    # those beyond the daemon's bound.
    pending: list[np.ndarray] = field(default_factory=list)
    pending_count: int = 0
    lost_pending: int = 0
    # Library-layer records of ended processes, by layer name.
    layer_tables: dict[str, list[Tables]] = field(default_factory=dict)

    @property
    def exe(self) -> str:
        first = min(self.recording.procs) if self.recording.procs else None
        return self.recording.procs[first].exe if first is not None else ""

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.kept_keys:
            return np.zeros(0, dtype=L.file_key), np.zeros(0, dtype=L.posix_record)
        return np.concatenate(self.kept_keys), np.concatenate(self.kept_values)


@dataclass
class Origin:
    proc: int
    parent_proc: int
    pid: int
    start_ns: int
    uid: int
    cgroup_id: int
    parent_leads_session: bool

    @classmethod
    def of_fork(cls, raw: bytes) -> Origin:
        ev = np.frombuffer(raw[:EVENT_HEADER], dtype=L.event)[0]
        o = np.frombuffer(raw[EVENT_HEADER:EVENT_HEADER + L.proc_origin.itemsize],
                          dtype=L.proc_origin)[0]
        return cls(int(ev["proc"]), int(ev["parent_proc"]), int(ev["pid"]),
                   int(ev["start_ns"]), int(o["uid"]), int(o["cgroup_id"]),
                   bool(o["parent_leads_session"]))


class JobTable:
    """Running jobs and which job each traced process belongs to."""

    def __init__(self, path_filter: PathFilter, boot_epoch_ns: int,
                 watchers: list[ProcessWatcher]):
        self.path_filter = path_filter
        self._watchers = watchers  # of every job's processes
        self._boot_epoch_ns = boot_epoch_ns
        self._slurm = SlurmJobs()
        self.running: dict[str, NodeJob] = {}
        self._of_proc: dict[int, NodeJob] = {}

    def of(self, proc: int) -> NodeJob | None:
        return self._of_proc.get(proc)

    def place(self, origin: Origin, health: np.ndarray) -> NodeJob:
        """The job a new process joins (rules 1-3 above)."""
        parent = self._of_proc.get(origin.parent_proc)
        if parent is not None and (parent.key.startswith("slurm-")
                                   or not origin.parent_leads_session):
            job = parent
        else:
            slurm = self._slurm.job_of(origin.cgroup_id, origin.pid)
            key = f"slurm-{slurm}" if slurm is not None else f"proc-{origin.proc}"
            job = self.running.get(key) or self._start(key, slurm, origin, health)
        job.live.add(origin.proc)
        self._of_proc[origin.proc] = job
        return job

    def _start(self, key: str, slurm: int | None, origin: Origin, health: np.ndarray) -> NodeJob:
        rec = Recording(self.path_filter, watchers=self._watchers)
        rec.start_ktime = origin.start_ns
        rec.start_epoch_ns = self._boot_epoch_ns + origin.start_ns
        job = NodeJob(key, slurm if slurm is not None else origin.pid, origin.uid, origin.pid,
                      rec, health.copy())
        self.running[key] = job
        return job

    def ended(self, proc: int) -> None:
        job = self._of_proc.get(proc)
        if job is not None:
            job.live.discard(proc)

    def live_procs(self) -> set[int]:
        return {p for job in self.running.values() for p in job.live}

    def finish(self, job: NodeJob) -> None:
        """Forget a job whose log is written."""
        del self.running[job.key]
        for proc in job.recording.procs:
            self._of_proc.pop(proc, None)
