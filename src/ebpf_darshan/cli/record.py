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
from dataclasses import dataclass
from pathlib import Path

from ..binding import BpfError
from ..darshan import write_log
from ..job import default_log_name, invoking_user, job_id
from ..launch import HeldCommand
from ..log_builder import JobFacts, build_log
from ..mounts import mount_table
from ..names import PathFilter
from ..recorder import POLL_MS, Recording, run as run_recording
from ..scope import CgroupScope, EnvScope, PidScope, Scope, ScopeError, record_scope
from ..tracer import DEFAULT_EVENT_BUFFER_MB, DEFAULT_MAX_RECORDS, Tracer, TracerOptions
from .errors import CliError

BTF_PATH = "/sys/kernel/btf/vmlinux"


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
    p.add_argument("--include", action="append", default=[], metavar="PREFIX",
                   help="record paths under PREFIX even if excluded by default")
    p.add_argument("--exclude", action="append", default=[], metavar="PREFIX",
                   help="do not record paths under PREFIX")
    p.add_argument("--max-records", type=int, default=DEFAULT_MAX_RECORDS, metavar="N",
                   help=f"kernel record slots, one per (process, file) (default {DEFAULT_MAX_RECORDS})")
    p.add_argument("--event-buffer-mb", type=int, default=DEFAULT_EVENT_BUFFER_MB, metavar="MB",
                   help=f"ring buffer for names and process events (default {DEFAULT_EVENT_BUFFER_MB})")
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
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def _output_dir(args: argparse.Namespace) -> Path:
    directory = Path(args.output).parent if args.output else Path(args.log_dir or ".")
    if not directory.is_dir():
        raise CliError(f"cannot write the log: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"cannot write the log: {directory} is not writable")
    return directory


def _check_system() -> None:
    if os.geteuid() != 0:
        raise CliError("record needs root (it loads BPF programs into the kernel); "
                       "try: sudo ebpf-darshan record ...")
    if not os.path.exists(BTF_PATH):
        raise CliError(f"this kernel has no BTF ({BTF_PATH} is missing); "
                       "ebpf-darshan needs CONFIG_DEBUG_INFO_BTF=y")


def _power_of_two_mb(mb: int) -> int:
    if mb < 1 or mb & (mb - 1):
        raise CliError("--event-buffer-mb must be a power of two (1, 2, 4, ...)")
    return mb


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


def _record_scope(tracer: Tracer, recording: Recording, scope: Scope) -> Launched:
    stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    record_scope(tracer, scope, recording, lambda: bool(stop),
                 lambda: print(f"ebpf-darshan: recording {scope.describe()}", file=sys.stderr,
                               flush=True), POLL_MS)
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
    if args.max_records < 1:
        raise CliError("--max-records must be at least 1")
    options = TracerOptions(max_records=args.max_records,
                            event_buffer_mb=_power_of_two_mb(args.event_buffer_mb),
                            lifecycle_consts=scope.lifecycle_consts() if scope else {})
    path_filter = PathFilter()
    for prefix in args.exclude:
        path_filter.add_exclude(prefix)
    for prefix in args.include:
        path_filter.add_include(prefix)
    _check_system()
    out_dir = _output_dir(args)
    try:
        tracer = Tracer(options)
    except BpfError as e:
        if os.environ.get("EBPF_DARSHAN_DEBUG"):
            print(e.log, file=sys.stderr)
        raise CliError(f"cannot start BPF tracing: {e}")
    recording = Recording(path_filter)
    try:
        ran = _record_scope(tracer, recording, scope) if scope else _launch(tracer, recording, argv)
        keys, values = tracer.records()
        health = tracer.health()
    finally:
        tracer.close()
    uid, gid, user = invoking_user()
    jobid = job_id(dict(os.environ), os.getpid())
    log = build_log(recording, keys, values, health,
                    JobFacts(uid, jobid, ran.argv, ran.mounts, not args.no_shared_reduction,
                             ran.metadata))
    path = Path(args.output) if args.output else out_dir / default_log_name(
        user, ran.argv[0], log.job.jobid, ran.pid, recording.start_epoch_ns)
    try:
        write_log(path, log, mode=0o600)
        os.chown(path, uid, gid)
    except OSError as e:
        raise CliError(f"cannot write the log {path}: {e.strerror or e}")
    if log.partial_flag:
        print(f"ebpf-darshan: {path}: some data was lost (see the log's metadata); "
              "raise --max-records or --event-buffer-mb", file=sys.stderr)
    return ran.exit_code
