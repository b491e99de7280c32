#!/usr/bin/env python3
"""`make kernels`: load the BPF objects and record smoke runs on every kernel
of kernels/list.txt, and write the results as a Markdown table.

  python3 kernels/matrix.py [--only WORD ...] [--out docs/kernels.md]
                            [--timeout SECONDS] [--kvm auto|on|off] [--guest-cmd CMD]

`running` is checked on the host. Each Debian kernel package is fetched with
`apt-get download`, unpacked with `dpkg-deb -x` (never installed on the host)
and booted with virtme-ng, which shares the host's root with the guest (over
virtio-fs, see kernels/virtiofs-shim/virtiofsd): the guest runs
kernels/guest.sh with the project's own .venv. KVM is used only where it
really works (here /dev/kvm exists but qemu aborts or hangs with it), so the
guests run under qemu's software emulation (TCG).

Downloads, unpacked kernels and each kernel's results (verifier logs and
JSON, smoke logs, console, dmesg) are in kernels/.cache/; virtme-ng is
installed in kernels/.vng-venv. The exit status is non-zero if any kernel
run now failed any check; the table is written all the same. Standard
library only: it runs before the project's venv matters."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIST = HERE / "list.txt"
CACHE = HERE / ".cache"
VNG_VENV = HERE / ".vng-venv"
VNG_VERSION = "1.42"  # the virtme-ng release these facts were measured with
RUNNING = "running"
# A tool on the host, and the Debian package to install when it is missing.
BUILD_TOOLS = {"gcc": "gcc"}
VM_TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils",
            "busybox": "busybox-static", "depmod": "kmod"}
GUEST_MEMORY, GUEST_CPUS = "4G", "2"
POLL_SECONDS = 0.2
REASON_CHARS = 90

START = time.monotonic()


class HarnessError(Exception):
    """A step on the host failed; the kernel's row says why."""


@dataclass(frozen=True)
class Kernel:
    """One line of kernels/list.txt. name is the kernel's release (uname -r),
    which is also how the Debian package names it."""
    name: str
    package: str = ""  # none for `running`
    version: str = ""

    @property
    def is_running(self) -> bool:
        return not self.package


@dataclass(frozen=True)
class HostTools:
    """What every kernel's run uses, prepared once."""
    stdio_bin: Path
    vng: Path | None
    kvm: bool


@dataclass
class Result:
    """What one kernel's run left, kept in kernels/.cache/results/NAME/result.json
    so that a later run of a subset still has the other kernels' rows."""
    kernel: Kernel
    release: str
    commit: str
    date: str
    boot_seconds: float | None = None
    run_seconds: float | None = None
    error: str | None = None
    exit_status: int | None = None
    summary: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        if self.error is not None or self.exit_status != 0:
            return False
        return self.summary is None or bool(self.summary.get("ok"))


def log(message: str) -> None:
    """A progress line on stderr, with the time since the start."""
    print(f"[kernels {time.monotonic() - START:7.1f}s] {message}", file=sys.stderr, flush=True)


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a host command; a failure becomes a HarnessError with its last words."""
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise HarnessError(f"{' '.join(argv[:3])} ... exited {done.returncode}: {' / '.join(last)}")
    return done


# ---- the kernel list ------------------------------------------------------------------------

def parse_list(path: Path) -> list[Kernel]:
    """`running` or `linux-image-RELEASE-unsigned=VERSION` per line; # comments."""
    kernels = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == RUNNING:
            kernels.append(Kernel(RUNNING))
            continue
        found = re.fullmatch(r"(linux-image-(\S+)-unsigned)=(\S+)", line)
        if not found:
            raise SystemExit(f"{path}:{number}: expected `running` or "
                             f"`linux-image-RELEASE-unsigned=VERSION`, got {line!r}")
        kernels.append(Kernel(found[2], found[1], found[3]))
    return kernels


def select(kernels: list[Kernel], words: list[str] | None) -> list[Kernel]:
    """Kernels whose name contains one of the words, not followed by a digit:
    `6.1` selects 6.1.0-57-amd64 but not 6.12.118+deb12-amd64."""
    if not words:
        return kernels
    patterns = [re.compile(re.escape(w) + r"(?!\d)") for w in words]
    return [k for k in kernels if any(p.search(k.name) for p in patterns)]


# ---- host tools ---------------------------------------------------------------------------

def which(tool: str) -> str | None:
    """shutil.which that also looks in the sbin directories (depmod)."""
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def ensure_apt_packages(tools: dict[str, str]) -> None:
    """Install the Debian packages whose tool is missing (apt lists refreshed first)."""
    missing = sorted({package for tool, package in tools.items() if which(tool) is None})
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env)


def ensure_vng() -> Path:
    """virtme-ng, pinned, in its own venv: the project's venv stays as `make setup` made it."""
    vng = VNG_VENV / "bin" / "vng"
    if vng.exists():
        done = subprocess.run([str(vng), "--version"], capture_output=True, text=True)
        if done.stdout.split()[-1:] == [VNG_VERSION]:
            return vng
    log(f"installing virtme-ng {VNG_VERSION} in {VNG_VENV.relative_to(REPO)}")
    run([sys.executable, "-m", "venv", str(VNG_VENV)])
    run([str(VNG_VENV / "bin" / "pip"), "install", "-q", f"virtme-ng=={VNG_VERSION}"])
    return vng


def build_stdio_smoke() -> Path:
    """Compile the STDIO smoke workload on the host: guests have no compiler
    of their own to trust, and every kernel then runs the same binary."""
    source, binary = HERE / "stdio_smoke.c", CACHE / "bin" / "stdio_smoke"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    log("compiling kernels/stdio_smoke.c")
    binary.parent.mkdir(parents=True, exist_ok=True)
    run(["gcc", "-O0", "-fno-builtin", "-o", str(binary), str(source)])
    return binary


def kvm_works() -> bool:
    """/dev/kvm can exist with no hardware virtualization behind it (kvm_pvm
    here: qemu aborts on an MSR, or the guest hangs probing EDD), so it is
    trusted only when the CPU shows vmx or svm."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    cpuinfo = Path("/proc/cpuinfo").read_text()
    return re.search(r"^flags\s*:.*\b(vmx|svm)\b", cpuinfo, re.M) is not None


# ---- a Debian kernel ------------------------------------------------------------------------

def fetch_deb(kernel: Kernel) -> Path:
    """The pinned package, downloaded once into kernels/.cache/debs. apt's
    lists are refreshed only if the first try fails (a fresh machine has none)."""
    debs = CACHE / "debs"
    deb = debs / f"{kernel.package}_{kernel.version.replace(':', '%3a')}_amd64.deb"
    if deb.exists():
        return deb
    partial = debs / "partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    spec = f"{kernel.package}={kernel.version}"
    log(f"[{kernel.name}] apt-get download {spec}")
    try:
        run(["apt-get", "download", spec], cwd=partial)
    except HarnessError:
        log(f"[{kernel.name}] apt-get update, then download again")
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "download", spec], cwd=partial)
    (partial / deb.name).rename(deb)
    shutil.rmtree(partial)
    return deb


def unpack(kernel: Kernel, deb: Path) -> Path:
    """The package's files in kernels/.cache/trees/PACKAGE_VERSION (Debian
    rebuilds a kernel under the same release name), with the modules.dep
    that virtme-ng needs to load modules and the .deb does not ship."""
    tree = CACHE / "trees" / deb.stem
    vmlinuz = tree / "boot" / f"vmlinuz-{kernel.name}"
    if vmlinuz.exists():
        return vmlinuz
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log(f"[{kernel.name}] dpkg-deb -x, depmod")
    run(["dpkg-deb", "-x", str(deb), str(partial)])
    run([which("depmod") or "depmod", "-a", "-b", str(partial), kernel.name])
    shutil.rmtree(tree, ignore_errors=True)
    partial.rename(tree)
    if not vmlinuz.exists():
        raise HarnessError(f"{deb.name} has no boot/vmlinuz-{kernel.name}")
    return vmlinuz


def vng_command(vng: Path | None, vmlinuz: Path, out: Path, guest: list[str],
                kvm: bool) -> list[str]:
    """--verbose: without it the guest's console is not shown at all."""
    return [str(vng), "--verbose", *([] if kvm else ["--disable-kvm"]), "--run", str(vmlinuz),
            "--memory", GUEST_MEMORY, "--cpus", GUEST_CPUS, "--rwdir", str(out),
            "--exec", shlex.join(guest)]


def vng_env(out: Path) -> dict[str, str]:
    """vng runs virtme-run and virtiofsd from PATH: its venv's bin, and the
    shim that lets it share the host's root over virtio-fs (kernels/virtiofs-shim)."""
    path = f"{HERE / 'virtiofs-shim'}:{VNG_VENV / 'bin'}:{os.environ.get('PATH', '')}"
    return dict(os.environ, PATH=path, VIRTIOFSD_SHIM_LOG=str(out / "virtiofsd.log"))


# ---- running and watching ---------------------------------------------------------------------

def launch(argv: list[str], out: Path, timeout: float,
           env: dict[str, str] | None = None) -> tuple[float | None, float, bool]:
    """Run argv (vng, or guest.sh itself for `running`) with its output in
    OUT/console.log. Returns (seconds until OUT/started appeared, total
    seconds, timed out). The boot is timed on the host's clock: the guest's
    starts from a 1-second RTC and drifts under TCG."""
    started, begin, boot = out / "started", time.monotonic(), None
    with (out / "console.log").open("w") as console:
        proc = subprocess.Popen(argv, stdout=console, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=REPO, env=env,
                                start_new_session=True)
        while proc.poll() is None:
            elapsed = time.monotonic() - begin
            if boot is None and started.exists():
                boot = elapsed
            if elapsed > timeout:
                stop(proc)
                return boot, elapsed, True
            time.sleep(POLL_SECONDS)
    if boot is None and started.exists():
        boot = time.monotonic() - begin
    return boot, time.monotonic() - begin, False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the whole process group (vng, qemu and what they started)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 2) -> str:
    """The last non-empty lines of a log, joined on one line (qemu's
    progress output leaves runs of blanks)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " / ".join([" ".join(line.split()) for line in text if line.strip()][-lines:])


def outcome(result: Result, out: Path, timed_out: bool, timeout: float) -> None:
    """Fill result from what the guest left in OUT: vng's own exit status
    means nothing (always 255)."""
    status_file, summary_file = out / "exit-status", out / "summary.json"
    if summary_file.exists():
        result.summary = json.loads(summary_file.read_text())
    if status_file.exists():
        result.exit_status = int(status_file.read_text().strip() or -1)
    if timed_out:
        result.error = f"timed out after {timeout:.0f} s"
        if tail(out / "guest.log", 1):
            result.error += f", guest at: {tail(out / 'guest.log', 1)}"
    elif not (out / "started").exists():
        result.error = f"the guest never started: {tail(out / 'console.log')}"
    elif not status_file.exists():
        result.error = f"the guest stopped before its checks ended: {tail(out / 'console.log')}"
    elif not (result.summary or {}).get("verifier") and result.exit_status != 0:
        result.error = (f"the checks ended early (exit {result.exit_status}): "
                        f"{tail(out / 'guest.log')}")


def check_kernel(kernel: Kernel, args: argparse.Namespace, tools: HostTools) -> Result:
    """Boot (or, for `running`, stay on the host), run guest.sh, read its results."""
    out = CACHE / ("guest-cmd" if args.guest_cmd else "results") / kernel.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result = Result(kernel, platform.release() if kernel.is_running else kernel.name,
                    git_commit(), datetime.date.today().isoformat())
    guest = ["bash", str(HERE / "guest.sh"), str(REPO), str(out), str(tools.stdio_bin)]
    guest += [args.guest_cmd] if args.guest_cmd else []
    try:
        env = None
        if kernel.is_running:
            argv = guest
            log(f"[{kernel.name}] checks on the host ({result.release})")
        else:
            vmlinuz = unpack(kernel, fetch_deb(kernel))
            argv = vng_command(tools.vng, vmlinuz, out, guest, tools.kvm)
            env = vng_env(out)
            log(f"[{kernel.name}] booting ({'KVM' if tools.kvm else 'TCG'}), "
                f"timeout {args.timeout:.0f} s")
        boot, total, timed_out = launch(argv, out, args.timeout, env)
    except HarnessError as e:
        result.error = str(e)
    else:
        result.run_seconds = round(total, 1)
        result.boot_seconds = None if kernel.is_running or boot is None else round(boot, 1)
        outcome(result, out, timed_out, args.timeout)
    (out / "result.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def git_commit() -> str:
    """The commit the objects were built from (uncommitted edits not told)."""
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def describe(result: Result) -> str:
    """One line for the progress log."""
    boot = f", boot {result.boot_seconds:.0f} s" if result.boot_seconds is not None else ""
    took = f"{result.run_seconds:.0f} s" if result.run_seconds is not None else "-"
    if result.error:
        return f"ERROR ({took}{boot}): {result.error}"
    verdict = "ok" if result.ok else f"FAILED (exit {result.exit_status})"
    details = [] if result.summary else [f"guest command exited {result.exit_status}"]
    for entry in (result.summary or {}).get("verifier", []):
        details.append(f"verifier {entry['label']}: {entry['status']}")
    for name, smoke in (result.summary or {}).get("smoke", {}).items():
        details.append(f"{name} smoke: {smoke['status']}")
    return f"{verdict} ({took}{boot}): {'; '.join(details)}"


# ---- the Markdown table -----------------------------------------------------------------------

INTRO = """\
# Kernel matrix

Generated by `make kernels` (kernels/matrix.py); do not edit by hand.

Each kernel of [kernels/list.txt](../kernels/list.txt) gets the BPF objects
loaded one program at a time (`python -m ebpf_darshan.verifier_report`) and
three smoke recordings checked through PyDarshan: POSIX (`dd` writing 100 x 4 KiB:
POSIX_OPENS=2, POSIX_DUPS=1, POSIX_WRITES=100, POSIX_BYTES_WRITTEN=409600),
`record --pid` (the same `dd`, exec'd by a shell that was running before the
recording started; n/a before Linux 6.9) and STDIO (1000 one-byte `fwrite`:
STDIO_WRITES=1000, STDIO_BYTES_WRITTEN=1000; n/a before Linux 6.6).
`running` is the host's kernel; the others are Debian kernel packages
booted in qemu with virtme-ng (software emulation, so boots and
verification are several times slower than on hardware).

    make kernels                        # every kernel of kernels/list.txt
    make kernels KERNELS=6.1            # a subset: 6.1 (not 6.12), 6.12, rt, cloud, running
    make kernels KERNELS="6.12 running" # several

A subset run replaces only its own rows. Logs, verifier JSON, consoles and
dmesg are in kernels/.cache/results/KERNEL/.

One row per kernel and object set: `package` is what `make setup` installed
(and what `record` loads; the smoke columns belong to it), `clang-19` is
build/bpf-clang-19 when it exists. Max stack and max insns are the largest
over the set's programs. Boot is seconds from launch to the guest's first
command.
"""

HEADER = ["Kernel", "Objects", "Compiler", "Loaded", "Max stack", "Max insns",
          "POSIX smoke", "--pid smoke", "STDIO smoke", "Boot s", "Measured"]


def shorten(text: str, limit: int = REASON_CHARS) -> str:
    """One line, Markdown-safe, at most limit characters."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def loaded_cell(entry: dict[str, Any]) -> str:
    """Objects whose programs all loaded, each program refused or over
    budget and why, then the programs skipped (the kernel lacks what they
    need: a tracepoint, or a kfunc the compat objects do without) by reason."""
    report = entry.get("report")
    if not report:
        return f"{entry['status']}: {shorten(entry.get('error') or '')}"
    failing = {tuple(f) for f in entry.get("failing", [])}
    objects: dict[str, list[dict[str, Any]]] = {}
    for prog in report.get("programs", []):
        objects.setdefault(prog["object"], []).append(prog)
    good = [short_object(o) for o, progs in objects.items() if all(p["loaded"] for p in progs)]
    parts = [f"loaded: {', '.join(good)}"] if good else []
    skipped: dict[str, list[str]] = {}
    for obj, progs in objects.items():
        for prog in progs:
            name = f"{short_object(obj)}/{prog['program']}"
            if prog.get("skipped"):
                skipped.setdefault(skip_reason(prog), []).append(name)
            elif not prog["loaded"]:
                parts.append(f"**{name}**: {shorten(prog.get('reason') or '?')}")
            elif (obj, prog["program"]) in failing:
                parts.append(f"**{name} over budget**: stack={prog['stack']} "
                             f"insns={prog['insns']:,}")
    for reason, names in skipped.items():
        parts.append(f"*skipped, {reason}*: {', '.join(collapse(names, objects))}")
    if entry["status"] not in ("ok", "failed"):
        parts.append(f"{entry['status']}: {shorten(entry.get('error') or '')}")
    return "<br>".join(parts) or "no programs"


def skip_reason(prog: dict[str, Any]) -> str:
    """A skipped program's reason without the object's path, so that the
    programs of several objects skipped for one reason share a line."""
    return shorten(re.sub(r"\s*'[^']*\.bpf\.o'", "", prog.get("reason") or "?"), 50)


def collapse(names: list[str], objects: dict[str, list[dict[str, Any]]]) -> list[str]:
    """OBJECT/PROGRAM names, an object's programs shown as OBJECT when all are there."""
    out: list[str] = []
    for obj, progs in objects.items():
        mine = [n for n in names if n.split("/")[0] == short_object(obj)]
        out += [short_object(obj)] if len(mine) == len(progs) else mine
    return out


def short_object(name: str) -> str:
    """posix_open for posix_open.bpf.o."""
    return Path(name).name.removesuffix(".bpf.o")


def largest(entry: dict[str, Any], key: str) -> str:
    """The largest value of key over the programs that report one."""
    values = [p[key] for p in (entry.get("report") or {}).get("programs", [])
              if p.get(key) is not None]
    return f"{max(values):,}" if values else "—"


def smoke_cell(smoke: dict[str, Any] | None) -> str:
    """pass, n/a (why) or FAIL: why."""
    if not smoke:
        return "—"
    if smoke["status"] == "pass":
        return "pass"
    why = shorten(smoke.get("error") or "")
    return f"n/a ({why})" if smoke["status"] == "n/a" else f"**FAIL**: {why}"


def rows(result: Result) -> list[list[str]]:
    """The table rows of one kernel: one per object set, or one saying why there are none."""
    kernel = result.release + (" (host)" if result.kernel.is_running else "")
    boot = f"{result.boot_seconds:.0f}" if result.boot_seconds is not None else "—"
    measured = f"{result.date} {result.commit}"
    summary = result.summary or {}
    entries = summary.get("verifier", [])
    table = []
    for entry in entries:
        smoke = summary.get("smoke", {}) if entry["label"] == "package" else {}
        table.append([kernel, entry["label"], shorten(entry.get("compiler") or "?", 40),
                      loaded_cell(entry), largest(entry, "stack"), largest(entry, "insns"),
                      smoke_cell(smoke.get("posix")), smoke_cell(smoke.get("pid")),
                      smoke_cell(smoke.get("stdio")),
                      boot, measured])
    if result.error or not entries:
        why = result.error or f"the checks exited {result.exit_status}"
        table.append([kernel, "—", "—", f"**ERROR**: {shorten(why, 200)}", "—", "—",
                      "—", "—", "—", boot, measured])
    return table


def cached_results(kernels: Iterable[Kernel]) -> dict[str, Result]:
    """Earlier runs' results, for the rows of kernels not run this time."""
    found = {}
    for kernel in kernels:
        path = CACHE / "results" / kernel.name / "result.json"
        try:
            data = json.loads(path.read_text())
            data["kernel"] = Kernel(**data["kernel"])
            found[kernel.name] = Result(**data)
        except (OSError, ValueError, TypeError):
            continue  # never run, or written by another version of this script
    return found


def write_table(path: Path, results: list[Result]) -> None:
    """The intro and the table, in list.txt's order."""
    lines = [INTRO, "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for result in results:
        lines += ["| " + " | ".join(row) + " |" for row in rows(result)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    log(f"wrote {path}")


# ---- main ---------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="WORD",
                   help="kernels whose name contains WORD not followed by a digit "
                        "(6.1, 6.12, rt, cloud, running)")
    p.add_argument("--out", type=Path, help="Markdown file to (re)write, e.g. docs/kernels.md")
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds one kernel may take, boot included (default 900)")
    p.add_argument("--kvm", choices=["auto", "on", "off"], default="auto",
                   help="auto: KVM only if /dev/kvm is usable and the CPU shows vmx/svm")
    p.add_argument("--guest-cmd", metavar="CMD",
                   help="debugging: run this shell command in each guest instead of the "
                        "checks (REPO and OUT in its environment); no table is written")
    return p.parse_args()


def prepare(kernels: list[Kernel], kvm: str) -> HostTools:
    """Host tools for the kernels chosen: gcc always, qemu and vng for VMs."""
    vms = any(not k.is_running for k in kernels)
    ensure_apt_packages(BUILD_TOOLS | (VM_TOOLS if vms else {}))
    return HostTools(stdio_bin=build_stdio_smoke(), vng=ensure_vng() if vms else None,
                     kvm=kvm == "on" or (kvm == "auto" and kvm_works()))


def main() -> int:
    args = parse_args()
    listed = parse_list(LIST)
    kernels = select(listed, args.only)
    if not kernels:
        raise SystemExit(f"no kernel of {LIST} matches {' '.join(args.only)}")
    if not (REPO / ".venv" / "bin" / "python").exists():
        log("warning: no .venv (run `make setup`): every check will fail")
    try:
        tools = prepare(kernels, args.kvm)
    except HarnessError as e:
        raise SystemExit(f"kernels: preparing the host failed: {e}") from e
    results = {}
    for kernel in kernels:
        results[kernel.name] = check_kernel(kernel, args, tools)
        log(f"[{kernel.name}] {describe(results[kernel.name])}")
    if args.out and not args.guest_cmd:
        everything = cached_results(listed) | results
        write_table(args.out, [everything[k.name] for k in listed if k.name in everything])
    failed = [name for name, result in results.items() if not result.ok]
    log(f"{len(results) - len(failed)} of {len(results)} kernels passed"
        + (f"; failed: {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
