"""Part of `make bench`: how long the library layers stop a process.

A process is held (stopped) while its library probes are attached: when it
maps a library of interest, here libhdf5 through dlopen.  Printed, from
runs alternated in one go (medians of RUNS):
  - one dlopen of libhdf5: bare, under `record`, under `record --no-hdf5`
    (the same recording without the hold), and under the node daemon, which
    probes a library file once for every process (the first process to map
    it is held, later ones not);
  - a process adopted by `attach --pid` is not stopped at all: the time its
    probes take to be in place while it runs (libc's STDIO probes).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HDF5 = "libhdf5_serial.so.103"
RUNS = 15
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def dlopen_ns(cmd: list[str]) -> float:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def recorded(tmp: Path, cmd: list[str], *options: str) -> list[str]:
    return [sys.executable, "-m", "ebpf_darshan", "record", "-o", str(tmp / "pause.darshan"),
            *options, "--", *cmd]


def daemon_runs(tmp: Path, cmd: list[str]) -> tuple[float, list[float]]:
    """(first process's dlopen, later ones') under a daemon tracing nobody."""
    logs = tmp / "logs"
    logs.mkdir()
    daemon = subprocess.Popen([sys.executable, "-m", "ebpf_darshan", "daemon", "--log-dir",
                               str(logs), "--query-socket", str(tmp / "q.sock")],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert daemon.stderr is not None
        assert "recording" in daemon.stderr.readline()
        first = dlopen_ns([*NOBODY, *cmd])
        later = [dlopen_ns([*NOBODY, *cmd]) for _ in range(RUNS)]
    finally:
        daemon.terminate()
        daemon.wait()
    return first, later


def adoption_ms(tmp: Path) -> float:
    """Median time the STDIO probes of a running process take to attach."""
    from ebpf_darshan.layers.stdio import StdioLayer
    from ebpf_darshan.library_probes import LibraryProbes
    from ebpf_darshan.tracer import Tracer, TracerOptions

    tracer = Tracer(TracerOptions(layers=[StdioLayer()]))
    probes = LibraryProbes(tracer.layers)
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(RUNS)]
    took = []
    try:
        time.sleep(0.2)
        for p in sleepers:
            start = time.perf_counter()
            probes.attach(p.pid)
            took.append((time.perf_counter() - start) * 1e3)
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
        probes.close()
        tracer.close()
    return statistics.median(took)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/pause.py: needs root (it records)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tmp.chmod(0o755)
        prog = tmp / "dlopen_time"
        subprocess.run(["gcc", "-O1", "-o", str(prog), str(HERE / "dlopen_time.c"), "-ldl"],
                       check=True)
        cmd = [str(prog), HDF5]
        cases = {"bare": cmd, "record": recorded(tmp, cmd),
                 "record --no-hdf5": recorded(tmp, cmd, "--no-hdf5")}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(RUNS):
            for name, case in cases.items():
                times[name].append(dlopen_ns(case))
        first, later = daemon_runs(tmp, cmd)
        adopt = adoption_ms(tmp)
    ms = {name: statistics.median(t) / 1e6 for name, t in times.items()}
    print(f"dlopen of {HDF5}, median of {RUNS} alternated runs:")
    for name, value in ms.items():
        print(f"  {name:<18} {value:8.2f} ms")
    hold = ms["record"] - ms["record --no-hdf5"]
    print(f"  hold under record: {hold:.2f} ms ({ms['record'] / ms['bare']:.1f}x bare)")
    print(f"  daemon, first process to map it: {first / 1e6:.2f} ms (held)")
    print(f"  daemon, later processes:         {statistics.median(later) / 1e6:.2f} ms "
          f"(not held; {statistics.median(later) / 1e6 / ms['bare']:.2f}x bare)")
    print(f"attach --pid: a running process's STDIO probes are in place after {adopt:.2f} ms; "
          "it is not stopped")


if __name__ == "__main__":
    main()
