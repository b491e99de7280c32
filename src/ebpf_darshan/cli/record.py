"""`ebpf-darshan record -o job.darshan -- CMD...`: run CMD, count its I/O in
the kernel, write a Darshan log, exit with CMD's status.  With --pid,
--cgroup or --jobid-env it records processes it did not launch (one node's
share of a job) until they are gone, and exits 0."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..darshan import write_log
from ..job import default_log_name, invoking_user, job_id
from ..launch import HeldCommand, run_untraced
from ..layers import ALL_LAYERS
from ..library_probes import LibraryProbes
from ..log_builder import JobFacts, build_log
from ..mounts import merge_tables, mount_table
from ..recorder import POLL_MS, Recording, run as run_recording
from ..scope import CgroupScope, EnvScope, PidScope, Scope, ScopeError, record_scope
from ..tracer import Tracer, TracerOptions, off_metadata
from .errors import CliError
from .tracer_args import add_layer_options, add_timeline_options, add_tracer_options, \
    check_system, path_filter_of, start_tracer, timeline_options, tracer_options


@dataclass
class Launched:
    """What the log needs to know about how the recording ran."""
    argv: list[str]
    mounts: list[tuple[str, str]]
    pid: int
    exit_code: int
    metadata: dict[str, str]


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    p = verbs.add_parser(name, help="run a command and write its Darshan log")
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


def _output_dir(args: argparse.Namespace) -> Path:
    directory = Path(args.output).parent if args.output else Path(args.log_dir or ".")
    if not directory.is_dir():
        raise CliError(f"cannot write the log: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"cannot write the log: {directory} is not writable")
    return directory


def _scope(args: argparse.Namespace) -> Scope | None:
    try:
        if args.pid is not None:
            return PidScope(pid=args.pid)
        if args.cgroup is not None:
            return CgroupScope(path=Path(args.cgroup))
        if args.jobid_env is not None:
            return EnvScope(assignment=args.jobid_env)
    except ScopeError as e:
        raise CliError(str(e))
    return None


def _launch(tracer: Tracer, recording: Recording, argv: list[str]) -> Launched:
    command = HeldCommand.start(argv)
    try:
        mounts = mount_table(command.pid)
        run_recording(tracer, command, recording, argv[0])
    except BaseException:
        command.abandon()
        raise
    return Launched(argv, mounts, command.pid, command.exit_code, {})


def _record_scope(tracer: Tracer, recording: Recording, scope: Scope,
                  duration: float | None) -> Launched:
    stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    deadline = time.monotonic() + duration if duration is not None else None

    def stopped() -> bool:
        return bool(stop) or (deadline is not None and time.monotonic() >= deadline)

    def started() -> None:
        print(f"ebpf-darshan: recording {scope.describe()}", file=sys.stderr, flush=True)

    record_scope(tracer, scope, recording, stopped, started, POLL_MS)
    first = next((p for p in recording.procs.values() if p.exe), None)
    argv = [first.exe] if first else [scope.describe()]
    return Launched(argv, mount_table(os.getpid()), first.pid if first else os.getpid(), 0,
                    {"node": socket.gethostname(), "scope": scope.describe()})


def run(args: argparse.Namespace) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    scope = _scope(args)
    if scope is not None and argv:
        raise CliError("give either a command or --pid/--cgroup/--jobid-env, not both", 2)
    if scope is None and not argv:
        raise CliError("no command to record (usage: ebpf-darshan record -o FILE -- CMD ...)", 2)
    if args.duration is not None and (scope is None or args.duration <= 0):
        raise CliError("--duration needs --pid, --cgroup or --jobid-env, and a positive time", 2)
    layers = [layer() for layer in ALL_LAYERS if not getattr(args, f"no_{layer.name}")]
    options = timeline_options(args, tracer_options(args, TracerOptions(
        lifecycle_consts=scope.lifecycle_consts() if scope else {}, layers=layers)))
    path_filter = path_filter_of(args)
    check_system("record")
    out_dir = _output_dir(args)
    try:
        tracer = start_tracer(options)
    except CliError as e:
        # A job must never be lost to its observer: without --strict the
        # command runs all the same, and only the log is given up.
        if args.strict or scope is not None:
            raise
        print(f"ebpf-darshan: {e}", file=sys.stderr)
        print("ebpf-darshan: running the command without recording it: no log will be written "
              "(--strict makes this an error)", file=sys.stderr)
        return run_untraced(argv)
    probes = LibraryProbes(tracer.layers)
    recording = Recording(path_filter, watchers=[probes])
    try:
        ran = (_record_scope(tracer, recording, scope, args.duration) if scope
               else _launch(tracer, recording, argv))
        keys, values = tracer.records()
        health = tracer.health()
        extras = tracer.extras()
        layer_results = tracer.collect_layers()
        timelines = tracer.timelines(sorted(set(recording.procs) | {int(p) for p in keys["proc"]}))
    finally:
        probes.close()
        tracer.close()
    uid, gid, user = invoking_user()
    jobid = job_id(dict(os.environ), os.getpid())
    mounts = merge_tables(ran.mounts, recording.namespaces.tables())
    recording.namespaces.close()
    log = build_log(recording, keys, values, health,
                    JobFacts(uid, jobid, ran.argv, mounts, not args.no_shared_reduction,
                             {**ran.metadata, **off_metadata(tracer.off)}), extras,
                    layer_results, timelines)
    path = Path(args.output) if args.output else out_dir / default_log_name(
        user, ran.argv[0], log.job.jobid, ran.pid, recording.start_epoch_ns)
    try:
        write_log(path, log, mode=0o600)
        os.chown(path, uid, gid)
    except OSError as e:
        raise CliError(f"cannot write the log {path}: {e.strerror or e}")
    if log.partial_flag:
        print(f"ebpf-darshan: {path}: the log is partial; its metadata lines say what is "
              "missing (lost_* lines: raise --max-records or --event-buffer-mb; dxt_*: "
              "--dxt-max-segments or --dxt-buffer-mb; heatmap_lost_ops: --heatmap-procs)",
              file=sys.stderr)
    return ran.exit_code
