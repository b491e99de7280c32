"""`ebpf-darshan attach --pid PID [-o FILE] [--duration S]`: record a process
that is already running, with its threads and children, from now on.  Its
open files are met through their fds and named from the kernel (their
positions are the kernel's), and the log is written when it exits, on
Ctrl-C or after the duration.  It is `record --pid` by another name."""

from __future__ import annotations

import argparse

from . import record
from .tracer_args import add_layer_options, add_timeline_options, add_tracer_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pid", type=int, required=True, help="the process to record")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="log file to write")
    out.add_argument("--log-dir", help="directory for a log named the way Darshan names them "
                     "(default: the current directory)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    add_tracer_options(p)
    add_layer_options(p)
    add_timeline_options(p)


def run(args: argparse.Namespace) -> int:
    args.command, args.cgroup, args.jobid_env, args.no_shared_reduction = [], None, None, False
    args.strict = True  # nothing to run without the recording
    return record.run(args)
