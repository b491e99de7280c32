"""`ebpf-darshan daemon --log-dir DIR`: record every user's I/O on this node,
one Darshan log per job (see node/jobs.py for what a job is)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import numpy as np

from ..api import check_system, start_tracer
from ..layers.catalog import ALL_LAYERS
from ..node.query import DEFAULT_SOCKET, QueryServer
from ..node.recorder import NodeOptions, NodeRecorder
from ..node.snapshot import answer
from ..tracer import TracerOptions
from .errors import CliError
from .tracer_args import (
    add_heatmap_option,
    add_layer_options,
    add_tracer_options,
    heatmap_options,
    path_filter_of,
    tracer_options,
)

POLL_MS = 100
DEFAULT_EVENT_BUFFER_MB = 16
# Users' uids start here on Debian and most distributions (login.defs UID_MIN).
DEFAULT_MIN_UID = 1000
DEFAULT_METRICS_JOBS = 100
DEFAULT_JOB_RECORDS = NodeOptions.max_kept_records
# Heatmap rows lent to processes doing I/O at the same time (27 KiB per
# API each: 40 MiB in all).
DEFAULT_HEATMAP_PROCS = 512


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-dir", required=True, help="logs go to DIR/YEAR/MONTH/DAY/")
    p.add_argument("--min-uid", type=int, default=DEFAULT_MIN_UID, metavar="UID",
                   help=f"trace processes of users with at least this uid (default "
                   f"{DEFAULT_MIN_UID}; root is never traced)")
    add_tracer_options(p, DEFAULT_EVENT_BUFFER_MB)
    add_layer_options(p)
    add_heatmap_option(p, "processes doing I/O at once that get heatmaps (later ones' bytes "
                       "are counted as lost)", DEFAULT_HEATMAP_PROCS)
    p.add_argument("--max-job-records", type=int, default=DEFAULT_JOB_RECORDS, metavar="N",
                   help="records of ended processes kept for running jobs, all jobs together "
                   f"(1.7 KiB each; default {DEFAULT_JOB_RECORDS})")
    p.add_argument("--obfuscate-paths", action="store_true",
                   help="replace file names and commands by their hashes in logs, "
                   "query answers and metrics")
    p.add_argument("--query-socket", default=DEFAULT_SOCKET, metavar="PATH",
                   help="unix socket for `ebpf-darshan query` and `top` "
                   f"(default {DEFAULT_SOCKET})")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on this port")
    p.add_argument("--metrics-address", default="127.0.0.1", metavar="ADDR",
                   help="address the metrics are served on (default 127.0.0.1)")
    p.add_argument("--metrics-max-jobs", type=int, default=DEFAULT_METRICS_JOBS, metavar="N",
                   help=f"job series at most; the rest are summed as job=\"other\" "
                   f"(default {DEFAULT_METRICS_JOBS})")
    p.add_argument("--metrics-files", type=int, default=0, metavar="N",
                   help="also per-file series for the N busiest files of each job (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.min_uid < 1:
        raise CliError("--min-uid must be at least 1 (root's processes, the daemon's own "
                       "included, are never traced)")
    log_dir = Path(args.log_dir)
    if not log_dir.is_dir():
        raise CliError(f"--log-dir {log_dir} is not a directory")
    layers = [layer() for layer in ALL_LAYERS if not getattr(args, f"no_{layer.name}")]
    options = heatmap_options(args, tracer_options(args, TracerOptions(
        lifecycle_consts={"trace_uid_min": np.uint32(args.min_uid)}, own_heatmap_clocks=True,
        layers=layers, probes_shared=True)))
    path_filter = path_filter_of(args)
    check_system("daemon")
    tracer = start_tracer(options)
    node = NodeRecorder(tracer, path_filter, NodeOptions(
        log_dir, obfuscate=args.obfuscate_paths, max_kept_records=args.max_job_records))
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    server = None
    try:
        try:
            server = QueryServer(args.query_socket, lambda uid, req: answer(node, uid, req))
            if args.metrics_port is not None:
                from ..node.metrics import serve_metrics
                serve_metrics(node, args.metrics_address, args.metrics_port,
                              args.metrics_max_jobs, args.metrics_files)
        except OSError as e:
            raise CliError(f"cannot listen: {e.strerror or e}") from e
        print(f"ebpf-darshan daemon: recording (query socket {args.query_socket})",
              file=sys.stderr, flush=True)
        while not stopping:
            node.step(POLL_MS)
        node.stop()
    finally:
        if server is not None:
            server.close()
        tracer.close()
    return 0
