"""`ebpf-darshan record` as a user meets it: exit statuses, signals, output
files, bad input, lost data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import darshan
import pytest

from conftest import ebpf_darshan, posix, record
from ebpf_darshan.darshan import read_log

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


def test_exit_status_is_the_commands(tmp_path: Path) -> None:
    record(tmp_path / "a.darshan", ["sh", "-c", "exit 7"], status=7)
    assert (tmp_path / "a.darshan").exists()


def test_killed_command_gives_128_plus_signal_and_a_log(tmp_path: Path) -> None:
    out = tmp_path / "before-crash.dat"
    record(tmp_path / "k.darshan", ["sh", "-c", f"echo hi > {out}; kill -SEGV $$"],
           status=128 + signal.SIGSEGV)
    assert posix(tmp_path / "k.darshan")[(0, str(out))]["POSIX_WRITES"] == 1


def test_command_not_found_is_127(tmp_path: Path) -> None:
    done = record(tmp_path / "nf.darshan", ["/nonexistent/program"], status=127)
    assert "/nonexistent/program" in done.stderr


def test_sigint_to_recorder_reaches_command_and_log_is_written(tmp_path: Path) -> None:
    out, log = tmp_path / "int.dat", tmp_path / "int.darshan"
    script = (f"import signal, sys, time\nf = open({str(out)!r}, 'w')\nf.write('x')\nf.flush()\n"
              "signal.signal(signal.SIGINT, lambda *a: (f.write('bye'), f.close(), sys.exit(3)))\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "ebpf_darshan", "record", "-o", str(log), "--",
                             sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while not (out.exists() and out.stat().st_size) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 3
    rec = posix(log)[(0, str(out))]
    assert rec["POSIX_WRITES"] == 2 and rec["POSIX_BYTES_WRITTEN"] == 4


def test_log_is_private_and_owned_by_the_sudo_user(tmp_path: Path) -> None:
    log = tmp_path / "own.darshan"
    env = dict(os.environ, SUDO_UID="4321", SUDO_GID="4322", SUDO_USER="someone")
    record(log, ["true"], env=env)
    st = log.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 4321, 4322)
    assert darshan.DarshanReport(str(log)).metadata["job"]["uid"] == 4321
    assert not [p for p in tmp_path.iterdir() if p.name != "own.darshan"]  # no temp file left


def test_default_name_in_log_dir(tmp_path: Path) -> None:
    env = dict(os.environ, SLURM_JOB_ID="98765", SUDO_USER="alice")
    done = ebpf_darshan("record", "--log-dir", str(tmp_path), "--", "true", env=env)
    assert done.returncode == 0, done.stderr
    (log,) = tmp_path.iterdir()
    assert log.name.startswith("alice_true_id98765-") and log.name.endswith("_1.darshan")
    assert darshan.DarshanReport(str(log)).metadata["job"]["jobid"] == 98765


def test_job_header(tmp_path: Path) -> None:
    log = tmp_path / "job.darshan"
    record(log, ["sh", "-c", "sleep 0.2"])
    report = darshan.DarshanReport(str(log), read_all=True)
    job = report.metadata["job"]
    assert report.metadata["exe"] == "sh -c sleep 0.2"
    env_jobid = any(v in os.environ for v in ("SLURM_JOB_ID", "PBS_JOBID", "COBALT_JOBID",
                                               "LSB_JOBID", "FLUX_JOB_ID"))
    assert job["nprocs"] == 1
    assert env_jobid or job["jobid"] > 1  # the recorder's pid when no batch system
    assert 0.2 <= job["run_time"] < 30
    assert job["metadata"]["lib_ver"].startswith("ebpf-darshan-")
    assert "/" in [m[0] for m in report.data["mounts"]]


def test_exclusions_and_include(bins: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "x.dat"
    out.parent.mkdir()
    log = tmp_path / "ex.darshan"
    record(log, [str(bins / "seq_write"), str(out)], "--exclude", str(out.parent))
    assert (0, str(out)) not in posix(log)
    record(log, ["head", "-c", "1", "/etc/hostname"])
    assert (0, "/etc/hostname") not in posix(log)  # /etc is excluded by default
    record(log, ["head", "-c", "1", "/etc/hostname"], "--include", "/etc")
    assert posix(log)[(0, "/etc/hostname")]["POSIX_READS"] >= 1


def test_full_map_marks_log_partial(bins: Path, tmp_path: Path) -> None:
    files, log = tmp_path / "full", tmp_path / "full.darshan"
    files.mkdir()
    done = record(log, [str(bins / "many_files"), str(files), "50"], "--max-records", "20")
    assert "lost" in done.stderr
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.modules["POSIX"]["partial_flag"] is True
    lost = int(report.metadata["job"]["metadata"]["lost_files"])
    kept = len([n for (_, n) in posix(log) if n.startswith(str(files))])
    assert kept + lost == 50 and lost >= 30


def test_not_root(tmp_path: Path, user_python: str) -> None:
    tmp_path.chmod(0o777)
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           user_python, "-m", "ebpf_darshan", "record", "-o",
                           str(tmp_path / "x.darshan"), "--", "true"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "needs root" in done.stderr


@pytest.mark.parametrize("args, message", [
    (["frobnicate"], "invalid choice"),
    (["record", "-o", "/nonexistent-dir/x.darshan", "--", "true"], "not a directory"),
    (["record", "-o", "x.darshan"], "no command"),
    (["record", "--max-records", "0", "--", "true"], "at least 1"),
    ([], "no command given"),
])
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    done = ebpf_darshan(*args)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_unwritable_output_dir(tmp_path: Path, user_python: str) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           user_python, "-m", "ebpf_darshan", "parse", "/nonexistent"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "no such file" in done.stderr
    # root ignores modes, so make the directory really unwritable with a file in the way
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = ebpf_darshan("record", "-o", str(blocker / "x.darshan"), "--", "true")
    assert done.returncode == 1 and done.stderr.count("\n") == 1


def test_version() -> None:
    done = ebpf_darshan("--version")
    assert done.returncode == 0 and done.stdout.startswith("ebpf-darshan ")


def test_parse_rejects_corrupt_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.darshan"
    bad.write_bytes(b"this is not a darshan log at all" * 50)
    done = ebpf_darshan("parse", str(bad))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_recorded_log_reads_back_identically(bins: Path, tmp_path: Path) -> None:
    """Our reader and PyDarshan agree on every value of a log we wrote."""
    out, log = tmp_path / "rt.dat", tmp_path / "rt.darshan"
    record(log, [str(bins / "fork_inherit"), str(out)])
    ours = read_log(log)
    theirs = darshan.DarshanReport(str(log), read_all=True)
    assert ours.names == theirs.name_records
    assert ours.job.nprocs == theirs.metadata["job"]["nprocs"]
    mine = {(int(r["rank"]), int(r["id"])): r for r in ours.records["POSIX"]}
    assert len(mine) == len(theirs.records["POSIX"])
    for r in theirs.records["POSIX"]:
        m = mine[(int(r["rank"]), int(r["id"]))]
        assert list(m["counters"]) == list(r["counters"])
        assert list(m["fcounters"]) == list(r["fcounters"])


def test_summary_renders(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "sum.dat", tmp_path / "sum.darshan"
    record(log, [str(bins / "mixed_rw"), str(out)])
    done = subprocess.run([sys.executable, "-m", "darshan", "summary", str(log), "--output",
                           str(tmp_path / "sum.html")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "sum.html").read_text()
    assert "Per-Module Statistics: POSIX" in html
