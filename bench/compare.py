"""`make bench-compare BASELINE=DIR`: per-call cost of recording with this
tree against another source tree of ebpf-darshan (built in place:
`setup.py build_ext --inplace` and its BPF objects in src/ebpf_darshan/bpf),
the two run in alternation on the same machine in the same run, so that a
change to the kernel side can be judged by the difference alone.

Prints, for 1-byte writes and 4 KiB preads, ns/call untraced, recorded by
the baseline, recorded by this tree, and the change; then the mean run time
of the `sys_exit` program itself (kernel.bpf_stats_enabled), which the
noise of a whole system call disturbs less."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

import overhead
from overhead import CALLS, HERE, best_of, build_loop, ns_per_call, recorded

REPO = HERE.parent


@contextmanager
def bpf_stats() -> Iterator[None]:
    """kernel.bpf_stats_enabled on for the block, as it was after."""
    knob = Path("/proc/sys/kernel/bpf_stats_enabled")
    before = knob.read_text().strip()
    knob.write_text("1")
    try:
        yield
    finally:
        knob.write_text(before)


def with_tree(cmd: list[str], tree: Path) -> list[str]:
    """cmd run with the package of source tree `tree`."""
    return ["env", f"PYTHONPATH={tree / 'src'}", *cmd]


def best_of_swapped(first: list[str], second: list[str], runs: int) -> tuple[float, float]:
    """Best ns/call of two commands, run in alternation with their order
    swapped every round: on these machines whichever runs second after an
    untraced run is measured slower, by as much as the change itself."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(runs):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            times[which].append(ns_per_call((first, second)[which]))
    return min(times[0]), min(times[1])


STATS_SETTLE_S = 0.5   # after sys_exit is loaded: the loop is running
STATS_LOAD_S = 30.0    # the recorder has this long to load its programs
STATS_WINDOW_S = 1.5   # sampled for this long
STATS_CALLS = 50_000_000  # enough writes to outlast the window


def program_stats(name: str) -> tuple[int, int] | None:
    """(run_time_ns, run_cnt) of the loaded BPF program called name, None
    while there is none."""
    done = subprocess.run(["bpftool", "prog", "show", "name", name, "--json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    prog = json.loads(done.stdout)
    prog = prog[0] if isinstance(prog, list) else prog
    return int(prog.get("run_time_ns", 0)), int(prog.get("run_cnt", 0))


def loaded_stats(name: str) -> tuple[int, int]:
    deadline = time.monotonic() + STATS_LOAD_S
    while (stats := program_stats(name)) is None:
        if time.monotonic() > deadline:
            sys.exit(f"compare: no program {name} loaded after {STATS_LOAD_S:.0f} s")
        time.sleep(0.1)
    return stats


def sys_exit_ns(cmd: list[str]) -> float:
    """Mean ns per run of sys_exit while cmd (a recorded write loop) runs."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        loaded_stats("sys_exit")
        time.sleep(STATS_SETTLE_S)
        t0, n0 = loaded_stats("sys_exit")
        time.sleep(STATS_WINDOW_S)
        t1, n1 = loaded_stats("sys_exit")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait()
    return (t1 - t0) / max(n1 - n0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="source tree to compare against")
    parser.add_argument("--runs", type=int, default=overhead.RUNS,
                        help=f"runs of each, the best kept (default {overhead.RUNS})")
    args = parser.parse_args()
    overhead.RUNS = args.runs
    if not (args.baseline / "src" / "ebpf_darshan").is_dir():
        sys.exit(f"compare: {args.baseline} is not an ebpf-darshan source tree")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        tmp = Path(d)
        loop = build_loop(tmp)
        print(f"{'call':<10}{'untraced':>12}{'baseline':>12}{'this tree':>12}{'change':>12}"
              f"   (ns/call, best of {args.runs} x {CALLS} calls, order swapped every run)")
        for mode in ("write1", "pread4k"):
            cmd = [str(loop), mode, str(tmp / f"{mode}.dat"), str(CALLS)]
            (base,) = best_of(cmd)
            before, after = best_of_swapped(with_tree(recorded(tmp, cmd), args.baseline),
                                            with_tree(recorded(tmp, cmd), REPO), args.runs)
            print(f"{mode:<10}{base:>12.1f}{before:>12.1f}{after:>12.1f}{after - before:>+12.1f}")
        cmd = [str(loop), "write1", str(tmp / "stats.dat"), str(STATS_CALLS)]
        runs: tuple[list[float], list[float]] = ([], [])
        with bpf_stats():
            for i in range(args.runs):
                for which in ((0, 1) if i % 2 == 0 else (1, 0)):
                    tree = (args.baseline, REPO)[which]
                    runs[which].append(sys_exit_ns(with_tree(recorded(tmp, cmd), tree)))
        print(f"sys_exit ns/run (1-byte writes): baseline {median(runs[0]):.0f} "
              f"[{min(runs[0]):.0f}-{max(runs[0]):.0f}], this tree {median(runs[1]):.0f} "
              f"[{min(runs[1]):.0f}-{max(runs[1]):.0f}] (median [range] of {args.runs})")


if __name__ == "__main__":
    main()
