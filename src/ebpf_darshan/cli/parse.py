"""`ebpf-darshan parse FILE`: darshan-parser-compatible text, from our own reader."""

from __future__ import annotations

import argparse
import sys

from ..darshan import format_log
from .errors import read_log_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", help="a .darshan log file")


def run(args: argparse.Namespace) -> int:
    log = read_log_file(args.log)
    try:
        sys.stdout.write(format_log(log, args.log))
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 0
