"""Shared fixtures: compiled workloads, a `record` runner, and PyDarshan
readers for the logs the recordings produce."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import darshan
import pytest
from darshan.backend.cffi_backend import counter_names, fcounter_names

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
MPI_WORKLOADS = WORKLOADS / "mpi"
# Flags a workload is built with, beyond the defaults.
FORTIFIED = ["-O2", "-D_FORTIFY_SOURCE=2"]
EXTRA_FLAGS = {"uring_io": ["-luring"], "fortify_pread": FORTIFIED, "fortify_printf": FORTIFIED}


@pytest.fixture(scope="session")
def bins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every tests/workloads/*.c compiled, plus a static seq_write."""
    out = tmp_path_factory.mktemp("bin")
    for src in sorted(WORKLOADS.glob("*.c")):
        subprocess.run(["gcc", "-O1", "-pthread", "-o", str(out / src.stem), str(src),
                        *EXTRA_FLAGS.get(src.stem, [])], check=True)
    subprocess.run(["gcc", "-O1", "-static", "-o", str(out / "seq_write_static"),
                    str(WORKLOADS / "seq_write.c")], check=True)
    return out


@pytest.fixture(scope="session")
def mpi_bins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every tests/workloads/mpi/*.c compiled with mpicc."""
    out = tmp_path_factory.mktemp("mpibin")
    for src in sorted(MPI_WORKLOADS.glob("*.c")):
        subprocess.run(["mpicc", "-O1", "-o", str(out / src.stem), str(src)], check=True)
    return out


def mpirun(nprocs: int, *argv: str) -> list[str]:
    """An Open MPI launch that works as root on a small machine."""
    return ["mpirun", "-np", str(nprocs), "--allow-run-as-root", "--oversubscribe", *argv]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _nobody_can_import(python: str) -> bool:
    probe = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
             "import ebpf_darshan.cli, numpy"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def user_python() -> Iterator[str]:
    """A Python that other users can run with this checkout's package.

    A checkout in a private directory (root's home is 0700) is out of their
    reach, as it would not be once installed. Then the environment and the
    sources are mirrored, by hard links where possible, into a directory
    everyone can traverse, and its .pth files are pointed at the mirror."""
    if _nobody_can_import(sys.executable) or sys.prefix == sys.base_prefix:
        yield sys.executable
        return
    import ebpf_darshan

    src = str(Path(ebpf_darshan.__file__).resolve().parent.parent)
    mirror = Path(tempfile.mkdtemp(prefix="ebpf-darshan-env-"))
    mirror.chmod(0o755)
    shutil.copytree(sys.prefix, mirror / "env", symlinks=True, copy_function=_link_or_copy)
    shutil.copytree(src, mirror / "src", symlinks=True, copy_function=_link_or_copy)
    for pth in (mirror / "env").glob("lib/python*/site-packages/*.pth"):
        text = pth.read_text()
        if src in text:
            pth.unlink()  # a hard link: write a new file, not the original
            pth.write_text(text.replace(src, str(mirror / "src")))
    python = str(mirror / "env" / "bin" / Path(sys.executable).name)
    assert _nobody_can_import(python), "the mirrored environment is not usable by others"
    yield python
    shutil.rmtree(mirror)


def ebpf_darshan(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the ebpf-darshan command line as a user would."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "ebpf_darshan", *args],
                          stderr=subprocess.PIPE, text=True, **kwargs)


def record(log: Path, argv: list[str], *options: str, status: int = 0,
           **kwargs) -> subprocess.CompletedProcess:
    """`ebpf-darshan record -o log [options] -- argv`, checking its exit status."""
    done = ebpf_darshan("record", "-o", str(log), *options, "--", *argv, **kwargs)
    assert done.returncode == status, done.stderr
    return done


def module_records(log: Path, module: str) -> dict[tuple[int, str], dict[str, float]]:
    """A module's records as PyDarshan reads them: (rank, name) -> counters."""
    report = darshan.DarshanReport(str(log), read_all=True)
    names = report.name_records
    out: dict[tuple[int, str], dict[str, float]] = {}
    for r in report.records.get(module, []):
        row = dict(zip(counter_names(module), (int(v) for v in r["counters"]), strict=True))
        row.update(zip(fcounter_names(module), (float(v) for v in r["fcounters"]), strict=True))
        out[(int(r["rank"]), names[r["id"]])] = row
    return out


def posix(log: Path) -> dict[tuple[int, str], dict[str, float]]:
    """POSIX records of a log as PyDarshan reads them: (rank, name) -> counters."""
    return module_records(log, "POSIX")


def heatmap_bytes(log: Path, api: str = "POSIX") -> dict[int, tuple[int, int]]:
    """rank -> (read, write) bytes in an API's heatmap, as PyDarshan reads it."""
    heatmap = darshan.DarshanReport(str(log), read_all=True).heatmaps[api]
    reads, writes = heatmap.to_df(ops=["read"]), heatmap.to_df(ops=["write"])
    return {int(rank): (int(reads.loc[rank].sum()), int(writes.loc[rank].sum()))
            for rank in reads.index}


def module_bytes(log: Path, module: str = "POSIX") -> dict[int, tuple[int, int]]:
    """rank -> (read, write) bytes in a module's records."""
    prefix = module.replace("-", "")
    out: dict[int, tuple[int, int]] = {}
    for (rank, _), rec in module_records(log, module).items():
        read, written = out.get(rank, (0, 0))
        out[rank] = (read + rec[f"{prefix}_BYTES_READ"], written + rec[f"{prefix}_BYTES_WRITTEN"])
    return {rank: rw for rank, rw in out.items() if rw != (0, 0)}


def file_alignment(path: Path) -> int:
    return os.statvfs(path).f_bsize


def assert_counters(record: dict[str, float], expected: dict[str, float]) -> None:
    """Exact values for the counters named; a short diff when they differ."""
    wrong = {k: (record[k], v) for k, v in expected.items() if record[k] != v}
    assert not wrong, f"(got, expected): {wrong}"


REPO = HERE.parent
TEST_BPF = HERE / "bpf"


@pytest.fixture(scope="session")
def test_objects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/bpf/*.bpf.c compiled as the project's objects are (bpf/Makefile's
    flags and headers)."""
    out = tmp_path_factory.mktemp("test-bpf")
    for src in sorted(TEST_BPF.glob("*.bpf.c")):
        subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-mcpu=v3",
                        "-D__TARGET_ARCH_x86", f"-I{REPO / 'bpf'}", "-c", str(src),
                        "-o", str(out / src.name.replace(".c", ".o"))], check=True)
    return out


def objects_with(tmp: Path, replaced: dict[str, Path]) -> dict[str, str]:
    """An environment whose recordings load the package's BPF objects, but
    these ones in place of the named ones (EBPF_DARSHAN_BPF_DIR)."""
    import shutil

    from ebpf_darshan.binding import object_path

    tmp.mkdir()
    for obj in object_path("").glob("*.bpf.o"):
        shutil.copy(replaced.get(obj.name, obj), tmp / obj.name)
    return dict(os.environ, EBPF_DARSHAN_BPF_DIR=str(tmp))


def _kernel_missing() -> str | None:
    """Why tests marked `kernel` cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (loads BPF programs)"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "needs a kernel with BTF (/sys/kernel/btf/vmlinux)"
    try:
        import ebpf_darshan._shim  # noqa: F401
    except ImportError:
        return "the BPF extension is not built (make setup)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _kernel_missing()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("kernel"):
            item.add_marker(pytest.mark.skip(reason=reason))
