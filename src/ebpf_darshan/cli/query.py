"""`ebpf-darshan query [--json]`: the live counters of the running jobs a
daemon records (your own jobs; root sees all)."""

from __future__ import annotations

import argparse
import contextlib
import json

from ..node.query import DEFAULT_SOCKET, JsonObject, ask
from .errors import CliError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the whole snapshot as JSON")
    p.add_argument("--job", help="only this job (its id or key)")
    p.add_argument("--socket", default=DEFAULT_SOCKET, metavar="PATH",
                   help=f"the daemon's query socket (default {DEFAULT_SOCKET})")


def fetch(path: str, request: JsonObject) -> JsonObject:
    try:
        return ask(path, request)
    except FileNotFoundError as e:
        raise CliError(f"no daemon listens on {path} (start one: ebpf-darshan daemon)") from e
    except PermissionError as e:
        raise CliError(f"{path}: permission denied") from e
    except (OSError, ValueError) as e:
        raise CliError(f"{path}: no answer ({e})") from e


def run(args: argparse.Namespace) -> int:
    request = {} if args.job is None else {"job": args.job}
    snapshot = fetch(args.socket, request)
    with contextlib.suppress(BrokenPipeError):
        _show(snapshot, args.json)
    return 0


def _show(snapshot: JsonObject, as_json: bool) -> None:
    if as_json:
        print(json.dumps(snapshot, indent=1), flush=True)
        return
    print(f"{'JOB':<16} {'USER':<10} {'PROCS':>5} {'READ B':>12} {'WRITTEN B':>12}  EXE")
    for job in snapshot["jobs"]:
        t = job["totals"]
        print(f"{job['job']:<16} {job['user']:<10} {job['running_processes']:>5} "
              f"{t['bytes_read']:>12} {t['bytes_written']:>12}  {job['exe']}", flush=True)
