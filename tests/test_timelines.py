"""DXT traces and heatmaps: recorded by the real BPF programs, read back
with PyDarshan, checked against workloads whose I/O is known."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import darshan
import numpy as np
import pytest

from conftest import (
    assert_counters,
    ebpf_darshan,
    heatmap_bytes,
    module_bytes,
    mpirun,
    posix,
    record,
)
from ebpf_darshan import bpf_layout as L
from ebpf_darshan.heatmap import row_bin, spread
from ebpf_darshan.launch import HeldCommand
from ebpf_darshan.names import PathFilter
from ebpf_darshan.recorder import Recording

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.tracer import Tracer, TracerOptions

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects


def dxt(log: Path, module: str = "DXT_POSIX") -> dict[tuple[int, str], dict]:
    """A DXT module's records as PyDarshan reads them: (rank, name) -> record."""
    report = darshan.DarshanReport(str(log), read_all=True)
    report.read_all_dxt_records()
    names = report.name_records
    return {(int(r["rank"]), names[r["id"]]): r for r in report.records[module]}


def segments(segs: list[dict]) -> list[tuple[int, int]]:
    return [(int(s["offset"]), int(s["length"])) for s in segs]


def times(segs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([s["start_time"] for s in segs]), np.array([s["end_time"] for s in segs]))


def test_dxt_segments_are_exact(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "pattern.dat", tmp_path / "pattern.darshan"
    record(log, [str(bins / "dxt_pattern"), str(out)], "--dxt")
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.modules["DXT_POSIX"]["ver"] == 1
    assert not report.modules["DXT_POSIX"]["partial_flag"]
    traces = dxt(log)
    assert list(traces) == [(0, str(out))]  # the loader's reads of libc are excluded
    trace = traces[(0, str(out))]
    assert trace["hostname"] == socket.gethostname()
    assert segments(trace["write_segments"]) == [(8192, 100), (0, 200), (0, 300), (300, 50)]
    assert segments(trace["read_segments"]) == [(0, 250), (250, 250), (8000, 292), (9000, 0)]
    run_time = report.metadata["job"]["run_time"]
    (write_starts, write_ends), (read_starts, read_ends) = (
        times(trace["write_segments"]), times(trace["read_segments"]))
    for starts, ends in ((write_starts, write_ends), (read_starts, read_ends)):
        assert (starts > 0).all() and (starts <= ends).all() and (ends < run_time).all()
        assert (np.diff(starts) > 0).all()
    assert write_ends.max() < read_starts.min()


def test_dxt_records_follow_ranks(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "fork.dat", tmp_path / "fork.darshan"
    record(log, [str(bins / "fork_inherit"), str(out)], "--dxt")
    traces = dxt(log)
    assert segments(traces[(0, str(out))]["write_segments"]) == [(0, 10), (50, 10)]
    assert segments(traces[(1, str(out))]["write_segments"]) == [(10, 20), (30, 20)]


def test_a_reused_inode_number_is_a_new_record(bins: Path, tmp_path: Path) -> None:
    """file1 and file2 are deleted and the next file gets their inode
    number (ext4 gives it at once): three records, each with its own
    counters, name and trace segments, and the heatmap has all 140 bytes."""
    log = tmp_path / "reuse.darshan"
    done = record(log, [str(bins / "inode_reuse"), str(tmp_path)], "--dxt",
                  stdout=subprocess.PIPE)
    assert len(set(done.stdout.split())) == 1  # one inode number for all three
    records = posix(log)
    traces = dxt(log)
    for i in (1, 2, 3):
        name = str(tmp_path / f"file{i}")
        assert_counters(records[(0, name)], {"POSIX_OPENS": 1, "POSIX_WRITES": i,
                                             "POSIX_BYTES_WRITTEN": 10 * i * i})
        assert segments(traces[(0, name)]["write_segments"]) == [
            (10 * i * w, 10 * i) for w in range(i)]
    assert len(records) == len(traces) == 3
    assert heatmap_bytes(log) == {0: (0, 140)}


def test_without_dxt_there_is_no_trace(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "plain.dat", tmp_path / "plain.darshan"
    record(log, [str(bins / "dxt_pattern"), str(out)])
    modules = darshan.DarshanReport(str(log), read_all=True).modules
    assert "DXT_POSIX" not in modules and "HEATMAP" in modules


def test_segments_over_the_bound_are_counted(bins: Path, tmp_path: Path) -> None:
    """A static binary: its 16 writes are the only segments there are."""
    out, log = tmp_path / "bound.dat", tmp_path / "bound.darshan"
    done = record(log, [str(bins / "seq_write_static"), str(out)], "--dxt",
                  "--dxt-max-segments", "5")
    assert "lost" in done.stderr
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.modules["DXT_POSIX"]["partial_flag"] is True
    assert report.metadata["job"]["metadata"]["dxt_segments_over_limit"] == "11"
    assert segments(dxt(log)[(0, str(out))]["write_segments"]) == [
        (i * 4096, 4096) for i in range(5)]
    assert posix(log)[(0, str(out))]["POSIX_WRITES"] == 16


@pytest.mark.parametrize("workload, dxt_option", [
    ("mixed_rw", []), ("fork_inherit", []), ("dxt_pattern", ["--dxt"])])
def test_heatmap_adds_up_to_posix_bytes(bins: Path, tmp_path: Path, workload: str,
                                        dxt_option: list[str]) -> None:
    """Dynamically linked: the loader reads libc before user space can see
    that the file is excluded, and those bytes must not reach the heatmap."""
    out, log = tmp_path / f"{workload}.dat", tmp_path / f"{workload}.darshan"
    record(log, [str(bins / workload), str(out)], *dxt_option)
    expected = module_bytes(log)
    assert expected and heatmap_bytes(log) == expected


def test_stdio_heatmap_adds_up_to_stdio_bytes(bins: Path, tmp_path: Path) -> None:
    """The STDIO heatmap has the bytes of the STDIO records: those written
    before and after user space accepted the file's name, stdout's, and
    none of the excluded file's."""
    out, log = tmp_path / "stdio.dat", tmp_path / "stdio.darshan"
    done = record(log, [str(bins / "stdio_heatmap"), str(out)], stdout=subprocess.PIPE)
    excluded_bytes = int(done.stdout)
    assert excluded_bytes > 0
    assert module_bytes(log, "STDIO") == {0: (0, 3000 + len(done.stdout))}
    assert heatmap_bytes(log, "STDIO") == {0: (0, 3000 + len(done.stdout))}
    # the stdio calls' own system calls are not POSIX's
    assert "POSIX" not in darshan.DarshanReport(str(log), read_all=True).heatmaps


def test_mpiio_trace_and_heatmap(mpi_bins: Path, tmp_path: Path) -> None:
    """DXT_MPIIO (version 2) has each rank's MPI-IO reads and writes in call
    order, sized as the counters are, at their byte offset where the
    default view makes an explicit offset one (-1 elsewhere, as Darshan
    writes them under Open MPI); the MPIIO heatmap has their bytes."""
    log = tmp_path / "mpiio.darshan"
    record(log, mpirun(2, str(mpi_bins / "mpiio_rw"), str(tmp_path)), "--dxt",
           "--no-shared-reduction", stdout=subprocess.PIPE)
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.modules["DXT_MPIIO"]["ver"] == 2
    assert not report.modules["DXT_MPIIO"]["partial_flag"]
    traces = dxt(log, "DXT_MPIIO")
    assert len(traces) == 4
    for rank in range(2):
        base = rank * 65536  # mpiio_rw.c's RANK_STRIDE
        shared = traces[(rank, str(tmp_path / "shared.dat"))]
        assert segments(shared["write_segments"]) == [
            (base, 4096), (base + 4096, 4096), (base + 8192, 96), (base + 16384, 4096),
            (base + 20480, 100), (-1, 256), (-1, 8), (-1, 8)]
        assert segments(shared["read_segments"]) == [
            (base, 4096), (base + 16384, 4096), (base + 20480, 100), (-1, 40)]
        # one trace for the file's two opens
        own = traces[(rank, str(tmp_path / f"rank{rank}.dat"))]
        assert segments(own["write_segments"]) == [(-1, 10)]
        assert segments(own["read_segments"]) == [(-1, 5)]
    expected = {rank: (8332 + 5, 12756 + 10) for rank in range(2)}
    assert module_bytes(log, "MPI-IO") == expected
    assert heatmap_bytes(log, "MPIIO") == expected


def test_heatmap_bins_in_time(bins: Path, tmp_path: Path) -> None:
    """Each write lands in the 0.1 s bin its DXT segment says it ran in."""
    out, log = tmp_path / "timed.dat", tmp_path / "timed.darshan"
    record(log, [str(bins / "timed_writes"), str(out)], "--dxt")
    report = darshan.DarshanReport(str(log), read_all=True)
    heatmap = report.heatmaps["POSIX"]
    assert heatmap._bin_width_seconds == 0.1
    writes = heatmap.to_df(ops=["write"], interval_index=False).loc[0]
    assert len(writes) == np.ceil(report.metadata["job"]["run_time"] / 0.1)
    expected = np.zeros(len(writes), dtype=np.int64)
    starts, ends = times(dxt(log)[(0, str(out))]["write_segments"])
    assert list(ends - starts < 0.001) == [True, True]  # too short to straddle two bins
    for start, nbytes in zip(starts, (1000, 2000), strict=True):
        expected[int(start / 0.1)] += nbytes
    assert list(writes) == list(expected) and int(starts[1] / 0.1) >= int(starts[0] / 0.1) + 2
    assert heatmap.to_df(ops=["read"]).to_numpy().sum() == 0


def test_heatmap_rows_beyond_the_bound_are_counted(bins: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "rows.dat", tmp_path / "rows.darshan"
    record(log, [str(bins / "fork_inherit"), str(out)], "--heatmap-procs", "1")
    report = darshan.DarshanReport(str(log), read_all=True)
    assert report.modules["HEATMAP"]["partial_flag"] is True
    assert report.metadata["job"]["metadata"]["heatmap_lost_ops"] == "2"  # the child's writes
    assert heatmap_bytes(log) == {0: (0, 20)}


def test_kernel_bins_late_in_a_job_like_user_space(bins: Path, tmp_path: Path) -> None:
    """With the job clock set 100 s back, the kernel bins at the 0.8 s level;
    the DXT times of the same operations, binned by heatmap.py, must give
    the very same row.  (The first write comes before user space has seen
    the file's name, so it is left to user space: only the second is the
    kernel's.)"""
    tracer = Tracer(TracerOptions(dxt=True))
    try:
        recording = Recording(PathFilter())
        command = HeldCommand.start([str(bins / "timed_writes"), str(tmp_path / "late.dat")])
        tracer.trace_process(command.pid, 0)
        origin = time.monotonic_ns() - 100 * 10**9
        tracer.start_clock(origin)
        command.release()
        while not command.poll():
            recording.drain(tracer, 100)
        recording.drain(tracer, 0)
        assert command.exit_code == 0
        timelines = tracer.timelines([0])
    finally:
        tracer.close()
    traced = timelines.segments[(timelines.segments["flags"] & L.SEG_HEATMAP_PENDING) == 0]
    expected = np.zeros(L.HEATMAP_ROW_BINS, dtype=L.heatmap_bin)
    for seg in traced:
        assert spread(expected, True, int(seg["length"]), int(seg["start_ns"]) - origin,
                      int(seg["end_ns"]) - origin)
    kernel = timelines.heatmap_rows[0]["bins"][L.HEATMAP_POSIX]
    assert kernel["write"].sum() == traced["length"].sum() and 2000 in traced["length"]
    assert (kernel == expected).all()
    assert row_bin(100 * 10**9) == L.HEATMAP_BINS + 2 * 100 + 25  # level 3, 0.8 s bins


def test_summary_renders_every_section(mpi_bins: Path, tmp_path: Path) -> None:
    """An MPI job with every timeline: POSIX, MPI-IO and STDIO (rank 0
    prints) heatmaps, DXT_POSIX and DXT_MPIIO."""
    log = tmp_path / "sum.darshan"
    record(log, mpirun(2, str(mpi_bins / "mpiio_rw"), str(tmp_path)), "--dxt",
           stdout=subprocess.PIPE)
    sections = ["Job Summary", "Darshan Log Information", "I/O Summary",
                "Heat Map: HEATMAP POSIX", "Heat Map: HEATMAP MPIIO", "Heat Map: HEATMAP STDIO",
                "Cross-Module Comparisons", "I/O Cost", "Per-Module Statistics: POSIX",
                "Per-Module Statistics: MPI-IO", "Per-Module Statistics: STDIO",
                "Access Pattern", "Access Sizes", "Common Access Sizes", "Operation Counts",
                "Data Access by Category", "DXT_POSIX (ver=1) Module Data",
                "DXT_MPIIO (ver=2) Module Data", "HEATMAP (ver=1) Module Data"]
    for extra, more in (([], []), (["--enable_dxt_heatmap"], ["Heat Map: DXT_POSIX",
                                                             "Heat Map: DXT_MPIIO"])):
        html = tmp_path / "summary.html"
        done = subprocess.run([sys.executable, "-m", "darshan", "summary", str(log), "--output",
                               str(html), *extra], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        page = html.read_text()
        assert [s for s in sections + more if s not in page] == []


@pytest.mark.parametrize("args, message", [
    (["--dxt-max-segments", "0"], "--dxt-max-segments must be at least 1"),
    (["--dxt-buffer-mb", "3"], "--dxt-buffer-mb must be a power of two"),
    (["--heatmap-procs", "0"], "--heatmap-procs must be at least 1"),
])
def test_bad_timeline_options(args: list[str], message: str) -> None:
    done = ebpf_darshan("record", *args, "--", "true")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
