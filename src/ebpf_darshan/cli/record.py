"""`ebpf-darshan record -o job.darshan -- CMD...`: run CMD, count its I/O in
the kernel, write a Darshan log, exit with CMD's status.  With --pid,
--cgroup or --jobid-env it records processes it did not launch (one node's
share of a job) until they are gone, and exits 0.  The work is the Python
API's (api.py); this is its command line."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..api import Recorded, RecordOptions, record, record_scope_of
from ..layers.catalog import ALL_LAYERS
from ..scope import CgroupScope, EnvScope, PidScope, Scope, ScopeError
from ..tracer import TracerOptions
from .errors import CliError
from .tracer_args import (
    add_layer_options,
    add_timeline_options,
    add_tracer_options,
    timeline_options,
    tracer_options,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="log file to write")
    out.add_argument("--log-dir", help="directory for a log named the way Darshan names them "
                     "(default: the current directory)")
    add_tracer_options(p)
    add_layer_options(p)
    add_timeline_options(p)
    p.add_argument("--strict", action="store_true",
                   help="if the kernel refuses the POSIX module, fail before running CMD "
                   "(default: warn, run CMD unrecorded, exit with its status)")
    p.add_argument("--no-shared-reduction", action="store_true",
                   help="keep every MPI rank's record of a file all ranks opened, instead of "
                   "one rank -1 record")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--pid", type=int, metavar="PID",
                       help="instead of CMD: record running process PID and its descendants")
    scope.add_argument("--cgroup", metavar="PATH",
                       help="instead of CMD: record the processes of a cgroup v2 directory "
                       "(e.g. a Slurm job's), until it is empty")
    scope.add_argument("--jobid-env", metavar="NAME=VALUE",
                       help="instead of CMD: record processes with NAME=VALUE in their "
                       "environment (e.g. SLURM_JOB_ID=1234)")
    p.add_argument("--duration", type=float, metavar="S",
                   help="with --pid/--cgroup/--jobid-env: stop after S seconds")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def _scope(args: argparse.Namespace) -> Scope | None:
    try:
        if args.pid is not None:
            return PidScope(pid=args.pid)
        if args.cgroup is not None:
            return CgroupScope(path=Path(args.cgroup))
        if args.jobid_env is not None:
            return EnvScope(assignment=args.jobid_env)
    except ScopeError as e:
        raise CliError(str(e)) from e
    return None


def record_options(args: argparse.Namespace) -> RecordOptions:
    """The API's options from the command line's."""
    return RecordOptions(
        output=Path(args.output) if args.output else None,
        log_dir=Path(args.log_dir or "."),
        include=args.include, exclude=args.exclude,
        layers=[layer.name for layer in ALL_LAYERS if not getattr(args, f"no_{layer.name}")],
        shared_reduction=not args.no_shared_reduction, strict=args.strict,
        tracer=timeline_options(args, tracer_options(args, TracerOptions())))


def _record_scope(scope: Scope, options: RecordOptions, duration: float | None) -> Recorded:
    stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))

    def ready() -> None:
        print(f"ebpf-darshan: recording {scope.describe()}", file=sys.stderr, flush=True)

    return record_scope_of(scope, None, options, duration, lambda: bool(stop), ready)


def run(args: argparse.Namespace) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    scope = _scope(args)
    if scope is not None and argv:
        raise CliError("give either a command or --pid/--cgroup/--jobid-env, not both", 2)
    if scope is None and not argv:
        raise CliError("no command to record (usage: ebpf-darshan record -o FILE -- CMD ...)", 2)
    if args.duration is not None and (scope is None or args.duration <= 0):
        raise CliError("--duration needs --pid, --cgroup or --jobid-env, and a positive time", 2)
    options = record_options(args)
    done = (_record_scope(scope, options, args.duration) if scope is not None
            else record(argv, options=options))
    if done.partial:
        print(f"ebpf-darshan: {done.path}: the log is partial; its metadata lines say what is "
              "missing (lost_* lines: raise --max-records or --event-buffer-mb; dxt_*: "
              "--dxt-max-segments or --dxt-buffer-mb; heatmap_lost_ops: --heatmap-procs)",
              file=sys.stderr)
    return done.exit_code
