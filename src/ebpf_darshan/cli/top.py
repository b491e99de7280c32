"""`ebpf-darshan top`: the busiest processes and files right now, by bytes
and operations per second, from the daemon's live counters."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from ..node.query import DEFAULT_SOCKET, JsonObject
from .query import fetch

NAME_WIDTH = 32  # characters of a file's path shown
ROWS = 15
MIB = 1024 * 1024

# A snapshot's processes or files: (job, pid or name) -> its counters so far.
Rows = dict[tuple[str, Any], JsonObject]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="refresh every S seconds (default 1)")
    p.add_argument("--iterations", type=int, default=0, metavar="N",
                   help="stop after N refreshes (default: until Ctrl-C)")
    p.add_argument("--socket", default=DEFAULT_SOCKET, metavar="PATH",
                   help=f"the daemon's query socket (default {DEFAULT_SOCKET})")


def _rows(snapshot: JsonObject) -> tuple[Rows, Rows]:
    """Cumulative counters keyed by process and by file."""
    procs: Rows = {}
    files: Rows = {}
    for job in snapshot["jobs"]:
        for p in job["processes"]:
            procs[(job["job"], p["pid"])] = dict(p, job=job["job"], user=job["user"])
        for f in job["files"]:
            files[(job["job"], f["name"])] = dict(f, job=job["job"], user=job["user"])
    return procs, files


def rates(before: Rows, after: Rows, seconds: float) -> list[JsonObject]:
    """Per-second rates between two snapshots of the same rows, busiest first."""
    out = []
    for key, row in after.items():
        old = before.get(key, {})
        rate = {k: (row[k] - old.get(k, 0)) / seconds
                for k in ("bytes_read", "bytes_written", "reads", "writes")}
        out.append(dict(row, **{f"{k}_per_s": v for k, v in rate.items()}))
    out.sort(key=lambda r: -(r["bytes_read_per_s"] + r["bytes_written_per_s"]
                             + r["reads_per_s"] + r["writes_per_s"]))
    return out[:ROWS]


def _table(title: str, first: str, rows: list[JsonObject],
           label: Callable[[JsonObject], str]) -> Table:
    table = Table(title=title, expand=True)
    for col in (first, "job", "user", "read MiB/s", "write MiB/s", "reads/s", "writes/s"):
        table.add_column(col, justify="left" if col in (first, "job", "user") else "right")
    for r in rows:
        table.add_row(label(r), r["job"], r["user"], f"{r['bytes_read_per_s'] / MIB:.2f}",
                      f"{r['bytes_written_per_s'] / MIB:.2f}", f"{r['reads_per_s']:.0f}",
                      f"{r['writes_per_s']:.0f}")
    return table


def view(before: tuple[Rows, Rows], after: tuple[Rows, Rows], seconds: float) -> Group:
    return Group(
        _table("processes", "pid", rates(before[0], after[0], seconds),
               lambda r: f"{r['pid']} {r['exe'].rsplit('/', 1)[-1]}"),
        _table("files", "file", rates(before[1], after[1], seconds),
               lambda r: _tail(r["name"])))


def _tail(path: str) -> str:
    """The end of a long path, where the file's own name is."""
    return path if len(path) <= NAME_WIDTH else "…" + path[-(NAME_WIDTH - 1):]


def run(args: argparse.Namespace) -> int:
    previous = _rows(fetch(args.socket, {}))
    then = time.monotonic()
    done = 0
    with Live(view(previous, previous, 1.0), auto_refresh=False) as live:
        while not args.iterations or done < args.iterations:
            time.sleep(args.interval)
            current = _rows(fetch(args.socket, {}))
            now = time.monotonic()
            live.update(view(previous, current, now - then), refresh=True)
            previous, then = current, now
            done += 1
    return 0
