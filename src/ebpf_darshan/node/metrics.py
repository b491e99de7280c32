"""Prometheus metrics (OpenMetrics when the scraper asks for it) of the
node's I/O: bytes, operations and time per running job, per user and per
file system, and the recorder's own health.

Label cardinality is bounded: at most --metrics-max-jobs job series (the
busiest; the rest are summed as job="other"), one per user and per mounted
file system, and per-file series only when asked for (the busiest
--metrics-files files of each job).  Per-user and per-file-system counters
include finished jobs, so they only grow.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..live import FIELDS, totals
from .jobs import NodeJob
from .logs import user_of
from .recorder import NodeRecorder
from .snapshot import health, job_rows

PREFIX = "ebpf_darshan"
COL = {name: i for i, name in enumerate(FIELDS)}
# (metric, sub-label, {sub-label value: totals() column})
GROUPS = (
    ("bytes", "direction", {"read": COL["bytes_read"], "write": COL["bytes_written"]}),
    ("operations", "op", {op: COL[op + "s"] for op in ("read", "write", "open", "stat", "seek",
                                                       "fsync")}),
    ("io_seconds", "kind", {"read": COL["read_seconds"], "write": COL["write_seconds"],
                            "meta": COL["meta_seconds"]}),
)
OTHER_JOBS = "other"

# Summed totals() rows by label values: (user,), (mount, fstype), (job, user), (job, file).
Labels = tuple[str, ...]
Table = dict[Labels, np.ndarray]


class MountsByDevice:
    """Kernel dev_t -> (mount point, fs type), from our mountinfo."""

    def __init__(self) -> None:
        self._table: dict[int, tuple[str, str]] = {}

    def _read(self) -> None:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                major, minor = (int(x) for x in fields[2].split(":"))
                fstype = fields[fields.index("-") + 1]
                # The shortest mount point of a device names it (bind
                # mounts repeat the device).
                dev = major << 20 | minor
                point = fields[4]
                if dev not in self._table or len(point) < len(self._table[dev][0]):
                    self._table[dev] = (point, fstype)

    def of(self, dev: int) -> tuple[str, str]:
        if dev not in self._table:
            self._read()
        return self._table.get(dev, ("unknown", "unknown"))


def _add(table: Table, label: Labels, row: np.ndarray) -> None:
    table[label] = table.get(label, 0) + row


class NodeCollector:
    def __init__(self, node: NodeRecorder, max_jobs: int, files_per_job: int):
        self.node = node
        self.max_jobs = max_jobs
        self.files_per_job = files_per_job
        self.mounts = MountsByDevice()
        self.finished_users: Table = {}
        self.finished_fs: Table = {}
        node.on_job_done = self._job_done

    def _by_fs(self, table: Table, keys: np.ndarray, rows: np.ndarray) -> None:
        for dev, row in zip(keys["dev"].tolist(), rows, strict=True):
            _add(table, self.mounts.of(dev), row)

    def _job_done(self, job: NodeJob, keys: np.ndarray, values: np.ndarray) -> None:
        rows = totals(values)
        _add(self.finished_users, (user_of(job.uid)[0],), rows.sum(axis=0))
        self._by_fs(self.finished_fs, keys, rows)

    def collect(self) -> Iterator[Metric]:
        with self.node.lock:
            users = dict(self.finished_users)
            filesystems = dict(self.finished_fs)
            jobs: list[tuple[Labels, np.ndarray]] = []
            files: Table = {}
            for job in self.node.jobs.running.values():
                keys, names, rows = job_rows(self.node, job)
                user = user_of(job.uid)[0]
                jobs.append(((job.key, user), rows.sum(axis=0)))
                _add(users, (user,), rows.sum(axis=0))
                self._by_fs(filesystems, keys, rows)
                if self.files_per_job:
                    per_file: Table = {}
                    for name, row in zip(names, rows, strict=True):
                        _add(per_file, (job.key, name), row)
                    busiest = sorted(per_file.items(), key=lambda kv: -self._bytes(kv[1]))
                    files.update(busiest[:self.files_per_job])
            node_health = health(self.node)
        yield from self._families("job", ("job", "user"), self._bounded(jobs))
        yield from self._families("user", ("user",), users)
        yield from self._families("filesystem", ("mount", "fstype"), filesystems)
        if self.files_per_job:
            yield from self._families("file", ("job", "file"), files)
        yield from self._health(node_health, len(jobs))

    @staticmethod
    def _bytes(row: np.ndarray) -> float:
        return float(row[COL["bytes_read"]] + row[COL["bytes_written"]])

    def _bounded(self, jobs: list[tuple[Labels, np.ndarray]]) -> Table:
        jobs.sort(key=lambda kv: -self._bytes(kv[1]))
        out = dict(jobs[:self.max_jobs])
        for _, row in jobs[self.max_jobs:]:
            _add(out, (OTHER_JOBS, OTHER_JOBS), row)
        return out

    @staticmethod
    def _families(scope: str, labels: tuple[str, ...], table: Table) -> Iterator[Metric]:
        for what, sub, columns in GROUPS:
            fam = CounterMetricFamily(f"{PREFIX}_{scope}_{what}",
                                      f"{what.replace('_', ' ')} of traced POSIX I/O per {scope}",
                                      labels=[*labels, sub])
            for label, row in table.items():
                for value, col in columns.items():
                    fam.add_metric([*label, value], float(row[col]))
            yield fam

    @staticmethod
    def _health(h: dict[str, int], running: int) -> Iterator[Metric]:
        counters = {"records_dropped": "calls on files that got no record (record map full)",
                    "events_lost": "events lost to a full ring buffer",
                    "processes_lost": "processes that could not be traced",
                    "calls_lost_busy": "calls not counted because a record stayed locked",
                    "orphan_records": "records of processes whose start was never seen",
                    "logs_written": "job logs written",
                    "log_errors": "job logs that could not be written"}
        for name, doc in counters.items():
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=h[name])
        yield GaugeMetricFamily(f"{PREFIX}_records", "kernel records in use",
                                value=h["records_in_use"])
        yield GaugeMetricFamily(f"{PREFIX}_record_slots", "kernel record slots",
                                value=h["record_slots"])
        yield GaugeMetricFamily(f"{PREFIX}_record_map_fill", "fraction of record slots in use",
                                value=h["records_in_use"] / h["record_slots"])
        yield GaugeMetricFamily(f"{PREFIX}_jobs_running", "jobs being recorded", value=running)


def serve_metrics(node: NodeRecorder, address: str, port: int, max_jobs: int,
                  files_per_job: int) -> None:
    registry = CollectorRegistry()
    registry.register(NodeCollector(node, max_jobs, files_per_job))
    start_http_server(port, addr=address, registry=registry)
