"""The node-wide daemon: two users' jobs, their logs and who may see what,
the metrics endpoint, thousands of short processes, SIGTERM mid-job.

The users are real system accounts (created here if missing) and their
jobs run under their uids through setpriv, so the daemon's uid rule,
job grouping and SO_PEERCRED checks all meet the real thing."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import darshan
import numpy as np
import pytest

from conftest import assert_counters, heatmap_bytes, module_bytes, module_records, posix
from ebpf_darshan import bpf_layout as L
from ebpf_darshan.cli.daemon import POLL_MS
from ebpf_darshan.darshan import read_log
from ebpf_darshan.names import PathFilter

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.node.logs import obfuscated
from ebpf_darshan.node.recorder import NodeOptions, NodeRecorder
from ebpf_darshan.tracer import Tracer, TracerOptions
from test_mpiio import RANK_FILE, SHARED_FILE, TIMING_DEPENDENT

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

USERS = ("edtest1", "edtest2")
WAIT_S = 30


@dataclass
class User:
    name: str
    uid: int
    gid: int
    python: str  # an interpreter with this package that the user can run

    def run(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """argv as this user, with nothing inherited that names root."""
        env = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}
        env.update(kwargs.pop("env", {}))
        return subprocess.Popen(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                                 "--clear-groups", *argv], env=env, **kwargs)


@pytest.fixture(scope="session")
def users(user_python: str) -> list[User]:
    out = []
    for name in USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name],
                           check=True)
            entry = pwd.getpwnam(name)
        out.append(User(name, entry.pw_uid, entry.pw_gid, user_python))
    return out


@pytest.fixture
def workdir():
    """A directory every user can write in (pytest's own tmp is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="ebpf-darshan-daemon-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tmp: Path, public: Path, *options: str):
        self.log_dir = tmp / "logs"
        self.log_dir.mkdir()
        self.socket = str(public / "query.sock")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ebpf_darshan", "daemon", "--log-dir", str(self.log_dir),
             "--query-socket", self.socket, "--metrics-port", str(self.port), *options],
            stderr=subprocess.PIPE, text=True)
        # Ready once it says so: the BPF programs are attached by then.
        line = self.proc.stderr.readline()
        assert "recording" in line, line + self.proc.stderr.read()

    def query(self, user: User | None) -> dict:
        python = sys.executable if user is None else user.python
        argv = [python, "-m", "ebpf_darshan", "query", "--json", "--socket", self.socket]
        if user is None:
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        else:
            p = user.run(argv, stdout=subprocess.PIPE, text=True)
            out, _ = p.communicate(timeout=WAIT_S)
            assert p.returncode == 0
        return json.loads(out)

    def logs_with(self, name: str, count: int = 1) -> list[Path]:
        """The logs (as many as expected) whose records include a file called name."""
        deadline = time.monotonic() + WAIT_S
        while True:
            found = [p for p in self.log_dir.rglob("*.darshan")
                     if any(n.endswith(name) for _, n in posix(p))]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=WAIT_S)
        assert "Traceback" not in err, err
        return self.proc.returncode


@pytest.fixture
def daemon(tmp_path: Path, workdir: Path, request: pytest.FixtureRequest):
    d = Daemon(tmp_path, workdir, *getattr(request, "param", ()))
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0


def held_job(user: User, workdir: Path, tag: str, script: str) -> tuple[subprocess.Popen, Path]:
    """user runs script, then waits on a fifo until the test writes to it."""
    fifo = workdir / f"{tag}.go"
    os.mkfifo(fifo, 0o666)
    job = user.run(["sh", "-c", f"{script}; read x < {fifo}"], cwd=workdir)
    return job, fifo


def wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def job_with_file(snapshot: dict, name: str) -> dict | None:
    for job in snapshot["jobs"]:
        if any(f["name"].endswith(name) for f in job["files"]):
            return job
    return None


def first_bin_with_bytes(log: Path, rank: int) -> tuple[float, int]:
    """(bin width, first bin of the rank's POSIX heatmap that has bytes)."""
    (heatmap,) = [h for h in read_log(log).heatmaps if h.rank == rank]
    return heatmap.bin_width, int(np.flatnonzero(heatmap.write_bins + heatmap.read_bins)[0])


def rank_of_file(log: Path, name: Path) -> int:
    (rank,) = [rank for rank, n in posix(log) if n == str(name)]
    return rank


def test_job_logs_have_heatmaps(daemon: Daemon, users: list[User], workdir: Path) -> None:
    """A job's processes count from the job's clock: the second dd's bytes
    are in the bins after its start, 0.5 s in, and every byte of the POSIX
    records is in the heatmap (dd's first writes come before the daemon has
    seen the file's name: user space bins those)."""
    job = users[0].run(["sh", "-c", "dd if=/dev/zero of=h1.dat bs=1000 count=5 status=none; "
                        "sleep 0.5; dd if=/dev/zero of=h2.dat bs=1000 count=7 status=none"],
                       cwd=workdir)
    assert job.wait(WAIT_S) == 0
    (log,) = daemon.logs_with("h2.dat")
    assert heatmap_bytes(log) == module_bytes(log)
    assert sorted(w for _, w in module_bytes(log).values()) == [5000, 7000]
    width, first = first_bin_with_bytes(log, rank_of_file(log, workdir / "h2.dat"))
    assert width == pytest.approx(0.1) and first >= 5
    assert first_bin_with_bytes(log, rank_of_file(log, workdir / "h1.dat")) == (width, 0)
    assert not read_log(log).partial_flag, read_log(log).job.metadata


def test_heatmaps_of_a_job_started_twice(daemon: Daemon, users: list[User],
                                         workdir: Path) -> None:
    """Two steps of one Slurm job, each started by the batch system (its own
    top-level process and clock), the second 0.6 s after the first: its
    heatmap moves onto the job's time base.  (Both stay until the end: the
    job is told by SLURM_JOB_ID in the environment, which the daemon reads
    from /proc.)"""
    env = {"SLURM_JOB_ID": "4242"}
    fifo = workdir / "step.go"
    os.mkfifo(fifo, 0o666)
    steps = []
    for name, count in (("s1.dat", 3), ("s2.dat", 9)):
        steps.append(users[0].run(["sh", "-c", f"dd if=/dev/zero of={name} bs=100 "
                                   f"count={count} status=none; read x < {fifo} || true"],
                                  cwd=workdir, env=env))
        wait_for(lambda name=name: job_with_file(daemon.query(None), name),
                 f"the step writing {name}")
        time.sleep(0.6)
    fifo.write_text("\n")
    assert [step.wait(WAIT_S) for step in steps] == [0, 0]
    (log,) = daemon.logs_with("s2.dat")
    assert read_log(log).job.jobid == 4242
    assert heatmap_bytes(log) == module_bytes(log)
    assert sorted(w for _, w in module_bytes(log).values()) == [300, 900]
    width, first_bin = first_bin_with_bytes(log, rank_of_file(log, workdir / "s2.dat"))
    assert width == pytest.approx(0.1) and first_bin >= 6
    assert first_bin_with_bytes(log, rank_of_file(log, workdir / "s1.dat")) == (width, 0)


@pytest.mark.parametrize("daemon", [("--heatmap-procs", "1")], indirect=True)
def test_heatmap_rows_run_out(daemon: Daemon, users: list[User], workdir: Path) -> None:
    """One kernel row: the shell holds it from its first counted byte to
    its end, so python's write (after the name is known: no user-space
    binning) finds none, and is counted."""
    job = users[0].run(["sh", "-c", "exec 3>k1.dat; sleep 0.3; echo x >&3; /usr/bin/python3 -c "
                        "\"import time; f = open('k2.dat', 'w'); time.sleep(0.3); "
                        "f.write('y' * 10); f.flush()\"; echo z >&3"], cwd=workdir)
    assert job.wait(WAIT_S) == 0
    (log,) = daemon.logs_with("k2.dat")
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.metadata["job"]["metadata"]["heatmap_lost_ops"] == "1"
    assert report.modules["HEATMAP"]["partial_flag"] and not report.modules["POSIX"]["partial_flag"]
    shell = rank_of_file(log, workdir / "k1.dat")
    assert heatmap_bytes(log) == {shell: (0, 4)}
    assert module_bytes(log) == {shell: (0, 4), rank_of_file(log, workdir / "k2.dat"): (0, 10)}


def test_two_users_jobs_logs_and_query(daemon: Daemon, users: list[User], workdir: Path) -> None:
    one, two = users
    job1, go1 = held_job(one, workdir, "one",
                         "dd if=/dev/zero of=one.dat bs=4096 count=8 status=none")
    job2, go2 = held_job(two, workdir, "two",
                         "dd if=/dev/zero of=two.dat bs=1000 count=3 status=none")
    both = wait_for(lambda: (s := daemon.query(None)) and job_with_file(s, "one.dat")
                    and job_with_file(s, "two.dat") and s, "both jobs to be seen")
    mine = job_with_file(both, "one.dat")
    assert mine["uid"] == one.uid and mine["user"] == one.name
    assert mine["totals"]["bytes_written"] == 8 * 4096
    assert mine["totals"]["writes"] == 8
    assert job_with_file(both, "two.dat")["totals"]["bytes_written"] == 3000

    # Each user sees their own jobs only, whatever they ask for.
    for me, other_file in ((one, "two.dat"), (two, "one.dat")):
        seen = daemon.query(me)
        assert seen["jobs"] and all(j["uid"] == me.uid for j in seen["jobs"])
        assert job_with_file(seen, other_file) is None

    for go in (go1, go2):
        go.write_text("\n")
    job1.wait(WAIT_S)
    job2.wait(WAIT_S)
    for user, name, expected in (
            (one, "one.dat", {"POSIX_WRITES": 8, "POSIX_BYTES_WRITTEN": 32768}),
            (two, "two.dat", {"POSIX_WRITES": 3, "POSIX_BYTES_WRITTEN": 3000})):
        logs = daemon.logs_with(name)
        assert len(logs) == 1, logs
        log = logs[0]
        st = log.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (user.uid, user.gid, 0o400)
        start = time.localtime(read_log(log).job.start_sec)
        assert log.parent.relative_to(daemon.log_dir).parts == (
            str(start.tm_year), str(start.tm_mon), str(start.tm_mday))
        assert log.name.startswith(f"{user.name}_sh_id{job1.pid if user is one else job2.pid}-")
        records = {n: r for (_, n), r in posix(log).items()}
        assert all(workdir.name in n for n in records)  # the other user's file is not here
        assert_counters(records[str(workdir / name)], expected)
        assert not read_log(log).partial_flag


def scrape(port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Accept": "application/openmetrics-text"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as r:
        return r.read().decode()


def metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_endpoint(daemon: Daemon, users: list[User], workdir: Path) -> None:
    one = users[0]
    job, go = held_job(one, workdir, "m", "dd if=/dev/zero of=m.dat bs=512 count=6 status=none")
    key = wait_for(lambda: (j := job_with_file(daemon.query(None), "m.dat")) and j["job"],
                   "the job")
    text = scrape(daemon.port)
    assert text.rstrip().endswith("# EOF")  # OpenMetrics, as asked
    assert metric(text, "ebpf_darshan_job_bytes_total", job=key, user=one.name,
                  direction="write") == 3072
    assert metric(text, "ebpf_darshan_job_operations_total", job=key, op="write") == 6
    assert metric(text, "ebpf_darshan_user_bytes_total", user=one.name,
                  direction="write") >= 3072
    assert metric(text, "ebpf_darshan_record_slots") == 16384
    assert metric(text, "ebpf_darshan_events_lost_total") == 0
    assert metric(text, "ebpf_darshan_records") >= 1
    assert "m.dat" not in text  # no per-file labels unless asked
    go.write_text("\n")
    job.wait(WAIT_S)
    # Finished jobs leave the job series but stay in the user's total.
    after = wait_for(lambda: (t := scrape(daemon.port)) and metric(
        t, "ebpf_darshan_job_bytes_total", job=key) is None and t, "the job to end")
    assert metric(after, "ebpf_darshan_user_bytes_total", user=one.name,
                  direction="write") >= 3072


def test_top_shows_the_running_job(daemon: Daemon, users: list[User], workdir: Path) -> None:
    """`top` draws its tables from the daemon's live counters."""
    one = users[0]
    job, go = held_job(one, workdir, "t", "dd if=/dev/zero of=top.dat bs=512 count=3 status=none")
    key = wait_for(lambda: (j := job_with_file(daemon.query(None), "top.dat")) and j["job"],
                   "the job")
    shown = subprocess.run([sys.executable, "-m", "ebpf_darshan", "top", "--iterations", "1",
                            "--interval", "0.2", "--socket", daemon.socket],
                           capture_output=True, text=True, timeout=WAIT_S,
                           env=dict(os.environ, COLUMNS="120"))
    assert shown.returncode == 0, shown.stderr
    files = shown.stdout[shown.stdout.index("files"):]
    row = next(line for line in files.splitlines() if "top.dat" in line)
    assert key in row and one.name in row
    go.write_text("\n")
    job.wait(WAIT_S)


@pytest.mark.parametrize("daemon", [("--max-records", "6144")], indirect=True)
def test_two_thousand_short_processes(daemon: Daemon, users: list[User], workdir: Path) -> None:
    """6144 record slots, 2,000 processes with about 5 records each (the
    file, libraries, locale files): only slots given back at each exit make
    this fit.  (Slots come back after the daemon has seen the exit, so the
    slots must also cover how far the daemon lags: 4096 lost files in 3 of
    4 runs on a machine busy with other work, while the 10,000 records
    still need every slot used about twice.)"""
    (workdir / "many").mkdir()
    (workdir / "many").chmod(0o777)
    job = users[0].run(["sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); "
                        "dd if=/dev/zero of=many/f$i bs=100 count=1 status=none; done"],
                       cwd=workdir)
    assert job.wait(300) == 0  # seconds here; minutes on a machine loaded with other tracers
    logs = daemon.logs_with("many/f2000")
    assert len(logs) == 1
    log = read_log(logs[0])
    records = {n: r for (_, n), r in posix(logs[0]).items()}
    assert len(records) == 2000, log.job.metadata
    for i in range(1, 2001):
        # dd opens of= and dup2s it onto its stdout: Darshan counts both as opens
        assert_counters(records[str(workdir / f"many/f{i}")],
                        {"POSIX_WRITES": 1, "POSIX_BYTES_WRITTEN": 100, "POSIX_OPENS": 2,
                         "POSIX_DUPS": 1})
    assert log.job.nprocs == 2000
    assert not log.partial_flag, log.job.metadata
    # 2,000 heatmaps through 512 kernel rows, each lent again at its exit
    assert heatmap_bytes(logs[0]) == module_bytes(logs[0])
    assert daemon.proc.poll() is None
    health = daemon.query(None)["health"]
    assert health["records_dropped"] == health["events_lost"] == 0


def test_a_process_gone_before_its_events_are_read(users: list[User], workdir: Path,
                                                  tmp_path: Path) -> None:
    """A job that ends between the daemon's drain of the events and its sweep
    (for exit events that were lost) still has its last events in the ring:
    dd's fork, its file's name, the exits.  The sweep must not take the
    shell for gone without them, which wrote the job's log without dd's
    file, and crashed the daemon when a name came for records already taken
    (the flaky test_two_thousand_short_processes on a loaded machine).  The
    job waits on a fifo until the drain is done, then runs to its end."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    go = workdir / "late.go"
    os.mkfifo(go, 0o666)
    tracer = Tracer(TracerOptions(lifecycle_consts={"trace_uid_min": np.uint32(1000)}))
    try:
        node = NodeRecorder(tracer, PathFilter(), NodeOptions(log_dir, sweep_s=0))
        job = users[0].run(["sh", "-c", f"read x < {go}; "
                            "dd if=/dev/zero of=late.dat bs=10 count=3 status=none"], cwd=workdir)

        def running() -> bool:
            return any(j.pid == job.pid for j in node.jobs.running.values())

        deadline = time.monotonic() + WAIT_S
        while not running() and time.monotonic() < deadline:
            node.step(POLL_MS)
        assert running()
        drain = tracer.poll

        def drain_then_end_the_job(timeout_ms: int) -> list[bytes]:
            raws = drain(timeout_ms)
            go.write_text("\n")
            assert job.wait(WAIT_S) == 0
            return raws

        tracer.poll = drain_then_end_the_job
        node.step(0)
        tracer.poll = drain
        while running() and time.monotonic() < deadline:
            node.step(POLL_MS)
    finally:
        tracer.close()
    logs = [p for p in log_dir.rglob("*.darshan")
            if any(n.startswith(str(workdir)) for _, n in posix(p))]
    assert len(logs) == 1
    log = read_log(logs[0])
    assert log.job.exe == "/usr/bin/sh" and not log.partial_flag, log.job.metadata
    records = {n: r for (_, n), r in posix(logs[0]).items()}
    assert_counters(records[str(workdir / "late.dat")],
                    {"POSIX_WRITES": 3, "POSIX_BYTES_WRITTEN": 30, "POSIX_OPENS": 2})


def test_names_of_records_already_taken_are_ignored() -> None:
    """A name can come after the daemon has taken its process's records
    (a process its sweep found gone whose exit event was lost): accepting
    or excluding it is then nothing to do, not an error."""
    tracer = Tracer(TracerOptions())
    try:
        key = np.zeros(1, dtype=L.file_key)[0]
        key["proc"], key["dev"], key["ino"] = 12345, 1, 2
        tracer.accept(key)
        tracer.exclude(key)
    finally:
        tracer.close()


def test_sigterm_writes_partial_logs(daemon: Daemon, users: list[User], workdir: Path) -> None:
    job, go = held_job(users[1], workdir, "t", "dd if=/dev/zero of=t.dat bs=10 count=7 status=none")
    wait_for(lambda: job_with_file(daemon.query(None), "t.dat"), "the job")
    assert daemon.stop() == 0
    logs = daemon.logs_with("t.dat")
    assert len(logs) == 1
    log = read_log(logs[0])
    assert log.partial_flag
    assert "stopped while the job was running" in log.job.metadata["partial"]
    records = {n: r for (_, n), r in posix(logs[0]).items()}
    assert_counters(records[str(workdir / "t.dat")], {"POSIX_WRITES": 7, "POSIX_BYTES_WRITTEN": 70})
    assert heatmap_bytes(logs[0]) == module_bytes(logs[0]) == {0: (0, 70)}
    go.write_text("\n")
    job.wait(WAIT_S)


@pytest.mark.parametrize("daemon", [("--obfuscate-paths", "--metrics-files", "5")],
                         indirect=True)
def test_obfuscated_paths(daemon: Daemon, users: list[User], workdir: Path) -> None:
    name = str(workdir / "secret.dat")
    hashed = obfuscated(name)
    job, go = held_job(users[0], workdir, "o", f"dd if=/dev/zero of={name} bs=10 count=2 "
                       "status=none")
    key = wait_for(lambda: (j := job_with_file(daemon.query(None), hashed)) and j["job"],
                   "the job")
    text = scrape(daemon.port)
    assert metric(text, "ebpf_darshan_file_bytes_total", job=key, file=hashed,
                  direction="write") == 20
    assert "secret" not in text
    go.write_text("\n")
    job.wait(WAIT_S)
    logs = daemon.logs_with(hashed)
    assert len(logs) == 1
    log = read_log(logs[0])
    assert hashed in log.names.values() and not any("secret" in n for n in log.names.values())
    assert log.job.exe == obfuscated("/usr/bin/sh")


def test_only_root_starts_a_daemon(users: list[User], workdir: Path) -> None:
    p = users[0].run([users[0].python, "-m", "ebpf_darshan", "daemon", "--log-dir", str(workdir)],
                     stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=WAIT_S)
    assert p.returncode == 1
    assert err.strip() == ("ebpf-darshan: daemon needs root (it loads BPF programs into the "
                           "kernel); try: sudo ebpf-darshan daemon ...")


def test_a_job_gets_every_module(daemon: Daemon, users: list[User], workdir: Path,
                                 mpi_bins: Path) -> None:
    """The daemon's jobs get the library layers too: an MPI program run by
    a user has its MPI-IO records, exact and reduced as `record` makes them
    (the shared file at rank -1), and its stdout's STDIO record."""
    binary = workdir / "mpiio_rw"
    shutil.copy(mpi_bins / "mpiio_rw", binary)  # pytest's tmp is root's only
    out = workdir / "mpi"
    out.mkdir()
    out.chmod(0o777)
    ranks = 2
    job = users[0].run(["mpirun", "--oversubscribe", "-np", str(ranks), str(binary), str(out)],
                       cwd=workdir, stdout=subprocess.PIPE, text=True)
    stdout, _ = job.communicate(timeout=120)
    assert job.returncode == 0
    modes = [int(x) for x in stdout.split()]
    (log,) = daemon.logs_with("mpi/shared.dat")
    records = module_records(log, "MPI-IO")
    shared = records[(-1, str(out / "shared.dat"))]
    summed = {k: v * ranks for k, v in SHARED_FILE.items() if k not in TIMING_DEPENDENT
              and "_RANK" not in k and ("_ACCESS" not in k or k.endswith("_COUNT"))}
    assert_counters(shared, summed | {"MPIIO_MODE": modes[0]})
    for rank in range(ranks):
        assert_counters(records[(rank, str(out / f"rank{rank}.dat"))],
                        RANK_FILE | {"MPIIO_MODE": modes[1]})
    assert len(records) == 1 + ranks, records.keys()
    stdio = module_records(log, "STDIO")
    assert sum(r["STDIO_WRITES"] for (_, name), r in stdio.items() if name == "<STDOUT>") > 0
    assert read_log(log).job.nprocs == ranks
    assert not read_log(log).partial_flag, read_log(log).job.metadata
