"""One recorder per node (`record --cgroup/--pid/--jobid-env`) and `merge`:
an MPI job split over two "nodes" (two cgroups of two ranks each) merges
into the log one recorder of both cgroups writes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import ebpf_darshan, heatmap_bytes, module_bytes, mpirun, posix, record
from ebpf_darshan.darshan import modules as M, read_log

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

NPROCS = 4
RANK_COUNTERS = {M.counter_index("POSIX", n) for n in (
    "POSIX_FASTEST_RANK", "POSIX_FASTEST_RANK_BYTES", "POSIX_SLOWEST_RANK",
    "POSIX_SLOWEST_RANK_BYTES")}
# Recorders of one process each stop it at exec until they attach their
# library probes; several at once release each other's holds early (issue
# for the lead): these tests count system calls only.
NO_HOLDS = ("--no-stdio", "--no-mpiio", "--no-hdf5")
# Each recorder times every call itself: times agree to well under this.
TIME_TOLERANCE = 1e-3


class ScopedRecorder:
    """`ebpf-darshan record -o LOG SCOPE...` in the background, ready once it
    says it is recording."""

    def __init__(self, log: Path, *scope: str):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "ebpf_darshan", "record", "-o",
                                      str(log), *scope], stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if not line.startswith("ebpf-darshan: recording"):
            self.proc.kill()
            pytest.fail(line + self.proc.stderr.read())

    def finish(self) -> Path:
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()
        return self.log


def cgroup2_root() -> Path:
    for line in Path("/proc/mounts").read_text().splitlines():
        _, where, kind, *_ = line.split()
        if kind == "cgroup2":
            return Path(where)
    pytest.skip("no cgroup v2 hierarchy mounted")


@pytest.fixture(scope="module")
def two_nodes(mpi_bins: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One job, ranks 0-1 in cgroup n0 and 2-3 in n1: a recorder for each
    and one for their parent; the data directory."""
    tmp = tmp_path_factory.mktemp("nodes")
    job_cgroup = cgroup2_root() / f"ebpf-darshan-test-{os.getpid()}"
    nodes = [job_cgroup / "n0", job_cgroup / "n1"]
    for node in nodes:
        node.mkdir(parents=True)
    try:
        recorders = [ScopedRecorder(tmp / f"{name}.darshan", "--cgroup", str(cg), *NO_HOLDS)
                     for name, cg in (("n0", nodes[0]), ("n1", nodes[1]), ("all", job_cgroup))]
        data = tmp / "data"
        data.mkdir()
        # each rank moves itself into its node's cgroup, then execs the program
        enter = (f'echo $$ > {job_cgroup}/n$((OMPI_COMM_WORLD_RANK / 2))/cgroup.procs && '
                 f'exec {mpi_bins / "shared_and_own"} {data}')
        subprocess.run(mpirun(NPROCS, "sh", "-c", enter), check=True, timeout=60)
        logs = {r.log.stem: r.finish() for r in recorders}
    finally:
        for node in [*nodes, job_cgroup]:
            node.rmdir()
    return {**logs, "data": data}


def by_key(log: Path) -> dict[tuple[int, int], np.void]:
    return {(int(r["id"]), int(r["rank"])): r for r in read_log(log).records["POSIX"]}


def test_node_logs_keep_their_ranks(two_nodes: dict[str, Path]) -> None:
    data = two_nodes["data"]
    for node, ranks in (("n0", (0, 1)), ("n1", (2, 3))):
        records = posix(two_nodes[node])
        assert {rank for rank, _ in records} == set(ranks)
        for rank in ranks:  # the shared file is not every rank's here: per rank
            assert records[(rank, str(data / "shared.dat"))]["POSIX_WRITES"] == rank + 1
            assert records[(rank, str(data / f"rank{rank}.dat"))]["POSIX_WRITES"] == 2
        assert read_log(two_nodes[node]).job.nprocs == NPROCS
        assert heatmap_bytes(two_nodes[node]) == module_bytes(two_nodes[node])


def test_merged_node_logs_equal_one_recorder(two_nodes: dict[str, Path], tmp_path: Path) -> None:
    merged = tmp_path / "job.darshan"
    done = ebpf_darshan("merge", "-o", str(merged), str(two_nodes["n0"]), str(two_nodes["n1"]))
    assert done.returncode == 0, done.stderr
    got, want = by_key(merged), by_key(two_nodes["all"])
    assert sorted(got) == sorted(want)
    for key, rec in want.items():
        other = got[key]
        same = [i for i in range(len(rec["counters"])) if i not in RANK_COUNTERS]
        assert (other["counters"][same] == rec["counters"][same]).all(), key
        np.testing.assert_allclose(other["fcounters"], rec["fcounters"], atol=TIME_TOLERANCE)
    job, one = read_log(merged).job, read_log(two_nodes["all"]).job
    assert job.nprocs == one.nprocs == NPROCS
    assert abs(job.start_ns - one.start_ns) < TIME_TOLERANCE * 1e9
    assert job.metadata["nodes"] == "2"
    assert job.metadata["node0"].endswith("ranks 0-1 (cgroup {})".format(
        read_log(two_nodes["n0"]).job.metadata["scope"].split(" ", 1)[1]))
    assert "ranks 2-3" in job.metadata["node1"]
    # the nodes' heatmaps, moved to the job's time base, keep every byte
    assert heatmap_bytes(merged) == heatmap_bytes(two_nodes["all"])
    records = posix(merged)
    shared = records[(-1, str(two_nodes["data"] / "shared.dat"))]
    assert shared["POSIX_WRITES"] == 10 and shared["POSIX_BYTES_WRITTEN"] == 10000
    assert shared["POSIX_FASTEST_RANK_BYTES"] == (shared["POSIX_FASTEST_RANK"] + 2) * 1000


def test_merging_different_jobs_is_refused(two_nodes: dict[str, Path], mpi_bins: Path,
                                           tmp_path: Path) -> None:
    other = tmp_path / "other.darshan"
    (tmp_path / "data").mkdir()
    record(other, mpirun(2, str(mpi_bins / "shared_and_own"), str(tmp_path / "data")))
    done = ebpf_darshan("merge", "-o", str(tmp_path / "x.darshan"), str(two_nodes["n0"]),
                        str(other))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "are logs of different jobs" in done.stderr
    assert not (tmp_path / "x.darshan").exists()


def test_merging_a_rank_twice_is_refused(two_nodes: dict[str, Path], tmp_path: Path) -> None:
    done = ebpf_darshan("merge", "-o", str(tmp_path / "x.darshan"), str(two_nodes["n0"]),
                        str(two_nodes["n0"]))
    assert done.returncode == 1 and "rank 0 is in both" in done.stderr


def test_pid_scope_follows_running_threads_and_new_children(tmp_path: Path) -> None:
    go, out = tmp_path / "go", tmp_path / "out"
    script = (
        "import os, threading, time\n"
        f"def wait():\n    while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        f"def writer():\n    wait()\n    open({str(out)!r} + '.thread', 'w').write('abc')\n"
        "t = threading.Thread(target=writer); t.start(); t.join()\n"
        "if os.fork() == 0:\n"
        f"    open({str(out)!r} + '.child', 'w').write('hello'); os._exit(0)\n"
        "os.wait()\n")
    target = subprocess.Popen([sys.executable, "-c", script])
    recorder = ScopedRecorder(tmp_path / "pid.darshan", "--pid", str(target.pid))
    go.touch()
    assert target.wait(timeout=30) == 0
    log = recorder.finish()
    records = posix(log)
    assert records[(0, f"{out}.thread")]["POSIX_BYTES_WRITTEN"] == 3
    assert records[(1, f"{out}.child")]["POSIX_BYTES_WRITTEN"] == 5
    # the heatmaps' clock started before the running process was adopted
    assert heatmap_bytes(log) == module_bytes(log) == {0: (0, 3), 1: (0, 5)}


def test_jobid_env_scope_lets_in_processes_that_exec_with_it(tmp_path: Path) -> None:
    tag = f"EBPF_DARSHAN_TEST_JOB={uuid.uuid4().hex}"
    recorder = ScopedRecorder(tmp_path / "env.darshan", "--jobid-env", tag)
    out, untagged = tmp_path / "tagged.dat", tmp_path / "untagged.dat"
    # (stdout not pytest's capture file: the shell dups it around redirections)
    subprocess.run(["sh", "-c", f"echo untagged > {untagged}"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["env", tag, "sh", "-c", f"echo tagged > {out}; read x < {out}"],
                   check=True, stdout=subprocess.DEVNULL)
    log = recorder.finish()
    records = posix(log)
    assert sorted(records) == [(0, str(out))]
    assert records[(0, str(out))]["POSIX_BYTES_WRITTEN"] == 7
    assert records[(0, str(out))]["POSIX_BYTES_READ"] == 7
    # the kernel started the heatmaps' clock when the process entered
    assert heatmap_bytes(log) == {0: (7, 7)}


@pytest.mark.parametrize("args, message", [
    (["--cgroup", "/nonexistent/cg"], "--cgroup /nonexistent/cg: No such file or directory"),
    (["--cgroup", "/tmp"], "--cgroup /tmp: not a cgroup v2 directory"),
    (["--jobid-env", "SLURM_JOB_ID"], "--jobid-env 'SLURM_JOB_ID': expected NAME=VALUE"),
    (["--pid", "0"], "--pid 0: no such process"),
    (["--pid", "1", "--", "true"], "give either a command or --pid/--cgroup/--jobid-env, not both"),
])
def test_bad_scopes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = ebpf_darshan("record", "-o", str(tmp_path / "x.darshan"), *args)
    assert done.returncode != 0
    assert done.stderr == f"ebpf-darshan: {message}\n"


def test_recorder_inside_its_cgroup_is_refused(tmp_path: Path) -> None:
    cgroup = cgroup2_root() / f"ebpf-darshan-self-{os.getpid()}"
    cgroup.mkdir()
    try:
        done = subprocess.run(
            ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$0" -m ebpf_darshan record '
             f'-o {tmp_path}/x.darshan --cgroup {cgroup}', sys.executable],
            stderr=subprocess.PIPE, text=True)
    finally:
        cgroup.rmdir()
    assert done.returncode == 1
    assert "the recorder itself is in it" in done.stderr and done.stderr.count("\n") == 1
