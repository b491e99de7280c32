"""The H5F and H5D modules: an HDF5 C program linked with Debian's libhdf5
and an h5py script (whose bundled libhdf5 is loaded with dlopen), counted
exactly and read back through PyDarshan.  Counters the library alone could
answer are -1."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import darshan
import pytest
from darshan.backend.cffi_backend import counter_names

from conftest import assert_counters, module_records, record

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.layers.hdf5 import H5D_KNOWN

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

WORKLOADS = Path(__file__).resolve().parent / "workloads" / "hdf5"
RANK_COUNTERS = ("H5D_FASTEST_RANK", "H5D_FASTEST_RANK_BYTES", "H5D_SLOWEST_RANK",
                 "H5D_SLOWEST_RANK_BYTES")


def h5_program(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """tests/workloads/hdf5/<name>.c linked with Debian's libhdf5."""
    out = tmp_path_factory.mktemp("h5bin") / name
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hdf5"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["gcc", "-O1", "-o", str(out), str(WORKLOADS / f"{name}.c"), *flags],
                   check=True)
    return out


@pytest.fixture(scope="session")
def h5_rw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h5_program(tmp_path_factory, "h5_rw")


@pytest.fixture(scope="session")
def h5_lost_return(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h5_program(tmp_path_factory, "h5_lost_return")


def dataset(shape: tuple[int, ...] = (), chunk: tuple[int, ...] = (), **known: int
            ) -> dict[str, float]:
    """An H5D record: the counters named, the others the calls show 0; the
    dataspace dims and chunk dims (slowest first) of a created dataset, not
    known (-1) without `shape`; the rest not known."""
    out: dict[str, float] = {name: -1 for name in counter_names("H5D")}
    out.update({name: 0 for name in (*H5D_KNOWN, *RANK_COUNTERS)})
    out.update({f"H5D_{k.upper()}": v for k, v in known.items()})
    if shape:
        out["H5D_DATASPACE_NDIMS"] = len(shape)
        out["H5D_DATASPACE_NPOINTS"] = math.prod(shape)
        out.update({f"H5D_CHUNK_SIZE_D{d}": 0 for d in range(1, 6)})
        out.update({f"H5D_CHUNK_SIZE_D{d}": n for d, n in enumerate(reversed(chunk), 1)})
    return out


def file_ids(log: Path) -> dict[str, int]:
    """H5D record name -> the record id of its H5F file."""
    report = darshan.DarshanReport(str(log), read_all=True)
    return {report.name_records[r["id"]]: int(r["file_rec_id"])
            for r in report.records.get("H5D", [])}


def h5f_id(log: Path, name: str) -> int:
    report = darshan.DarshanReport(str(log), read_all=True)
    return next(int(r["id"]) for r in report.records["H5F"]
                if report.name_records[r["id"]] == name)


def test_hdf5_c_program(h5_rw: Path, tmp_path: Path) -> None:
    h5 = tmp_path / "data.h5"
    log = tmp_path / "h5.darshan"
    record(log, [str(h5_rw), str(h5)])
    files = module_records(log, "H5F")
    assert set(files) == {(0, str(h5))}  # the failed open made no record
    assert_counters(files[(0, str(h5))], {"H5F_OPENS": 2, "H5F_FLUSHES": 1, "H5F_USE_MPIIO": 0})
    assert files[(0, str(h5))]["H5F_F_CLOSE_END_TIMESTAMP"] > 0
    sets = module_records(log, "H5D")
    # Darshan's names: file, ':', the location's path, the name as given
    # (so "inner" created in group /grp is "/grpinner")
    assert set(sets) == {(0, f"{h5}:/ints"), (0, f"{h5}:/chunked"), (0, f"{h5}:/grpinner"),
                         (0, f"{h5}://grp/inner")}
    # created, written twice, flushed, read; reopened with H5Dopen1, read
    assert_counters(sets[(0, f"{h5}:/ints")], dataset(
        (64,), opens=2, reads=2, writes=2, flushes=1, rw_switches=1, use_deprecated=1))
    assert_counters(sets[(0, f"{h5}:/chunked")], dataset((10, 20), (5, 4), opens=1, writes=1))
    assert_counters(sets[(0, f"{h5}:/grpinner")], dataset((64,), opens=1, writes=1))
    # H5Oopen of a dataset is a dataset open (its shape unknown), H5Oclose
    # its close
    assert_counters(sets[(0, f"{h5}://grp/inner")], dataset(opens=1, reads=1))
    for row in sets.values():
        assert row["H5D_F_CLOSE_END_TIMESTAMP"] >= row["H5D_F_OPEN_END_TIMESTAMP"] > 0
        assert row["H5D_F_META_TIME"] > 0
    assert set(file_ids(log).values()) == {h5f_id(log, str(h5))}


def test_h5py_bundled_library(tmp_path: Path) -> None:
    h5 = tmp_path / "py.h5"
    log = tmp_path / "h5py.darshan"
    record(log, [sys.executable, str(WORKLOADS / "h5py_rw.py"), str(h5)])
    check_h5py_rw(log, h5)


def check_h5py_rw(log: Path, h5: Path) -> None:
    """The H5F and H5D records of h5py_rw.py writing h5, as rank 0."""
    files = module_records(log, "H5F")
    assert_counters(files[(0, str(h5))], {"H5F_OPENS": 2, "H5F_FLUSHES": 1, "H5F_USE_MPIIO": 0})
    sets = module_records(log, "H5D")
    assert set(sets) == {(0, f"{h5}:/x"), (0, f"{h5}:/gy"), (0, f"{h5}:/g/y")}
    # created with data; opened (H5Oopen) for a slice write; reopened and read
    assert_counters(sets[(0, f"{h5}:/x")], dataset((100,), opens=3, writes=2, reads=1,
                                                  rw_switches=1))
    assert_counters(sets[(0, f"{h5}:/gy")], dataset((8,), opens=1, writes=1))
    assert_counters(sets[(0, f"{h5}:/g/y")], dataset(opens=1, reads=1))
    # h5py closes by dropping references (H5Idec_ref): no close is seen, as
    # with Darshan
    assert files[(0, str(h5))]["H5F_F_CLOSE_END_TIMESTAMP"] == 0
    assert all(row["H5D_F_CLOSE_END_TIMESTAMP"] == 0 for row in sets.values())


def test_no_hdf5(h5_rw: Path, tmp_path: Path) -> None:
    log = tmp_path / "off.darshan"
    record(log, [str(h5_rw), str(tmp_path / "data.h5")], "--no-hdf5")
    assert module_records(log, "H5F") == module_records(log, "H5D") == {}
    assert module_records(log, "POSIX")


def test_calls_after_a_lost_return_are_counted(h5_lost_return: Path, tmp_path: Path) -> None:
    """An H5Dwrite that the error stack's handler longjmps out of never
    returns, and its return probe never fires: the later calls are still
    counted, each once."""
    h5 = tmp_path / "lost.h5"
    log = tmp_path / "lost.darshan"
    record(log, [str(h5_lost_return), str(h5)])
    sets = module_records(log, "H5D")
    assert set(sets) == {(0, f"{h5}:/ints")}
    # h5_lost_return.c: created, written 3 times, read twice, closed
    assert_counters(sets[(0, f"{h5}:/ints")], dataset((16,), opens=1, writes=3, reads=2,
                                                      rw_switches=1))
    assert sets[(0, f"{h5}:/ints")]["H5D_F_CLOSE_END_TIMESTAMP"] > 0
    files = module_records(log, "H5F")
    assert_counters(files[(0, str(h5))], {"H5F_OPENS": 1, "H5F_FLUSHES": 0, "H5F_USE_MPIIO": 0})
    assert files[(0, str(h5))]["H5F_F_CLOSE_END_TIMESTAMP"] > 0
