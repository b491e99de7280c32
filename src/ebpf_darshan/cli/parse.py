"""`ebpf-darshan parse FILE`: darshan-parser-compatible text, from our own reader."""

from __future__ import annotations

import argparse
import sys

from ..darshan import LogFormatError, format_log, read_log
from .errors import CliError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    p = verbs.add_parser(name, help="print a .darshan log as darshan-parser does")
    p.add_argument("log", help="a .darshan log file")


def run(args: argparse.Namespace) -> int:
    try:
        log = read_log(args.log)
    except FileNotFoundError:
        raise CliError(f"{args.log}: no such file")
    except IsADirectoryError:
        raise CliError(f"{args.log}: is a directory")
    except PermissionError:
        raise CliError(f"{args.log}: permission denied")
    except LogFormatError as e:
        raise CliError(f"{args.log}: {e}")
    try:
        sys.stdout.write(format_log(log, args.log))
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 0
