"""MPI jobs: ranks from the launcher's environment, launchers left out, and
files every rank opened reduced to one rank -1 record."""

from __future__ import annotations

from pathlib import Path

import darshan
import pytest

from conftest import assert_counters, file_alignment, mpirun, posix, record

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

NPROCS = 4
BLOCK, RANK_SPAN, OWN_BLOCK = 1000, 4000, 100


def run_job(mpi_bins: Path, tmp_path: Path, *options: str) -> tuple[Path, Path]:
    data, log = tmp_path / "data", tmp_path / "job.darshan"
    data.mkdir()
    record(log, mpirun(NPROCS, str(mpi_bins / "shared_and_own"), str(data)), *options)
    return data, log


def rank_bytes(rank: int) -> int:
    """Bytes rank moves on shared.dat: rank+1 blocks written, one read."""
    return (rank + 2) * BLOCK


def unaligned(alignment: int) -> int:
    """Accesses of all ranks to shared.dat whose offset is not aligned."""
    offsets = [r * RANK_SPAN + i * BLOCK for r in range(NPROCS) for i in range(r + 1)]
    offsets += [r * RANK_SPAN for r in range(NPROCS)]
    return sum(1 for o in offsets if o % alignment)


def test_shared_file_becomes_one_reduced_record(mpi_bins: Path, tmp_path: Path) -> None:
    data, log = run_job(mpi_bins, tmp_path)
    records = posix(log)
    shared = str(data / "shared.dat")
    assert not [k for k in records if k[1] == shared and k[0] != -1]
    rec = records[(-1, shared)]
    writes = NPROCS * (NPROCS + 1) // 2
    moved = [rank_bytes(r) for r in range(NPROCS)]
    mean = sum(moved) / NPROCS
    assert_counters(rec, {
        "POSIX_OPENS": NPROCS, "POSIX_FILENOS": -1, "POSIX_READS": NPROCS,
        "POSIX_WRITES": writes, "POSIX_MODE": 0o644,
        "POSIX_BYTES_READ": NPROCS * BLOCK, "POSIX_BYTES_WRITTEN": writes * BLOCK,
        "POSIX_MAX_BYTE_READ": (NPROCS - 1) * RANK_SPAN + BLOCK - 1,
        "POSIX_MAX_BYTE_WRITTEN": (NPROCS - 1) * RANK_SPAN + NPROCS * BLOCK - 1,
        # every write after a rank's first continues the previous one
        "POSIX_CONSEC_WRITES": writes - NPROCS, "POSIX_SEQ_WRITES": writes - 1,
        "POSIX_CONSEC_READS": 0, "POSIX_SEQ_READS": NPROCS - 1,
        "POSIX_RW_SWITCHES": NPROCS, "POSIX_MEM_ALIGNMENT": 8, "POSIX_MEM_NOT_ALIGNED": 0,
        "POSIX_FILE_ALIGNMENT": file_alignment(data),
        "POSIX_FILE_NOT_ALIGNED": unaligned(file_alignment(data)),
        "POSIX_SIZE_READ_100_1K": NPROCS, "POSIX_SIZE_WRITE_100_1K": writes,
        "POSIX_MAX_READ_TIME_SIZE": BLOCK, "POSIX_MAX_WRITE_TIME_SIZE": BLOCK,
        "POSIX_ACCESS1_ACCESS": BLOCK, "POSIX_ACCESS1_COUNT": writes + NPROCS,
        "POSIX_ACCESS2_ACCESS": 0, "POSIX_STRIDE1_STRIDE": 0,
        "POSIX_F_VARIANCE_RANK_BYTES": sum((m - mean) ** 2 for m in moved) / NPROCS,
    })
    fastest, slowest = rec["POSIX_FASTEST_RANK"], rec["POSIX_SLOWEST_RANK"]
    assert rec["POSIX_FASTEST_RANK_BYTES"] == rank_bytes(fastest)
    assert rec["POSIX_SLOWEST_RANK_BYTES"] == rank_bytes(slowest)
    total = rec["POSIX_F_READ_TIME"] + rec["POSIX_F_WRITE_TIME"] + rec["POSIX_F_META_TIME"]
    assert 0 < rec["POSIX_F_FASTEST_RANK_TIME"] <= rec["POSIX_F_SLOWEST_RANK_TIME"] < total
    assert 0 < rec["POSIX_F_OPEN_START_TIMESTAMP"] <= rec["POSIX_F_WRITE_START_TIMESTAMP"]
    assert rec["POSIX_F_WRITE_START_TIMESTAMP"] < rec["POSIX_F_CLOSE_END_TIMESTAMP"]


def test_own_files_keep_their_rank_and_launcher_io_is_left_out(mpi_bins: Path,
                                                              tmp_path: Path) -> None:
    data, log = run_job(mpi_bins, tmp_path)
    records = posix(log)
    for rank in range(NPROCS):
        assert_counters(records[(rank, str(data / f"rank{rank}.dat"))], {
            "POSIX_OPENS": 1, "POSIX_WRITES": 2, "POSIX_BYTES_WRITTEN": 2 * OWN_BLOCK,
            "POSIX_MODE": 0o600, "POSIX_FASTEST_RANK": 0, "POSIX_F_VARIANCE_RANK_BYTES": 0})
    assert all(-1 <= rank < NPROCS for rank, _ in records)
    report = darshan.DarshanReport(str(log), read_all=True)
    job, meta = report.metadata["job"], report.metadata["job"]["metadata"]
    assert job["nprocs"] == NPROCS
    assert meta["ranks"] == "MPI ranks from OMPI_COMM_WORLD_RANK"
    assert meta["job"].startswith("PMIX_NAMESPACE=")
    # mpirun writes its session directory in /tmp: not any rank's I/O
    assert meta["launcher_io"].endswith("records of 1 launcher/helper processes left out")


def test_no_shared_reduction_keeps_every_ranks_record(mpi_bins: Path, tmp_path: Path) -> None:
    data, log = run_job(mpi_bins, tmp_path, "--no-shared-reduction")
    records = posix(log)
    shared = str(data / "shared.dat")
    assert (-1, shared) not in records
    for rank in range(NPROCS):
        assert_counters(records[(rank, shared)], {
            "POSIX_WRITES": rank + 1, "POSIX_READS": 1, "POSIX_BYTES_WRITTEN": (rank + 1) * BLOCK,
            "POSIX_FASTEST_RANK": 0, "POSIX_FASTEST_RANK_BYTES": 0,
            "POSIX_F_VARIANCE_RANK_BYTES": 0})
    meta = darshan.DarshanReport(str(log)).metadata["job"]["metadata"]
    assert meta["shared_reduction"] == "off"
