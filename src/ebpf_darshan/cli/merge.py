"""`ebpf-darshan merge -o job.darshan NODE_LOGS...`: the job log of an MPI
job recorded by one `record --cgroup/--pid/--jobid-env` per node."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..darshan import write_log
from ..merge import MergeError, merge_logs
from .errors import CliError, read_log_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="job log to write")
    p.add_argument("--no-shared-reduction", action="store_true",
                   help="keep every rank's record of a file all ranks opened")
    p.add_argument("logs", nargs="+", metavar="NODE_LOG", help="node logs of one job")


def run(args: argparse.Namespace) -> int:
    logs = [(path, read_log_file(path)) for path in args.logs]
    try:
        job = merge_logs(logs, shared_reduction=not args.no_shared_reduction)
    except MergeError as e:
        raise CliError(str(e)) from e
    out = Path(args.output)
    try:
        write_log(out, job)
    except OSError as e:
        raise CliError(f"cannot write the log {out}: {e.strerror or e}") from e
    return 0
