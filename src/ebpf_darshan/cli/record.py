"""`ebpf-darshan record -o job.darshan -- CMD...`: run CMD, count its I/O in
the kernel, write a Darshan log, exit with CMD's status."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..darshan import write_log
from ..job import default_log_name, invoking_user, job_id
from ..launch import HeldCommand
from ..log_builder import JobFacts, build_log
from ..mounts import merge_tables, mount_table
from ..recorder import Recording, run as run_recording
from .errors import CliError
from .tracer_args import add_tracer_options, check_system, path_filter_of, start_tracer, \
    tracer_options


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    p = verbs.add_parser(name, help="run a command and write its Darshan log")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="log file to write")
    out.add_argument("--log-dir", help="directory for a log named the way Darshan names them "
                     "(default: the current directory)")
    add_tracer_options(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def _output_dir(args: argparse.Namespace) -> Path:
    directory = Path(args.output).parent if args.output else Path(args.log_dir or ".")
    if not directory.is_dir():
        raise CliError(f"cannot write the log: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"cannot write the log: {directory} is not writable")
    return directory


def run(args: argparse.Namespace) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise CliError("no command to record (usage: ebpf-darshan record -o FILE -- CMD ...)", 2)
    options = tracer_options(args)
    path_filter = path_filter_of(args)
    check_system("record")
    out_dir = _output_dir(args)
    tracer = start_tracer(options)
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
        extras = tracer.extras()
    finally:
        tracer.close()
    uid, gid, user = invoking_user()
    jobid = job_id(dict(os.environ), os.getpid())
    mounts = merge_tables(mounts, recording.namespaces.tables())
    recording.namespaces.close()
    log = build_log(recording, keys, values, health, JobFacts(uid, jobid, argv, mounts), extras)
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
