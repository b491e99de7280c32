#!/usr/bin/env python3
"""The kernel matrix's checks on one kernel, run by kernels/guest.sh inside a
guest (or on the host, for `running`) with the project's venv python:

  guest_check.py --repo REPO --out OUT --stdio-bin STDIO_BIN

1. The verifier: `python -m ebpf_darshan.verifier_report` on every objects
   directory (the installed package's, and REPO/build/bpf-clang-19 when it
   exists), its JSON, output and refused programs' verifier logs kept in OUT.
2. A POSIX smoke recording of `dd` whose counters are known exactly.
3. A STDIO smoke recording (library layers need Linux 6.6+: n/a before).

Everything lands in OUT/summary.json, rewritten after each step, so a guest
killed by the host's timeout still leaves the steps it finished. The exit
status is 0 only if every check passed."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Under TCG the verifier runs 4-5x slower than on the host: a program near
# the 1M-instruction limit takes minutes.
VERIFIER_TIMEOUT = 600
RECORD_TIMEOUT = 300
# dd opens F, dup2s it onto stdout (POSIX_OPENS counts dups too, as Darshan's
# does) and writes 100 x 4 KiB.
POSIX_EXPECTED = {"POSIX_OPENS": 2, "POSIX_DUPS": 1, "POSIX_WRITES": 100,
                  "POSIX_BYTES_WRITTEN": 409600}
STDIO_EXPECTED = {"STDIO_WRITES": 1000, "STDIO_BYTES_WRITTEN": 1000}
# Library layers attach with uprobe_multi links (Linux 6.6).
STDIO_MIN_KERNEL = (6, 6)
# record --pid adopts running threads with pidfd_open(PIDFD_THREAD)
PID_MIN_KERNEL = (6, 9)
# every smoke check, run or n/a on each kernel
SMOKES = ("posix", "pid", "stdio")
# Darshan excludes /proc /sys /dev /etc /usr /lib* /bin /sbin /boot /opt /var: not /tmp.
# where smoke recordings write (guest.sh gives a guest a tmpfs of its own)
SCRATCH_PARENT = os.environ.get("KERNEL_MATRIX_SCRATCH", "/tmp")


class CheckError(Exception):
    """A check could not produce its result; the message says why."""


class Summary:
    """OUT/summary.json, written again after every step."""

    def __init__(self, out: Path) -> None:
        self.path = out / "summary.json"
        self.data: dict[str, Any] = {"kernel": platform.release(), "verifier": [], "smoke": {}}
        self.save()

    def save(self) -> None:
        """Write atomically: the host may read the file while the guest is killed."""
        self.data["ok"] = all_passed(self.data)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        tmp.replace(self.path)


def all_passed(data: dict[str, Any]) -> bool:
    """Every verifier run clean and no smoke failed ("n/a" is not a failure)."""
    verifier_ok = bool(data["verifier"]) and all(v["status"] == "ok" for v in data["verifier"])
    smoke_ok = all(s["status"] in ("pass", "n/a") for s in data["smoke"].values())
    return verifier_ok and smoke_ok and len(data["smoke"]) == len(SMOKES)


def step(message: str) -> None:
    """A progress line in guest.log, with the guest's clock."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def tail(path: Path, lines: int = 1) -> str:
    """The last non-empty lines of a log: usually the error that ended it."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " / ".join([line.strip() for line in text if line.strip()][-lines:])


def run_logged(argv: list[str], log: Path, timeout: int, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> int:
    """Run argv with its output in log; a timeout is an error, not a hang."""
    with log.open("w") as out:
        try:
            return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                  stdin=subprocess.DEVNULL, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            raise CheckError(f"timed out after {timeout} s: {' '.join(argv[:4])} ...") from None


@contextmanager
def kept_temp_files(directory: Path) -> Iterator[dict[str, str]]:
    """An environment whose TMPDIR is directory, removed afterwards if left
    empty. The full verifier log of a refused program is a temporary file:
    this keeps it with the results (a guest's /tmp dies with the guest)."""
    directory.mkdir()
    try:
        yield dict(os.environ, TMPDIR=str(directory))
    finally:
        if not any(directory.iterdir()):
            directory.rmdir()


def objects_dirs(repo: Path) -> list[tuple[str, Path]]:
    """(label, directory) of each object set to check: the installed
    package's (what `record` loads) and clang-19's build when present."""
    spec = importlib.util.find_spec("ebpf_darshan")
    if spec is None or spec.origin is None:
        raise CheckError("ebpf_darshan is not installed in this python (run `make setup`)")
    dirs = [("package", Path(spec.origin).parent / "bpf")]
    clang19 = repo / "build" / "bpf-clang-19"
    if clang19.is_dir():
        dirs.append(("clang-19", clang19))
    return dirs


def object_compiler(objdir: Path) -> str | None:
    """The clang that built the objects, from the DWARF producer string in
    an object: the table names the compiler even when verifier_report did
    not run."""
    for obj in sorted(objdir.glob("*.o")):
        found = re.search(rb"[\x20-\x7e]*clang version [\x20-\x7e]+", obj.read_bytes())
        if found:
            return found.group().decode()
    return None


def check_verifier(label: str, objdir: Path, out: Path) -> dict[str, Any]:
    """verifier_report on one objects directory; its JSON is kept whole."""
    entry: dict[str, Any] = {"label": label, "dir": str(objdir),
                             "compiler": object_compiler(objdir), "report": None}
    if importlib.util.find_spec("ebpf_darshan.verifier_report") is None:
        return entry | {"status": "not run",
                        "error": "ebpf_darshan.verifier_report is not installed"}
    report_path, log = out / f"verifier-{label}.json", out / f"verifier-{label}.log"
    argv = [sys.executable, "-m", "ebpf_darshan.verifier_report", "--objects", str(objdir),
            "--json", str(report_path)]
    try:
        with kept_temp_files(out / f"verifier-{label}-logs") as env:
            code = run_logged(argv, log, VERIFIER_TIMEOUT, env=env)
    except CheckError as e:
        return entry | {"status": "error", "error": str(e)}
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError) as e:
        return entry | {"status": "error", "exit": code,
                        "error": f"no JSON report ({e.__class__.__name__}): {tail(log)}"}
    entry.update(report=report, exit=code, compiler=report.get("compiler") or entry["compiler"],
                 failing=failing_programs(log))
    if code == 0:
        return entry | {"status": "ok", "error": None}
    return entry | {"status": "failed", "error": f"exit {code}: {tail(log)}"}


def failing_programs(log: Path) -> list[list[str]]:
    """[object, program] of each `FAIL OBJECT PROGRAM ...` line verifier_report
    printed: the refused ones and those over its budget, which the JSON
    alone does not tell (it has no budget)."""
    failing = []
    for line in log.read_text(errors="replace").splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "FAIL":
            failing.append(words[1:3])
    return failing


def file_counters(log: Path, module: str, names: list[str]) -> dict[str, int]:
    """The wanted counters of the module's record whose name ends in /F, as
    PyDarshan reads them (the check is on the log a user would get)."""
    import darshan  # the venv's; imported here so the verifier step runs without it

    report = darshan.DarshanReport(str(log), read_all=True)
    if module not in report.records or not report.records[module]:
        raise CheckError(f"no {module} records in the log")
    counters = report.records[module].to_df()["counters"]
    ours = counters[counters["id"].map(lambda i: report.name_records.get(i, "").endswith("/F"))]
    if len(ours) != 1:
        raise CheckError(f"{len(ours)} {module} records named .../F in the log")
    return {name: int(ours.iloc[0][name]) for name in names}


# What a smoke check runs: (scratch dir, log to write, its output file, env)
# -> the recorder's exit status.
Runner = Callable[[Path, Path, Path, dict[str, str]], int]


def recorded(argv: list[str]) -> Runner:
    """`record -o LOG -- argv` in the scratch directory."""
    def run(scratch: Path, darshan_log: Path, log: Path, env: dict[str, str]) -> int:
        record = [sys.executable, "-m", "ebpf_darshan", "record", "-o", str(darshan_log),
                  "--", *argv]
        return run_logged(record, log, RECORD_TIMEOUT, cwd=scratch, env=env)
    return run


def attached(argv: list[str]) -> Runner:
    """`record --pid` of a process already running in the scratch
    directory, which waits for a file `go` before it execs argv: the
    recording must adopt it and follow it through exec."""
    def run(scratch: Path, darshan_log: Path, log: Path, env: dict[str, str]) -> int:
        target = subprocess.Popen(["sh", "-c", 'while [ ! -e go ]; do sleep 0.05; done; '
                                   'exec "$@"', "sh", *argv], cwd=scratch)
        record = [sys.executable, "-m", "ebpf_darshan", "record", "--pid", str(target.pid),
                  "-o", str(darshan_log)]
        with log.open("w") as out:
            recorder = subprocess.Popen(record, stdout=out, stderr=subprocess.PIPE, text=True,
                                        env=env, stdin=subprocess.DEVNULL)
            assert recorder.stderr is not None
            started = recorder.stderr.readline()
            out.write(started)
            (scratch / "go").touch()
            try:
                target.wait(RECORD_TIMEOUT)
                out.write(recorder.communicate(timeout=RECORD_TIMEOUT)[1])
            except subprocess.TimeoutExpired:
                target.kill()
                recorder.kill()
                raise CheckError(f"timed out after {RECORD_TIMEOUT} s") from None
        return recorder.returncode
    return run


def check_smoke(name: str, run: Runner, module: str, expected: dict[str, int],
                out: Path) -> dict[str, Any]:
    """Record a workload in a scratch directory (writing file F) and
    compare the record of F with the counters expected."""
    darshan_log, log = out / f"smoke-{name}.darshan", out / f"smoke-{name}.log"
    result: dict[str, Any] = {"status": "fail", "expected": expected, "counters": None,
                              "error": None}
    try:
        with tempfile.TemporaryDirectory(prefix=f"kernel-matrix-{name}-",
                                         dir=SCRATCH_PARENT) as scratch, \
                kept_temp_files(out / f"smoke-{name}-logs") as env:
            code = run(Path(scratch), darshan_log, log, env)
        if code != 0:
            raise CheckError(f"record exited {code}: {tail(log)}")
        result["counters"] = file_counters(darshan_log, module, list(expected))
    except CheckError as e:
        result["error"] = str(e)
    except Exception as e:  # PyDarshan's own errors: recorded, the other checks go on
        result["error"] = f"reading the log: {e.__class__.__name__}: {e}"
    else:
        wrong = {k: v for k, v in result["counters"].items() if v != expected[k]}
        result["status"] = "fail" if wrong else "pass"
        result["error"] = ", ".join(f"{k}={v} (want {expected[k]})"
                                    for k, v in wrong.items()) or None
    (out / f"smoke-{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def kernel_version() -> tuple[int, int]:
    """(major, minor) of the running kernel."""
    found = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(found[1]), int(found[2])) if found else (0, 0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--stdio-bin", type=Path, required=True)
    args = p.parse_args()
    summary = Summary(args.out)
    step(f"kernel {platform.release()}, python {sys.executable}")

    for label, objdir in objects_dirs(args.repo):
        step(f"verifier: {label} objects in {objdir}")
        entry = check_verifier(label, objdir, args.out)
        summary.data["verifier"].append(entry)
        summary.save()
        step(f"verifier: {label}: {entry['status']} {entry.get('error') or ''}")

    dd = ["dd", "if=/dev/zero", "of=F", "bs=4k", "count=100"]
    smokes = [  # name, what, the oldest kernel it needs, how it runs, module, counters
        ("posix", "POSIX (dd)", (0, 0), recorded(dd), "POSIX", POSIX_EXPECTED),
        ("pid", "record --pid (dd started by a running shell)", PID_MIN_KERNEL, attached(dd),
         "POSIX", POSIX_EXPECTED),
        ("stdio", "STDIO (1000 fwrite)", STDIO_MIN_KERNEL,
         recorded([str(args.stdio_bin.resolve()), "F"]), "STDIO", STDIO_EXPECTED),
    ]
    for name, what, oldest, run, module, expected in smokes:
        if kernel_version() < oldest:
            summary.data["smoke"][name] = {"status": "n/a",
                                           "error": f"needs Linux {oldest[0]}.{oldest[1]}+"}
        else:
            step(f"smoke: {what}")
            summary.data["smoke"][name] = check_smoke(name, run, module, expected, args.out)
        summary.save()
    for name, smoke in summary.data["smoke"].items():
        step(f"smoke: {name}: {smoke['status']} {smoke.get('error') or ''}")
    return 0 if summary.data["ok"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"guest_check: {e}", file=sys.stderr)
        sys.exit(2)
