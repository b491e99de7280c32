"""`ebpf-darshan record -o job.darshan -- CMD...`: run CMD, count its I/O in
the kernel, write a Darshan log, exit with CMD's status."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..binding import BpfError
from ..darshan import write_log
from ..job import default_log_name, invoking_user, job_id
from ..launch import HeldCommand
from ..log_builder import JobFacts, build_log
from ..mounts import mount_table
from ..names import PathFilter
from ..recorder import Recording, run as run_recording
from ..tracer import DEFAULT_EVENT_BUFFER_MB, DEFAULT_MAX_RECORDS, Tracer, TracerOptions
from .errors import CliError

BTF_PATH = "/sys/kernel/btf/vmlinux"


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


def run(args: argparse.Namespace) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise CliError("no command to record (usage: ebpf-darshan record -o FILE -- CMD ...)", 2)
    if args.max_records < 1:
        raise CliError("--max-records must be at least 1")
    options = TracerOptions(max_records=args.max_records,
                            event_buffer_mb=_power_of_two_mb(args.event_buffer_mb))
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
        command = HeldCommand.start(argv)
        try:
            mounts = mount_table(command.pid)
            run_recording(tracer, command, recording, argv[0])
        except BaseException:
            command.abandon()
            raise
        keys, values = tracer.records()
        health = tracer.health()
    finally:
        tracer.close()
    uid, gid, user = invoking_user()
    jobid = job_id(dict(os.environ), os.getpid())
    log = build_log(recording, keys, values, health, JobFacts(uid, jobid, argv, mounts,
                                                                  not args.no_shared_reduction))
    path = Path(args.output) if args.output else out_dir / default_log_name(
        user, argv[0], jobid, command.pid, recording.start_epoch_ns)
    try:
        write_log(path, log, mode=0o600)
        os.chown(path, uid, gid)
    except OSError as e:
        raise CliError(f"cannot write the log {path}: {e.strerror or e}")
    if log.partial_flag:
        print(f"ebpf-darshan: {path}: some data was lost (see the log's metadata); "
              "raise --max-records or --event-buffer-mb", file=sys.stderr)
    return command.exit_code
