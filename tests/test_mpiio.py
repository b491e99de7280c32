"""The MPI-IO module: an Open MPI program doing every kind of read and write
under mpirun, counted exactly per rank and read back through PyDarshan,
with Open MPI's own ompio and with ROMIO (whose "ufs:" prefix Darshan
strips from names)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import darshan
import pytest
from darshan.backend.cffi_backend import counter_names

from conftest import MPI_WORKLOADS, assert_counters, module_records, record

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.layers.mpiio import OPENMPI_LAYOUT

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
OMPI_INCLUDE = Path("/usr/lib/x86_64-linux-gnu/openmpi/include")


def untouched() -> dict[str, float]:
    return {name: 0 for name in counter_names("MPI-IO")}


# mpiio_rw.c, per rank.  Writes: write_at 4096, 4096 and 3 x 32-byte
# derived type, write_shared 8 (independent); write_at_all 4096,
# write_ordered 8 (collective); write_all_begin 256 (split); iwrite_at 100.
# Then reads: read_at 4096, read_at_all 4096, iread_at 100, read_all_begin
# 40; then the two shared-pointer writes: two read/write switches.
SHARED_FILE = untouched() | {
    "MPIIO_COLL_OPENS": 1, "MPIIO_INDEP_WRITES": 4, "MPIIO_COLL_WRITES": 2,
    "MPIIO_SPLIT_WRITES": 1, "MPIIO_NB_WRITES": 1, "MPIIO_INDEP_READS": 1,
    "MPIIO_COLL_READS": 1, "MPIIO_SPLIT_READS": 1, "MPIIO_NB_READS": 1, "MPIIO_SYNCS": 1,
    "MPIIO_HINTS": 1, "MPIIO_VIEWS": 1, "MPIIO_BYTES_WRITTEN": 12756,
    "MPIIO_BYTES_READ": 8332, "MPIIO_RW_SWITCHES": 2,
    "MPIIO_SIZE_WRITE_AGG_0_100": 4, "MPIIO_SIZE_WRITE_AGG_100_1K": 1,
    "MPIIO_SIZE_WRITE_AGG_1K_10K": 3, "MPIIO_SIZE_READ_AGG_0_100": 2,
    "MPIIO_SIZE_READ_AGG_1K_10K": 2,
    "MPIIO_ACCESS1_ACCESS": 4096, "MPIIO_ACCESS1_COUNT": 5,
    "MPIIO_ACCESS2_ACCESS": 100, "MPIIO_ACCESS2_COUNT": 2,
    "MPIIO_ACCESS3_ACCESS": 8, "MPIIO_ACCESS3_COUNT": 2,
    "MPIIO_ACCESS4_ACCESS": 256, "MPIIO_ACCESS4_COUNT": 1,
}
# The per-rank file: opened on MPI_COMM_SELF with a hint, 10 bytes
# written; opened again read-only, 5 bytes read (a switch across opens).
RANK_FILE = untouched() | {
    "MPIIO_INDEP_OPENS": 2, "MPIIO_HINTS": 1, "MPIIO_INDEP_WRITES": 1, "MPIIO_INDEP_READS": 1,
    "MPIIO_BYTES_WRITTEN": 10, "MPIIO_BYTES_READ": 5, "MPIIO_RW_SWITCHES": 1,
    "MPIIO_MAX_WRITE_TIME_SIZE": 10, "MPIIO_MAX_READ_TIME_SIZE": 5,
    "MPIIO_SIZE_WRITE_AGG_0_100": 1, "MPIIO_SIZE_READ_AGG_0_100": 1,
    "MPIIO_ACCESS1_ACCESS": 10, "MPIIO_ACCESS1_COUNT": 1,
    "MPIIO_ACCESS2_ACCESS": 5, "MPIIO_ACCESS2_COUNT": 1,
}
TIMING_DEPENDENT = ("MPIIO_MAX_READ_TIME_SIZE", "MPIIO_MAX_WRITE_TIME_SIZE")


def run_mpiio_rw(mpi_bins: Path, tmp_path: Path, ranks: int, *extra: str,
                 options: tuple[str, ...] = ("--no-shared-reduction",)
                 ) -> tuple[dict[tuple[int, str], dict[str, float]], list[int]]:
    """MPI-IO records of one run; every rank's own unless options say otherwise."""
    log = tmp_path / "mpiio.darshan"
    done = record(log, [*MPIRUN, "-np", str(ranks), *extra, str(mpi_bins / "mpiio_rw"),
                        str(tmp_path)], *options, stdout=subprocess.PIPE)
    # mpirun is never held: it would forward the SIGCONT that ends a hold to
    # its ranks, and say so on the terminal
    assert "Forwarding signal" not in done.stderr, done.stderr
    modes = [int(x) for x in done.stdout.split()]
    return module_records(log, "MPI-IO"), modes


def check_ranks(records: dict[tuple[int, str], dict[str, float]], tmp_path: Path,
                ranks: int, modes: list[int]) -> None:
    shared = [row for (_, name), row in records.items() if name == str(tmp_path / "shared.dat")]
    assert len(shared) == ranks
    for row in shared:
        # the slowest read and write are 4096 bytes unless the machine stalls
        # on a smaller one: only that pair of counters depends on timing
        assert_counters(row, {k: v for k, v in SHARED_FILE.items() if k not in TIMING_DEPENDENT}
                        | {"MPIIO_MODE": modes[0]})
    for rank in range(ranks):
        row = [r for (_, name), r in records.items()
               if name == str(tmp_path / f"rank{rank}.dat")]
        assert len(row) == 1
        assert_counters(row[0], RANK_FILE | {"MPIIO_MODE": modes[1]})
    assert len(records) == 2 * ranks  # the failed opens made no record


def test_mpiio_ompio_exact(mpi_bins: Path, tmp_path: Path) -> None:
    records, modes = run_mpiio_rw(mpi_bins, tmp_path, 4)
    check_ranks(records, tmp_path, 4, modes)
    for row in records.values():
        assert row["MPIIO_F_OPEN_START_TIMESTAMP"] > 0
        assert row["MPIIO_F_CLOSE_END_TIMESTAMP"] >= row["MPIIO_F_OPEN_END_TIMESTAMP"]
        assert row["MPIIO_F_META_TIME"] > 0


def test_mpiio_shared_file_reduced(mpi_bins: Path, tmp_path: Path) -> None:
    """The file all ranks open becomes one rank -1 MPI-IO record (format
    spec 3.1): sums of the per-rank counts, merged access table."""
    ranks = 2
    records, modes = run_mpiio_rw(mpi_bins, tmp_path, ranks, options=())
    row = records[(-1, str(tmp_path / "shared.dat"))]
    summed = {k: v * ranks for k, v in SHARED_FILE.items() if k not in TIMING_DEPENDENT
              and "_RANK" not in k and ("_ACCESS" not in k or k.endswith("_COUNT"))}
    assert_counters(row, summed | {"MPIIO_MODE": modes[0]} | {
        k: v for k, v in SHARED_FILE.items() if k.endswith("_ACCESS")})
    assert row["MPIIO_FASTEST_RANK"] in range(ranks)
    assert row["MPIIO_FASTEST_RANK_BYTES"] == 12756 + 8332
    assert row["MPIIO_F_VARIANCE_RANK_BYTES"] == 0
    assert sorted(rank for rank, _ in records) == [-1, 0, 1]


def test_mpiio_romio_prefix_stripped(mpi_bins: Path, tmp_path: Path) -> None:
    """ROMIO takes "ufs:" names; the records are named without it, like
    Darshan's; the probes are on libmpi whichever io component runs."""
    log = tmp_path / "romio.darshan"
    done = record(log, [*MPIRUN, "-np", "2", "--mca", "io", "romio321",
                        str(mpi_bins / "mpiio_rw"), str(tmp_path), "ufs:"],
                  "--no-shared-reduction", stdout=subprocess.PIPE)
    check_ranks(module_records(log, "MPI-IO"), tmp_path, 2,
                [int(x) for x in done.stdout.split()])


def test_mpich_predefined_sizes(tmp_path: Path) -> None:
    """MPICH's handles are ints that encode a predefined type's size; its
    derived types are not readable from outside and are counted as 0 bytes,
    said in the metadata and by the partial flag."""
    binary = tmp_path / "mpiio_rw_mpich"
    subprocess.run(["mpicc.mpich", "-O1", "-o", str(binary), str(MPI_WORKLOADS / "mpiio_rw.c")],
                   check=True)
    log = tmp_path / "mpich.darshan"
    done = record(log, ["mpirun.mpich", "-np", "2", str(binary), str(tmp_path)],
                  "--no-shared-reduction", stdout=subprocess.PIPE)
    modes = [int(x) for x in done.stdout.split()]
    records = module_records(log, "MPI-IO")
    shared = [row for (_, name), row in records.items() if name == str(tmp_path / "shared.dat")]
    assert len(shared) == 2
    for row in shared:
        assert_counters(row, {"MPIIO_COLL_OPENS": 1, "MPIIO_INDEP_WRITES": 4,
                              "MPIIO_BYTES_WRITTEN": 12756 - 3 * 32,  # the derived-type write
                              "MPIIO_BYTES_READ": 8332, "MPIIO_MODE": modes[0]})
    for rank in range(2):
        (row,) = [r for (_, name), r in records.items()
                  if name == str(tmp_path / f"rank{rank}.dat")]
        assert_counters(row, RANK_FILE | {"MPIIO_MODE": modes[1]})
    report = darshan.DarshanReport(str(log))
    assert report.metadata["job"]["metadata"]["mpiio_unknown_datatype_sizes"] == "2"
    assert report.modules["MPI-IO"]["partial_flag"] is True


def test_no_mpiio(mpi_bins: Path, tmp_path: Path) -> None:
    log = tmp_path / "off.darshan"
    record(log, [*MPIRUN, "-np", "2", str(mpi_bins / "mpiio_rw"), str(tmp_path)], "--no-mpiio",
           stdout=subprocess.PIPE)
    assert module_records(log, "MPI-IO") == {}
    assert module_records(log, "POSIX")  # the same run is still recorded


def test_openmpi_layout_matches_headers(tmp_path: Path) -> None:
    """The offsets the kernel reads Open MPI's objects at are those of the
    installed Open MPI's structs."""
    fields = {"ompi_datatype_size_offset": "struct opal_datatype_t, size",
              "ompi_comm_local_group_offset": "struct ompi_communicator_t, c_local_group",
              "ompi_group_size_offset": "struct ompi_group_t, grp_proc_count",
              "ompi_info_f2c_offset": "struct ompi_info_t, i_f_to_c_index"}
    prints = "".join(f'printf("{k} %zu\\n", offsetof({v}));' for k, v in fields.items())
    src = tmp_path / "layout.c"
    src.write_text('#include <stdio.h>\n#include <stddef.h>\n#include "ompi_config.h"\n'
                   '#include "ompi/communicator/communicator.h"\n#include "ompi/info/info.h"\n'
                   '#include "opal/datatype/opal_datatype.h"\n'
                   f"int main(void) {{ {prints} return 0; }}\n")
    subprocess.run(["gcc", f"-I{OMPI_INCLUDE}", f"-I{OMPI_INCLUDE / 'openmpi'}", "-o",
                    str(tmp_path / "layout"), str(src)], check=True)
    out = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True,
                         text=True).stdout
    assert {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", out)} == OPENMPI_LAYOUT


def test_calls_after_a_lost_return_are_counted(mpi_bins: Path, tmp_path: Path) -> None:
    """An MPI_File_write_at that the file's error handler longjmps out of
    never returns, and its return probe never fires: the rank's later calls
    are still counted, each once (the lost call is not counted: it failed)."""
    log = tmp_path / "lost.darshan"
    record(log, [*MPIRUN, "-np", "2", str(mpi_bins / "mpiio_lost_return"), str(tmp_path)],
           "--no-shared-reduction")
    records = module_records(log, "MPI-IO")
    assert sorted(name for _, name in records) == [str(tmp_path / f"rank{rank}.dat")
                                                   for rank in range(2)]
    # mpiio_lost_return.c: 3 writes then 2 reads of 100 bytes
    expected = untouched() | {
        "MPIIO_INDEP_OPENS": 1, "MPIIO_INDEP_WRITES": 3, "MPIIO_INDEP_READS": 2,
        "MPIIO_BYTES_WRITTEN": 300, "MPIIO_BYTES_READ": 200, "MPIIO_RW_SWITCHES": 1,
        "MPIIO_MAX_WRITE_TIME_SIZE": 100, "MPIIO_MAX_READ_TIME_SIZE": 100,
        "MPIIO_SIZE_WRITE_AGG_0_100": 3, "MPIIO_SIZE_READ_AGG_0_100": 2,
        "MPIIO_ACCESS1_ACCESS": 100, "MPIIO_ACCESS1_COUNT": 5}
    for row in records.values():
        assert_counters(row, {k: v for k, v in expected.items() if k != "MPIIO_MODE"})
        assert row["MPIIO_F_CLOSE_END_TIMESTAMP"] >= row["MPIIO_F_WRITE_END_TIMESTAMP"] > 0
