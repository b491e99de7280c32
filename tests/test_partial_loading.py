"""What a kernel refuses costs only that part: a refused program is named
in one line with the verifier's reason, the rest records on, and a job is
never lost to its observer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import darshan
import pytest

from conftest import objects_with, posix, record

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.binding import BpfObject, VerifierRejection

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

DD = ["dd", "if=/dev/zero", "bs=4k", "count=100", "status=none"]
REJECTED = re.compile(r"posix_uring\.bpf\.o: the kernel's verifier rejected program too_deep: "
                      r"combined stack size of 2 calls is \d+\. Too large \(full log: (\S+)\)")


def test_a_rejection_is_one_line_with_the_verifiers_reason(test_objects: Path) -> None:
    obj = BpfObject("deep_stack.bpf.o", test_objects / "deep_stack.bpf.o")
    obj.set_autoload("over_budget", False)
    try:
        with pytest.raises(VerifierRejection) as refused:
            obj.load()
    finally:
        obj.close()
    message = refused.value.describe()
    assert "\n" not in message
    found = re.fullmatch(r"deep_stack\.bpf\.o: the kernel's verifier rejected program too_deep: "
                         r"combined stack size of 2 calls is (\d+)\. Too large "
                         r"\(full log: (\S+)\)", message)
    assert found and int(found.group(1)) > 512
    log = Path(found.group(2))
    try:
        assert "combined stack size" in log.read_text()
    finally:
        log.unlink()


def test_a_refused_part_leaves_posix_recording(tmp_path: Path, test_objects: Path) -> None:
    deep = test_objects / "deep_stack.bpf.o"
    env = objects_with(tmp_path / "objects", {"posix_uring.bpf.o": deep,
                                              "posix_uring_compat.bpf.o": deep})
    out, log = tmp_path / "F", tmp_path / "part.darshan"
    done = record(log, [*DD, f"of={out}"], env=env)
    warning = [line for line in done.stderr.splitlines() if "io_uring requests" in line]
    assert len(warning) == 1 and REJECTED.search(warning[0]), done.stderr
    Path(REJECTED.search(warning[0]).group(1)).unlink()
    rec = posix(log)[(0, str(out))]
    assert (rec["POSIX_OPENS"], rec["POSIX_DUPS"], rec["POSIX_WRITES"],
            rec["POSIX_BYTES_WRITTEN"]) == (2, 1, 100, 409600)
    metadata = darshan.DarshanReport(str(log)).metadata["job"]["metadata"]
    assert metadata["off_posix_uring"].startswith("io_uring requests not recorded: "
                                                  "posix_uring.bpf.o: the kernel's verifier")


def test_a_refused_layer_leaves_posix_recording(tmp_path: Path, test_objects: Path) -> None:
    env = objects_with(tmp_path / "objects", {"stdio.bpf.o": test_objects / "deep_stack.bpf.o"})
    out, log = tmp_path / "F", tmp_path / "layer.darshan"
    done = record(log, [*DD, f"of={out}"], env=env)
    assert "STDIO" in done.stderr and "not recorded" in done.stderr
    assert posix(log)[(0, str(out))]["POSIX_WRITES"] == 100
    report = darshan.DarshanReport(str(log), read_all=True)
    assert "STDIO" not in report.records
    assert "off_stdio" in report.metadata["job"]["metadata"]


@pytest.fixture
def posix_refused(tmp_path: Path, test_objects: Path) -> dict[str, str]:
    deep = test_objects / "deep_stack.bpf.o"
    return objects_with(tmp_path / "objects", {"posix.bpf.o": deep, "posix_compat.bpf.o": deep})


def test_without_posix_the_command_still_runs(tmp_path: Path, posix_refused: dict[str, str]
                                              ) -> None:
    out, log = tmp_path / "ran", tmp_path / "none.darshan"
    done = record(log, ["sh", "-c", f"echo hi > {out}; exit 3"], status=3, env=posix_refused)
    assert out.read_text() == "hi\n"
    assert not log.exists()
    assert "no log will be written" in done.stderr
    assert "posix.bpf.o: the kernel's verifier rejected program too_deep" in done.stderr


def test_strict_fails_before_the_command_runs(tmp_path: Path, posix_refused: dict[str, str]
                                              ) -> None:
    out, log = tmp_path / "ran", tmp_path / "none.darshan"
    done = record(log, ["sh", "-c", f"touch {out}"], "--strict", status=1, env=posix_refused)
    assert not out.exists() and not log.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "verifier rejected program too_deep" in lines[0]


def test_the_report_fails_on_a_refused_or_over_budget_program(test_objects: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ebpf_darshan.verifier_report", "--objects",
                           str(test_objects)], capture_output=True, text=True)
    assert done.returncode == 1
    assert re.search(r"^deep_stack\.bpf\.o too_deep rejected: combined stack size of 2 calls",
                     done.stdout, re.M)
    over = re.search(r"^deep_stack\.bpf\.o over_budget stack=(\d+) insns=(\d+)  OVER BUDGET$",
                     done.stdout, re.M)
    assert over and 384 < int(over.group(1)) <= 512


def test_the_packaged_objects_are_within_budget() -> None:
    done = subprocess.run([sys.executable, "-m", "ebpf_darshan.verifier_report"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert any(line.startswith("posix.bpf.o sys_exit stack=") for line in lines)
