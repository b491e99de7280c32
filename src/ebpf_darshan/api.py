"""The Python API: record a command, a running process, or a block of the
calling program, and get the Darshan log (and, where PyDarshan is there, a
DarshanReport of it).  `ebpf-darshan record` and `attach` are this, with
their options parsed from the command line.

    import ebpf_darshan
    done = ebpf_darshan.record(["./app", "input.h5"], "app.darshan")
    done.exit_code, done.path
    report = done.report()            # darshan.DarshanReport, read_all=True

    with ebpf_darshan.recording("block.darshan") as done:
        write_checkpoint()            # this process's I/O inside the block
    done.report().records["POSIX"].to_df()

Recording needs root and a BPF-capable kernel with BTF.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .binding import BpfError
from .cli.errors import CliError
from .darshan import write_log
from .job import default_log_name, invoking_user, job_id
from .launch import HeldCommand
from .layers.catalog import ALL_LAYERS
from .library_probes import LibraryProbes
from .log_builder import JobFacts, build_log
from .mounts import merge_tables, mount_table
from .names import PathFilter
from .recorder import POLL_MS, Recording, run as run_recording
from .scope import PidScope, Scope, record_scope
from .tracer import Tracer, TracerOptions, off_metadata

if TYPE_CHECKING:
    import darshan

BTF_PATH = "/sys/kernel/btf/vmlinux"


class RecordError(CliError):
    """A recording that cannot be made, said in one line (the command line
    shows it as it is)."""


class TracingRefused(RecordError):
    """The kernel would not load what every recording needs (the POSIX
    module): a command may still run, unrecorded."""


@dataclass
class Recorded:
    """What a recording left."""
    path: Path | None  # the log; None if the kernel refused the POSIX module
    exit_code: int     # the command's (128 + signal if killed; 0 for a scope)
    partial: bool = False  # some data was lost; the log's metadata says what
    off: list[str] = field(default_factory=list)  # what the kernel would not record

    def report(self) -> darshan.DarshanReport:
        """The log as PyDarshan reads it (needs the `darshan` package)."""
        import darshan

        if self.path is None:
            raise RecordError("no log was written")
        return darshan.DarshanReport(str(self.path), read_all=True)


@dataclass
class RecordOptions:
    """How to record; every field has the command line's default."""
    output: Path | None = None       # the log; default: Darshan's name in log_dir
    log_dir: Path = Path(".")
    include: Sequence[str] = ()      # path prefixes recorded even if excluded by default
    exclude: Sequence[str] = ()      # path prefixes never recorded
    layers: Sequence[str] | None = None  # library layers on, by name; None: all
    shared_reduction: bool = True    # files every MPI rank opened become one rank -1 record
    strict: bool = False             # a refused POSIX module is an error, not an unrecorded run
    tracer: TracerOptions = field(default_factory=TracerOptions)
    metadata: dict[str, str] = field(default_factory=dict)  # extra metadata lines


def check_system(verb: str = "recording") -> None:
    if os.geteuid() != 0:
        raise RecordError(f"{verb} needs root (it loads BPF programs into the kernel); "
                          f"try: sudo ebpf-darshan {verb} ...")
    if not os.path.exists(BTF_PATH):
        raise RecordError(f"this kernel has no BTF ({BTF_PATH} is missing); "
                          "ebpf-darshan needs CONFIG_DEBUG_INFO_BTF=y")


def path_filter(options: RecordOptions) -> PathFilter:
    out = PathFilter()
    for prefix in options.exclude:
        out.add_exclude(prefix)
    for prefix in options.include:
        out.add_include(prefix)
    return out


def output_dir(options: RecordOptions) -> Path:
    directory = options.output.parent if options.output else options.log_dir
    if not directory.is_dir():
        raise RecordError(f"cannot write the log: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RecordError(f"cannot write the log: {directory} is not writable")
    return directory


def start_tracer(options: TracerOptions) -> Tracer:
    """The tracer, loaded and attached; what the kernel refused is said on
    stderr, one line each."""
    try:
        tracer = Tracer(options)
    except BpfError as e:
        if os.environ.get("EBPF_DARSHAN_DEBUG"):
            print(e.log, file=sys.stderr)
        raise TracingRefused(f"cannot start BPF tracing: {e.describe()}") from e
    for part in tracer.off:
        print(f"ebpf-darshan: warning: {part.line()}", file=sys.stderr)
    return tracer


def _tracer_options(options: RecordOptions) -> TracerOptions:
    wanted = options.layers
    layers = [layer() for layer in ALL_LAYERS if wanted is None or layer.name in wanted]
    return replace(options.tracer, layers=layers)


@dataclass
class _Ran:
    """How the recording ran, for the log."""
    argv: list[str]
    mounts: list[tuple[str, str]]
    pid: int
    exit_code: int
    metadata: dict[str, str]


def _session(options: RecordOptions, tracer_options: TracerOptions,
             run: Callable[[Tracer, Recording], _Ran]) -> Recorded:
    """Load the tracer, run the recording, write its log."""
    out_dir = output_dir(options)
    tracer = start_tracer(tracer_options)
    probes = LibraryProbes(tracer.layers)
    recording = Recording(path_filter(options), watchers=[probes])
    try:
        ran = run(tracer, recording)
        keys, values = tracer.records()
        health = tracer.health()
        extras = tracer.extras()
        layer_results = tracer.collect_layers()
        timelines = tracer.timelines(sorted(set(recording.procs) | {int(p) for p in keys["proc"]}))
        off = off_metadata(tracer.off)
        off_lines = [part.line() for part in tracer.off]
    finally:
        probes.close()
        tracer.close()
    uid, gid, user = invoking_user()
    jobid = job_id(dict(os.environ), os.getpid())
    mounts = merge_tables(ran.mounts, recording.namespaces.tables())
    recording.namespaces.close()
    facts = JobFacts(uid, jobid, ran.argv, mounts, options.shared_reduction,
                     {**options.metadata, **ran.metadata, **off})
    log = build_log(recording, keys, values, health, facts, extras, layer_results, timelines)
    path = options.output or out_dir / default_log_name(
        user, ran.argv[0], log.job.jobid, ran.pid, recording.start_epoch_ns)
    try:
        write_log(path, log, mode=0o600)
        os.chown(path, uid, gid)
    except OSError as e:
        raise RecordError(f"cannot write the log {path}: {e.strerror or e}") from e
    return Recorded(path, ran.exit_code, bool(log.partial_flag), off_lines)


def record(argv: Sequence[str], output: str | Path | None = None,
           options: RecordOptions | None = None) -> Recorded:
    """Run argv and every process it starts, recorded; returns when it has
    ended.  If the kernel refuses the POSIX module the command still runs
    (Recorded.path is None) unless options.strict."""
    options = _with_output(options, output)
    argv = list(argv)
    if not argv:
        raise RecordError("no command to record")
    check_system("record")
    output_dir(options)

    def launch(tracer: Tracer, recording: Recording) -> _Ran:
        command = HeldCommand.start(argv)
        try:
            mounts = mount_table(command.pid)
            run_recording(tracer, command, recording, argv[0])
        except BaseException:
            command.abandon()
            raise
        return _Ran(argv, mounts, command.pid, command.exit_code, {})

    try:
        return _session(options, _tracer_options(options), launch)
    except TracingRefused as e:
        if options.strict:
            raise
        # A job must never be lost to its observer: the command runs all
        # the same, and only the log is given up.
        print(f"ebpf-darshan: {e}", file=sys.stderr)
        print("ebpf-darshan: running the command without recording it: no log will be "
              "written (--strict makes this an error)", file=sys.stderr)
        return Recorded(None, _run_plain(argv))


def _run_plain(argv: list[str]) -> int:
    """The command, unrecorded, as a child; its exit status."""
    try:
        return _exit_code(subprocess.run(argv, check=False).returncode)
    except FileNotFoundError:
        print(f"ebpf-darshan: {argv[0]}: No such file or directory", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"ebpf-darshan: {argv[0]}: Permission denied", file=sys.stderr)
        return 126


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def record_scope_of(scope: Scope, output: str | Path | None = None,
                    options: RecordOptions | None = None, duration: float | None = None,
                    stop: Callable[[], bool] = lambda: False,
                    ready: Callable[[], None] = lambda: None) -> Recorded:
    """Record processes not launched here (a scope: a PID and its
    descendants, a cgroup, an environment variable) until they are gone,
    duration has passed or stop() says so; ready() once recording."""
    options = _with_output(options, output)
    check_system("record")
    deadline = time.monotonic() + duration if duration is not None else None

    def stopped() -> bool:
        return stop() or (deadline is not None and time.monotonic() >= deadline)

    def run(tracer: Tracer, recording: Recording) -> _Ran:
        record_scope(tracer, scope, recording, stopped, ready, POLL_MS)
        first = next((p for p in recording.procs.values() if p.exe), None)
        argv = [first.exe] if first else [scope.describe()]
        return _Ran(argv, mount_table(os.getpid()), first.pid if first else os.getpid(), 0,
                    {"node": socket.gethostname(), "scope": scope.describe()})

    tracer_options = replace(_tracer_options(options), lifecycle_consts=scope.lifecycle_consts())
    return _session(options, tracer_options, run)


def attach(pid: int, output: str | Path | None = None, options: RecordOptions | None = None,
           duration: float | None = None) -> Recorded:
    """Record a running process and its children from now on, until it
    exits or duration has passed."""
    return record_scope_of(PidScope(pid=pid), output, options, duration)


@contextmanager
def recording(output: str | Path | None = None, options: RecordOptions | None = None
              ) -> Iterator[Recorded]:
    """Record the calling process (its threads and the children it starts)
    inside the block.  A recorder process attaches to this one; when the
    block ends it stops and writes the log, and the Recorded yielded by the
    block is filled in."""
    options = _with_output(options, output)
    check_system("record")
    done = Recorded(None, 0)
    log = options.output or output_dir(options) / f"block-{os.getpid()}.darshan"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "ebpf_darshan", "attach", "--pid", str(os.getpid()),
         "-o", str(log), *_cli_options(options)],
        stderr=subprocess.PIPE, text=True)
    assert recorder.stderr is not None
    started = recorder.stderr.readline()
    if "recording" not in started:
        recorder.wait()
        raise RecordError(started.strip().removeprefix("ebpf-darshan: ") or
                          "the recorder did not start")
    try:
        yield done
    finally:
        recorder.send_signal(signal.SIGINT)
        rest = recorder.stderr.read()
        if recorder.wait() != 0:
            raise RecordError(rest.strip().splitlines()[-1] if rest.strip()
                              else "the recorder failed")
        done.path = log
        done.partial = "the log is partial" in rest


def _cli_options(options: RecordOptions) -> list[str]:
    """options as `attach` takes them (the recorder of a block)."""
    args: list[str] = []
    for prefix in options.include:
        args += ["--include", prefix]
    for prefix in options.exclude:
        args += ["--exclude", prefix]
    for layer in ALL_LAYERS:
        if options.layers is not None and layer.name not in options.layers:
            args.append(f"--no-{layer.name}")
    if options.tracer.dxt:
        args.append("--dxt")
    return args


def _with_output(options: RecordOptions | None, output: str | Path | None) -> RecordOptions:
    options = options or RecordOptions()
    if output is not None:
        options = replace(options, output=Path(output))
    return options


__all__ = ["RecordError", "RecordOptions", "Recorded", "attach", "record", "record_scope_of",
           "recording"]
