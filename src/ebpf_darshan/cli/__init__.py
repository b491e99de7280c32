"""Command line: `ebpf-darshan VERB ...`, one module per verb."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import attach, daemon, merge, parse, query, record, top
from .errors import CliError

VERBS = {"record": record, "merge": merge, "parse": parse, "attach": attach, "daemon": daemon,
         "query": query, "top": top}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        raise CliError(message, 2)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="ebpf-darshan",
                     description="Darshan I/O characterization through eBPF.")
    parser.add_argument("--version", action="version", version=f"ebpf-darshan {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for name, module in VERBS.items():
        module.add_parser(verbs, name)
    try:
        args = parser.parse_args(argv)
        if args.verb is None:
            raise CliError("no command given (try: ebpf-darshan record -o job.darshan -- ./app)", 2)
        return VERBS[args.verb].run(args)
    except CliError as e:
        print(f"ebpf-darshan: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print("ebpf-darshan: interrupted", file=sys.stderr)
        return 130
