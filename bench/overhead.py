"""`make bench`: what recording costs, measured here and now.

Prints, for 1-byte writes and 4 KiB preads, ns/call untraced and under
`ebpf-darshan record`, the overhead, and its ratio to the +246 ns/op that
Darshan's LD_PRELOAD costs on these machines (docs/performance.md); the cost
of the STDIO module per 1-byte fwrite/fread (recorded with and without
--no-stdio); the cost of the MPI-IO module per 1-byte MPI_File_write_at
(recorded with and without --no-mpiio); what `record --dxt` adds per
call (Darshan's DXT: about +300 ns/op) and at exit for DXT_SEGMENTS
segments (Darshan: about 65 ms for 50k); then the tax a recording puts on
an untraced process's syscalls.  Untraced and traced
runs alternate, and each figure is the best of RUNS: on a noisy shared
machine the minimum is the stable estimate of what the code itself costs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALLS = 200_000
# stdio calls cost microseconds each under uprobes: fewer of them
STDIO_CALLS = 50_000
MPIIO_CALLS = 20_000
MPIRUN = ["mpirun", "--allow-run-as-root", "-np", "1"]
RUNS = 7
DARSHAN_PRELOAD_NS = 246.0
TARGET_RATIO = 1.5
DARSHAN_DXT_NS = 300.0
DXT_SEGMENTS = 50_000


def ns_per_call(cmd: list[str]) -> float:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def best_of(*cmds: list[str]) -> list[float]:
    """Best ns/call of each command, the commands run in alternation."""
    results: list[list[float]] = [[] for _ in cmds]
    for _ in range(RUNS):
        for out, cmd in zip(results, cmds, strict=True):
            out.append(ns_per_call(cmd))
    return [min(r) for r in results]


def recorded(tmp: Path, cmd: list[str], *options: str) -> list[str]:
    return [sys.executable, "-m", "ebpf_darshan", "record", "-o", str(tmp / "bench.darshan"),
            "--include", str(tmp), *options, "--", *cmd]


def wall_seconds(cmd: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - start


def dxt_exit_cost(tmp: Path, loop: Path) -> tuple[float, float]:
    """Best wall time of a DXT_SEGMENTS-write recording with and without
    --dxt, less the in-loop difference: what the trace costs after the
    command ends (draining, building, compressing and writing segments)."""
    cmd = [str(loop), "write1", str(tmp / "exit.dat"), str(DXT_SEGMENTS)]
    walls: list[list[float]] = [[], []]
    loops: list[list[float]] = [[], []]
    for _ in range(RUNS):
        for i, options in enumerate(([], ["--dxt"])):
            walls[i].append(wall_seconds(recorded(tmp, cmd, *options)))
            loops[i].append(ns_per_call(recorded(tmp, cmd, *options)))
    in_loop = (min(loops[1]) - min(loops[0])) * DXT_SEGMENTS / 1e9
    return min(walls[1]) - min(walls[0]), in_loop


def build_loop(tmp: Path) -> Path:
    """bench/io_loop.c compiled into tmp."""
    loop = tmp / "io_loop"
    subprocess.run(["gcc", "-O2", "-o", str(loop), str(HERE / "io_loop.c")], check=True)
    return loop


def main() -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        tmp = Path(d)
        loop = build_loop(tmp)
        print(f"{'call':<10}{'untraced':>12}{'recorded':>12}{'overhead':>12}"
              f"{'vs Darshan':>12}   (ns/call, best of {RUNS} x {CALLS} calls)")
        dxt_rows = []
        for mode in ("write1", "pread4k"):
            cmd = [str(loop), mode, str(tmp / f"{mode}.dat"), str(CALLS)]
            base, traced, dxt = best_of(cmd, recorded(tmp, cmd), recorded(tmp, cmd, "--dxt"))
            extra = traced - base
            print(f"{mode:<10}{base:>12.1f}{traced:>12.1f}{extra:>+12.1f}"
                  f"{extra / DARSHAN_PRELOAD_NS:>11.2f}x")
            dxt_rows.append((mode, traced, dxt))
        print(f"target: overhead per traced write <= {TARGET_RATIO}x Darshan's "
              f"+{DARSHAN_PRELOAD_NS:.0f} ns = {TARGET_RATIO * DARSHAN_PRELOAD_NS:.0f} ns")

        print(f"\n--dxt{'recorded':>17}{'--dxt':>12}{'DXT adds':>12}{'vs Darshan':>12}"
              f"   (ns/call; Darshan's DXT adds +{DARSHAN_DXT_NS:.0f})")
        for mode, traced, dxt in dxt_rows:
            print(f"{mode:<10}{traced:>12.1f}{dxt:>12.1f}{dxt - traced:>+12.1f}"
                  f"{(dxt - traced) / DARSHAN_DXT_NS:>11.2f}x")
        after_exit, in_loop = dxt_exit_cost(tmp, loop)
        print(f"{DXT_SEGMENTS} segments: --dxt adds {after_exit * 1e3:.0f} ms of wall time, "
              f"{in_loop * 1e3:.0f} ms of it in the loop, {(after_exit - in_loop) * 1e3:.0f} ms "
              "after it (Darshan: ~65 ms at exit)")
        print(f"\nstdio, 1 byte per call{'untraced':>10}{'--no-stdio':>12}{'STDIO on':>12}"
              f"{'STDIO cost':>12}   (ns/call)")
        for mode in ("fwrite1", "fread1"):
            cmd = [str(loop), mode, str(tmp / f"{mode}.dat"), str(STDIO_CALLS)]
            base, posix_only, with_stdio = best_of(
                cmd, recorded(tmp, cmd, "--no-stdio"), recorded(tmp, cmd))
            print(f"{mode:<22}{base:>10.1f}{posix_only:>12.1f}{with_stdio:>12.1f}"
                  f"{with_stdio - posix_only:>+12.1f}")

        mpi_loop = tmp / "mpiio_loop"
        subprocess.run(["mpicc", "-O2", "-o", str(mpi_loop), str(HERE / "mpiio_loop.c")],
                       check=True)
        cmd = [*MPIRUN, str(mpi_loop), str(tmp / "mpiio.dat"), str(MPIIO_CALLS)]
        base, off, on = best_of(cmd, recorded(tmp, cmd, "--no-mpiio"), recorded(tmp, cmd))
        print(f"\n{'MPI_File_write_at, 1 byte':<26}{'untraced':>10}{'--no-mpiio':>12}"
              f"{'MPI-IO on':>12}{'MPI-IO cost':>13}   (ns/call)")
        print(f"{'':<26}{base:>10.1f}{off:>12.1f}{on:>12.1f}{on - off:>+13.1f}")

        print("\ntax on an untraced process while a recording runs elsewhere:")
        for mode in ("write1", "getppid"):
            cmd = [str(loop), mode, str(tmp / f"untraced-{mode}.dat"), str(CALLS)]
            (base,) = best_of(cmd)
            bg = subprocess.Popen(recorded(tmp, ["sleep", "600"]), stdout=subprocess.DEVNULL)
            time.sleep(2)  # let it load and attach
            try:
                (during,) = best_of(cmd)
            finally:
                bg.terminate()
                bg.wait()
            label = "write(1B)" if mode == "write1" else "getppid"
            print(f"{label:<10}{base:>12.1f}{during:>12.1f}{during - base:>+12.1f}   ns/call")


if __name__ == "__main__":
    main()
