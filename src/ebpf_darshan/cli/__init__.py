"""Command line: `ebpf-darshan VERB ...`, one module per verb (cli/VERB.py,
with add_arguments(parser) and run(args)).  Only the verb that runs is
imported: `parse` and `merge` work where the BPF extension was never built."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from .. import __version__
from .errors import CliError

# verb -> its line in `ebpf-darshan --help`
VERBS = {
    "record": "run a command and write its Darshan log",
    "merge": "merge the node logs of one job into its job log",
    "parse": "print a .darshan log as darshan-parser does",
    "attach": "record a running process (and its children) from now on",
    "daemon": "record every job on this node, one log per job",
    "query": "live counters of the running jobs (from the daemon)",
    "top": "a live view of the busiest processes and files",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not a usage dump
        raise CliError(message, 2)


def _chosen_verb(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _Parser(prog="ebpf-darshan",
                     description="Darshan I/O characterization through eBPF.")
    parser.add_argument("--version", action="version", version=f"ebpf-darshan {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    chosen = _chosen_verb(argv)
    module = None
    try:
        for name, line in VERBS.items():
            p = verbs.add_parser(name, help=line, description=line)
            if name == chosen:
                module = importlib.import_module(f"{__package__}.{name}")
                module.add_arguments(p)
        args = parser.parse_args(argv)
        if module is None:
            raise CliError("no command given (try: ebpf-darshan record -o job.darshan -- ./app)", 2)
        return int(module.run(args))
    except CliError as e:
        print(f"ebpf-darshan: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print("ebpf-darshan: interrupted", file=sys.stderr)
        return 130
