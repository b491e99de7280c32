"""`make verifier-report`: load every program of every BPF object, each on
its own, on the running kernel, and say how close each came to the
verifier's limits.

    OBJECT PROGRAM stack=N insns=N

A program is loaded in the configuration that gives the verifier the most
to follow (every feature its object has switched on), once per setting that
selects between alternative code (heatmap clocks), and the largest figures
count.  The budget is well inside the kernel's limits (512 bytes of stack,
1,000,000 instructions), so that a kernel point release or a compiler
update that costs some margin does not turn recording off.  The exit status
is non-zero when a program is refused or over budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .binding import BpfError, BpfObject, object_path

STACK_BUDGET = 384
INSNS_BUDGET = 250_000

# Settings that switch code on.  Maps are shrunk: their size does not
# change what the verifier follows, and the report loads many objects.
FEATURES: dict[str, np.generic] = {
    "dxt_enabled": np.bool_(True),
    "hold_libraries": np.bool_(True),
    "hold_at_exec": np.bool_(True),
    "clock_at_entry": np.bool_(True),
    "scope_cgroup_id": np.uint64(1),
    "scope_env_hash": np.uint64(1),
    "trace_uid_min": np.uint32(1000),
}
# Settings that choose between two paths: each value is verified.
ALTERNATIVES: list[dict[str, np.generic]] = [
    {"heatmap_own_clocks": np.bool_(False)},
    {"heatmap_own_clocks": np.bool_(True)},
]
PRODUCER = re.compile(rb"[A-Za-z ]*clang version [0-9][0-9A-Za-z.+~-]*")
SMALL_MAPS = {"records": 64, "record_index": 64, "free_slots": 64, "heatmaps": 3,
              "free_heatmap_rows": 1, "proc_heatmaps": 64}


@dataclass
class ProgramResult:
    object: str
    program: str
    loaded: bool
    stack: int | None = None
    insns: int | None = None
    reason: str | None = None   # why it was refused, or why it was not tried
    skipped: bool = False       # the kernel lacks what it needs (not a refusal)
    seconds: float = 0.0

    def over_budget(self) -> bool:
        return self.loaded and ((self.stack or 0) > STACK_BUDGET
                                or (self.insns or 0) > INSNS_BUDGET)

    def line(self) -> str:
        if self.loaded:
            over = "  OVER BUDGET" if self.over_budget() else ""
            return f"{self.object} {self.program} stack={self.stack} insns={self.insns}{over}"
        verdict = "skipped" if self.skipped else "rejected"
        return f"{self.object} {self.program} {verdict}: {self.reason}"


def _configure(obj: BpfObject, settings: dict[str, np.generic]) -> None:
    for name, value in settings.items():
        if obj.has_const(name):
            obj.set_const(name, value)
    for name, entries in SMALL_MAPS.items():
        with contextlib.suppress(BpfError):  # not a map of this object
            obj.resize_map(name, entries)


def _load_alone(path: Path, program: str, settings: dict[str, np.generic]) -> ProgramResult:
    """Load one program of the object at path, every other one left out."""
    obj = BpfObject(path.name, path)
    try:
        if obj.tracepoint_missing(program):
            return ProgramResult(path.name, program, False, skipped=True,
                                 reason="this kernel has no such tracepoint")
        for other in obj.programs():
            obj.set_autoload(other, other == program)
        _configure(obj, settings)
        started = time.monotonic()
        try:
            obj.load()
        except BpfError as e:
            stats = obj.verifier_stats(program)
            took = time.monotonic() - started
            if stats.reason is None:   # refused before the verifier saw it
                return ProgramResult(path.name, program, False, skipped=True,
                                     reason=str(e).removeprefix(f"{path.name}: "),
                                     seconds=took)
            return ProgramResult(path.name, program, False, stats.stack, stats.insns,
                                 stats.reason, seconds=took)
        took = time.monotonic() - started
        stats = obj.verifier_stats(program)
        return ProgramResult(path.name, program, True, obj.combined_stack(program), stats.insns,
                             seconds=took)
    finally:
        obj.close()


def check_program(path: Path, program: str) -> ProgramResult:
    """The worst of the program's results over the alternative settings."""
    results = [_load_alone(path, program, {**FEATURES, **alt}) for alt in ALTERNATIVES]
    refused = [r for r in results if not r.loaded]
    if refused:
        return refused[0]
    worst = max(results, key=lambda r: ((r.stack or 0) > STACK_BUDGET, r.insns or 0))
    worst.stack = max(r.stack or 0 for r in results)
    worst.seconds = sum(r.seconds for r in results)
    return worst


def compiler_of(path: Path) -> str:
    """The compiler that built an object, from its debug information (the
    DWARF producer string: BPF objects have no .comment section)."""
    found = PRODUCER.search(path.read_bytes())
    return found.group(0).decode() if found else "unknown"


def check_objects(directory: Path) -> list[ProgramResult]:
    results = []
    for path in sorted(directory.glob("*.bpf.o")):
        names = BpfObject(path.name, path)
        try:
            programs = names.programs()
        finally:
            names.close()
        for program in programs:
            result = check_program(path, program)
            print(result.line(), flush=True)
            results.append(result)
    return results


def failures(results: list[ProgramResult]) -> list[ProgramResult]:
    """Refused or over budget.  Not an object some kernel cannot take at
    all (the compat variants exist for that) nor a missing tracepoint."""
    return [r for r in results if r.over_budget() or (not r.loaded and not r.skipped)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ebpf_darshan.verifier_report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=Path, default=object_path(""),
                        help="directory of *.bpf.o (default: the installed package's)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("verifier_report: needs root (it loads BPF programs)", file=sys.stderr)
        return 2
    if not any(args.objects.glob("*.bpf.o")):
        print(f"verifier_report: no BPF objects in {args.objects}", file=sys.stderr)
        return 2
    compiler = compiler_of(next(args.objects.glob("*.bpf.o")))
    print(f"# kernel {platform.release()}, objects of {compiler}, budget stack<={STACK_BUDGET} "
          f"insns<={INSNS_BUDGET}", flush=True)
    results = check_objects(args.objects)
    if args.json:
        args.json.write_text(json.dumps({"compiler": compiler, "kernel": platform.release(),
                                         "programs": [asdict(r) for r in results]}, indent=1))
    bad = failures(results)
    for r in bad:
        print(f"FAIL {r.line()}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
