"""The Darshan log format package: hash, counter names, writer, reader, text.
No BPF and no root needed."""

from __future__ import annotations

import bz2
import os
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from ebpf_darshan import darshan as D

M = D.modules

# --- record ids ---

HASH_VECTORS = [
    ("heatmap:POSIX", 16592106915301738621),
    ("heatmap:STDIO", 3989511027826779520),
    ("heatmap:MPIIO", 3668870418325792824),
    ("heatmap:DFS", 1597927878319380788),
    ("heatmap:DAOS", 4131494093108637317),
    ("<STDIN>", 14734109647742566553),
    ("<STDOUT>", 15920181672442173319),
    ("<STDERR>", 7238257241479193519),
    ("/tmp/test.dat", 6177579218230713141),
    ("/home/user/data/output.h5", 14564452368938915660),
    ("", 10211412111675192767),
    ("a", 2110215103713784748),
    ("/lus/grand/projects/abc/very/long/path/name/exceeding/24/bytes.bin",
     18079998346305608380),
]


@pytest.mark.parametrize("name,expected", HASH_VECTORS)
def test_record_id_vectors(name, expected):
    assert D.record_id(name) == expected
    assert D.record_id(name.encode()) == expected


# --- counter names ---

def test_counter_names_equal_pydarshan():
    backend = pytest.importorskip("darshan.backend.cffi_backend")
    for module in M.FIXED_MODULES:
        assert M.counter_names(module) == backend.counter_names(module), module
        assert M.fcounter_names(module) == backend.fcounter_names(module), module
    assert backend.counter_names("LUSTRE_COMP") == M.LUSTRE_COMP_COUNTERS
    assert set(M.FIXED_MODULES) == {"POSIX", "MPI-IO", "STDIO", "H5F", "H5D",
                                    "PNETCDF_FILE", "PNETCDF_VAR"}


@pytest.mark.parametrize("module,size", [("POSIX", 704), ("MPI-IO", 560), ("H5F", 80),
                                         ("H5D", 912), ("PNETCDF_FILE", 152),
                                         ("PNETCDF_VAR", 1120), ("STDIO", 248)])
def test_record_sizes(module, size):
    dtype = M.record_dtype(module)
    assert dtype.itemsize == size
    assert dtype.names[:3] == (("id", "rank", "file_rec_id") if module in ("H5D", "PNETCDF_VAR")
                               else ("id", "rank", "counters"))


def test_counter_index():
    assert M.counter_index("POSIX", "POSIX_BYTES_WRITTEN") == 15
    assert M.counter_index("POSIX", "POSIX_F_WRITE_TIME") == 9
    assert M.counter_index("STDIO", "STDIO_F_META_TIME") == 0
    with pytest.raises(KeyError):
        M.counter_index("POSIX", "STDIO_OPENS")


# --- a log with known values ---

START_NS = 1_700_000_000_250_000_000
FILE1, FILE2, ODD = "/data/file1", "/database/x", "/home/u/odd"
HM_POSIX, HM_STDIO = "heatmap:POSIX", "heatmap:STDIO"


def _set(record: np.void, module: str, values: dict[str, float]) -> None:
    for counter, value in values.items():
        field = "fcounters" if "_F_" in counter else "counters"
        record[field][M.counter_index(module, counter)] = value


def _posix(name: str, rank: int, written: int) -> np.void:
    rec = np.zeros((), dtype=M.record_dtype("POSIX"))
    rec["id"], rec["rank"] = D.record_id(name), rank
    _set(rec, "POSIX", {"POSIX_OPENS": 2, "POSIX_WRITES": 4, "POSIX_BYTES_WRITTEN": written,
                        "POSIX_MAX_BYTE_WRITTEN": written - 1, "POSIX_MMAPS": -1,
                        "POSIX_SIZE_WRITE_1K_10K": 4, "POSIX_ACCESS1_ACCESS": written // 4,
                        "POSIX_ACCESS1_COUNT": 4, "POSIX_FILE_ALIGNMENT": 4096,
                        "POSIX_MEM_ALIGNMENT": 8, "POSIX_F_OPEN_START_TIMESTAMP": 0.01,
                        "POSIX_F_WRITE_START_TIMESTAMP": 0.1,
                        "POSIX_F_WRITE_END_TIMESTAMP": 0.4, "POSIX_F_WRITE_TIME": 0.3,
                        "POSIX_F_META_TIME": 0.002})
    return rec


def _heatmap(name: str, rank: int, scale: int) -> D.HeatmapRecord:
    return D.HeatmapRecord(D.record_id(name), rank, 0.25,
                           write_bins=np.arange(10, dtype=np.int64) * scale,
                           read_bins=np.arange(10, dtype=np.int64)[::-1] * scale)


def _segments(rows: list[tuple[int, int, float, float]]) -> np.ndarray:
    segs = np.zeros(len(rows), dtype=M.DXT_SEGMENT)
    columns = zip(*rows, strict=True)
    for field, values in zip(("offset", "length", "start_time", "end_time"), columns, strict=True):
        segs[field] = values
    return segs


def sample_log() -> D.Log:
    posix = np.array([_posix(FILE1, 0, 16384), _posix(FILE2, 1, 4096),
                      _posix(ODD, -1, 8192)])
    _set(posix[2], "POSIX", {"POSIX_RENAMED_FROM": np.int64(-2), "POSIX_RENAME_TARGETS": 1})
    stdio = np.zeros(1, dtype=M.record_dtype("STDIO"))
    stdio["id"], stdio["rank"] = D.record_id("<STDOUT>"), 0
    _set(stdio[0], "STDIO", {"STDIO_OPENS": 1, "STDIO_WRITES": 3, "STDIO_BYTES_WRITTEN": 42,
                             "STDIO_F_WRITE_TIME": 0.0005})
    comp = D.LustreComponent(np.array([1 << 20, 2, 0, 16, 0, -1, 0], dtype=np.int64),
                             "pool1", np.array([7, 3], dtype=np.int64))
    names = [FILE1, FILE2, ODD, "<STDOUT>", HM_POSIX, HM_STDIO]
    job = D.Job(uid=1000, start_ns=START_NS, end_ns=START_NS + 2_500_000_000, nprocs=2,
                jobid=4242, metadata={"lib_ver": "3.5.0", "h": "romio_cb_write=enable;x=y"},
                exe="/usr/bin/myapp -x 1", mounts=[("/", "ext4"), ("/data", "xfs")])
    return D.Log(
        job=job, names={D.record_id(n): n for n in names},
        records={"POSIX": posix, "STDIO": stdio},
        heatmaps=[_heatmap(HM_POSIX, 0, 100), _heatmap(HM_POSIX, 1, 10),
                  _heatmap(HM_STDIO, 0, 1)],
        dxt={"DXT_POSIX": [D.DxtRecord(D.record_id(FILE1), 0, "node01",
                                       write_segments=_segments([(0, 4096, 0.1, 0.2),
                                                                 (4096, 4096, 0.2, 0.3)]),
                                       read_segments=_segments([(0, 100, 0.5, 0.55)]))]},
        lustre=[D.LustreRecord(D.record_id(FILE1), -1, [comp])])


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[D.Log, Path]:
    path = tmp_path_factory.mktemp("log") / "sample.darshan"
    log = sample_log()
    D.write_log(path, log)
    return log, path


# --- round trip through our reader ---

def test_round_trip_job(written):
    log, path = written
    back = D.read_log(path)
    assert back.version == "3.41" and back.compression == "ZLIB"
    assert back.job == D.Job(**{**log.job.__dict__, "mounts": [("/data", "xfs"), ("/", "ext4")]})
    assert back.run_time == 2.5
    assert back.names == log.names
    assert back.partial_flag == 0


def test_round_trip_records(written):
    log, path = written
    back = D.read_log(path)
    assert set(back.records) == {"POSIX", "STDIO"}
    for module, records in log.records.items():
        np.testing.assert_array_equal(back.records[module], records)
    assert [(h.id, h.rank, h.bin_width) for h in back.heatmaps] == \
        [(h.id, h.rank, h.bin_width) for h in log.heatmaps]
    for a, b in zip(back.heatmaps, log.heatmaps, strict=True):
        np.testing.assert_array_equal(a.write_bins, b.write_bins)
        np.testing.assert_array_equal(a.read_bins, b.read_bins)
    (dxt,), (ref,) = back.dxt["DXT_POSIX"], log.dxt["DXT_POSIX"]
    assert (dxt.id, dxt.rank, dxt.hostname) == (ref.id, ref.rank, ref.hostname)
    np.testing.assert_array_equal(dxt.write_segments, ref.write_segments)
    np.testing.assert_array_equal(dxt.read_segments, ref.read_segments)
    (lustre,) = back.lustre
    assert lustre.num_stripes == 2 and lustre.components[0].pool_name == "pool1"
    np.testing.assert_array_equal(lustre.components[0].counters,
                                  log.lustre[0].components[0].counters)


def test_regions_are_back_to_back(written):
    _, path = written
    data = path.read_bytes()
    header = np.frombuffer(data, dtype=M.HEADER, count=1)[0]
    assert data[:8] == b"3.41\0\0\0\0" and header["magic"] == 6567223
    assert bytes(data[17:24]) == b"\0" * 7
    offset = int(header["name_map"][0])
    assert zlib.decompress(data[M.HEADER.itemsize:offset])[:8] == np.int64(1000).tobytes()
    offset += int(header["name_map"][1])
    for module in ("POSIX", "LUSTRE", "STDIO", "DXT_POSIX", "HEATMAP"):
        mod_id = M.MODULE_IDS[module]
        off, length = (int(x) for x in header["mod_map"][mod_id])
        assert off == offset, module
        assert header["mod_ver"][mod_id] == M.WRITE_VERSIONS[module]
        offset += length
    assert offset == len(data)
    assert (header["mod_map"][:, 1] > 0).sum() == 5


# --- round trip through PyDarshan ---

def test_pydarshan_reads_written_log(written):
    darshan = pytest.importorskip("darshan")
    log, path = written
    report = darshan.DarshanReport(str(path), read_all=True)
    job = report.metadata["job"]
    assert (job["uid"], job["nprocs"], job["jobid"]) == (1000, 2, 4242)
    assert (job["start_time_sec"], job["start_time_nsec"]) == divmod(START_NS, 10**9)
    assert job["run_time"] == pytest.approx(2.5)
    assert job["metadata"] == log.job.metadata
    assert report.metadata["exe"] == log.job.exe
    assert report.mounts == [("/data", "xfs"), ("/", "ext4")]
    assert report.name_records == log.names
    assert {m: v["ver"] for m, v in report.modules.items()} == {
        "POSIX": 4, "LUSTRE": 2, "STDIO": 2, "DXT_POSIX": 1, "HEATMAP": 1}
    for module in ("POSIX", "STDIO"):
        theirs = report.records[module].to_numpy()
        assert len(theirs) == len(log.records[module])
        for a, b in zip(log.records[module], theirs, strict=True):
            assert (int(a["id"]), int(a["rank"])) == (b["id"], b["rank"])
            np.testing.assert_array_equal(a["counters"], b["counters"])
            np.testing.assert_array_equal(a["fcounters"], b["fcounters"])


def test_pydarshan_reads_heatmaps_dxt_lustre(written):
    darshan = pytest.importorskip("darshan")
    log, path = written
    report = darshan.DarshanReport(str(path), read_all=True)
    assert sorted(report.heatmaps) == ["POSIX", "STDIO"]
    posix = report.heatmaps["POSIX"]
    assert (posix._nbins, posix._bin_width_seconds) == (10, 0.25)
    for rec in log.heatmaps[:2]:
        np.testing.assert_array_equal(posix._data["read"][rec.rank], rec.read_bins)
        np.testing.assert_array_equal(posix._data["write"][rec.rank], rec.write_bins)
    (dxt,) = report.records["DXT_POSIX"].to_numpy()
    assert (dxt["hostname"], dxt["write_count"], dxt["read_count"]) == ("node01", 2, 1)
    assert [s["offset"] for s in dxt["write_segments"]] == [0, 4096]
    assert dxt["read_segments"][0] == {"offset": 0, "length": 100, "start_time": 0.5,
                                       "end_time": 0.55}
    (lustre,) = report.records["LUSTRE"].to_numpy()
    assert lustre["components"][0]["pool_name"] == "pool1"
    assert lustre["components"][0]["ost_ids"].tolist() == [7, 3]


def test_pydarshan_summary(written, tmp_path):
    pytest.importorskip("darshan")
    _, path = written
    done = subprocess.run([sys.executable, "-m", "darshan", "summary", str(path),
                           "--output", str(tmp_path / "summary.html")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (tmp_path / "summary.html").read_text()
    for expected in ("POSIX (ver=4) Module Data", "STDIO (ver=2) Module Data",
                     "DXT_POSIX (ver=1) Module Data", "Heat Map: HEATMAP POSIX",
                     "Heat Map: HEATMAP STDIO"):
        assert expected in html


# --- text output ---

def test_format_log_data_lines(written):
    _, path = written
    text = D.format_log(D.read_log(path), str(path))
    f1, odd = D.record_id(FILE1), D.record_id(ODD)
    lines = text.splitlines()
    for expected in [
        f"POSIX\t0\t{f1}\tPOSIX_BYTES_WRITTEN\t16384\t{FILE1}\t/data\txfs",
        f"POSIX\t0\t{f1}\tPOSIX_F_WRITE_TIME\t0.300000\t{FILE1}\t/data\txfs",
        f"POSIX\t0\t{f1}\tPOSIX_MMAPS\t-1\t{FILE1}\t/data\txfs",
        f"POSIX\t1\t{D.record_id(FILE2)}\tPOSIX_OPENS\t2\t{FILE2}\t/data\txfs",
        f"POSIX\t-1\t{odd}\tPOSIX_RENAMED_FROM\t{2**64 - 2}\t{ODD}\t/\text4",
        f"STDIO\t0\t{D.record_id('<STDOUT>')}\tSTDIO_BYTES_WRITTEN\t42\t<STDOUT>\tUNKNOWN\tUNKNOWN",
        f"HEATMAP\t0\t16592106915301738621\tHEATMAP_F_BIN_WIDTH_SECONDS\t0.250000\t"
        f"{HM_POSIX}\tUNKNOWN\tUNKNOWN",
        f"HEATMAP\t1\t16592106915301738621\tHEATMAP_READ_BIN_0\t90\t{HM_POSIX}\tUNKNOWN\tUNKNOWN",
        f"HEATMAP\t1\t16592106915301738621\tHEATMAP_WRITE_BIN_9\t90\t{HM_POSIX}\tUNKNOWN\tUNKNOWN",
        f"LUSTRE\t-1\t{f1}\tLUSTRE_COMP1_STRIPE_PATTERN\traid0\t{FILE1}\t/data\txfs",
        f"LUSTRE\t-1\t{f1}\tLUSTRE_COMP1_FLAGS\tinit\t{FILE1}\t/data\txfs",
        f"LUSTRE\t-1\t{f1}\tLUSTRE_COMP1_OST_ID_1\t3\t{FILE1}\t/data\txfs",
    ]:
        assert expected in lines
    # per record: integer counters, then float counters, in on-disk order
    posix0 = [line.split("\t")[3] for line in lines if line.startswith(f"POSIX\t0\t{f1}\t")]
    assert posix0 == M.counter_names("POSIX") + M.fcounter_names("POSIX")
    heat1 = [line.split("\t")[3] for line in lines if line.startswith("HEATMAP\t1\t")]
    assert heat1[0] == "HEATMAP_F_BIN_WIDTH_SECONDS" and heat1[1] == "HEATMAP_READ_BIN_0"
    assert heat1[11] == "HEATMAP_WRITE_BIN_0" and len(heat1) == 21
    assert not any(line.startswith("DXT_POSIX") for line in lines)


def test_format_log_header(written):
    _, path = written
    text = D.format_log(D.read_log(path), str(path))
    lines = text.splitlines()
    assert lines[0] == "# darshan log version: 3.41"
    assert "# exe: /usr/bin/myapp -x 1" in lines
    assert "# run time: 2.5000" in lines
    assert "# metadata: h = romio_cb_write=enable;x=y" in lines
    assert "# header: 1328 bytes (uncompressed)" in lines
    assert any(line.startswith("# DXT_POSIX module: ") and line.endswith(", ver=1")
               for line in lines)
    mounts = [line for line in lines if line.startswith("# mount entry:")]
    assert mounts == ["# mount entry:\t/data\txfs", "# mount entry:\t/\text4"]
    # an in-memory log takes the region sizes from its file
    assert D.format_log(sample_log(), str(path)) == text


# --- writer validation ---

@pytest.mark.parametrize("change,message", [
    (lambda log: log.job.metadata.update({"bad": "a\nb"}), "newline"),
    (lambda log: log.job.metadata.update({"a=b": "c"}), "key"),
    (lambda log: log.job.metadata.update({"": "c"}), "key"),
    (lambda log: log.job.metadata.update({"big": "x" * 1100}), "metadata is"),
    (lambda log: setattr(log.job, "mounts", []), "mount"),
    (lambda log: setattr(log.job, "mounts", [("/my data", "xfs")]), "whitespace"),
    (lambda log: log.records["POSIX"]["rank"].__setitem__(0, 2), "rank 2"),
    (lambda log: log.records["POSIX"]["rank"].__setitem__(0, -2), "rank -2"),
    (lambda log: log.heatmaps[0].__setattr__("rank", 5), "rank 5"),
    (lambda log: log.names.pop(D.record_id(FILE2)), "no name"),
    (lambda log: setattr(log.heatmaps[1], "bin_width", 0.5), "same nbins"),
    (lambda log: log.heatmaps.append(_heatmap("heatmap:OTHER", 0, 1)), "heatmap id"),
    (lambda log: log.records.update(FOO=log.records["POSIX"]), "FOO"),
])
def test_writer_rejects(tmp_path, change, message):
    log = sample_log()
    log.names[D.record_id("heatmap:OTHER")] = "heatmap:OTHER"
    change(log)
    with pytest.raises(ValueError, match=message):
        D.write_log(tmp_path / "x.darshan", log)
    assert list(tmp_path.iterdir()) == []


def test_writer_exe_newlines_and_truncation(tmp_path):
    log = sample_log()
    log.job.exe = "app --opt 'a\nb'"
    D.write_log(tmp_path / "a.darshan", log)
    assert D.read_log(tmp_path / "a.darshan").job.exe == "app --opt 'a b'"
    log.job.exe = "x" * 5000
    D.write_log(tmp_path / "b.darshan", log)
    back = D.read_log(tmp_path / "b.darshan").job
    assert back.exe.endswith("<TRUNCATED>") and back.mounts
    assert len(back.exe) + sum(len(p) + len(t) + 2 for p, t in back.mounts) <= 3015


# --- atomic writing ---

def test_mode_and_no_leftovers(tmp_path):
    path = tmp_path / "a.darshan"
    D.write_log(path, sample_log())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.darshan"]
    D.write_log(path, sample_log(), mode=0o440)
    assert stat.S_IMODE(path.stat().st_mode) == 0o440


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "a.darshan"
    path.write_bytes(b"old contents")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        D.write_log(path, sample_log())
    assert [p.name for p in tmp_path.iterdir()] == ["a.darshan"]
    assert path.read_bytes() == b"old contents"


def test_unwritable_directory(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    with pytest.raises(OSError):
        D.write_log(not_a_dir / "a.darshan", sample_log())
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anyway
        with pytest.raises(PermissionError):
            D.write_log(locked / "a.darshan", sample_log())
    assert list(locked.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "file", "locked"]


# --- damaged files ---

def _expect_format_error(path: Path, message: str) -> None:
    with pytest.raises(D.LogFormatError, match=message) as info:
        D.read_log(path)
    assert "\n" not in str(info.value)


def test_damaged_logs(written, tmp_path):
    _, path = written
    data = path.read_bytes()
    header = np.frombuffer(data, dtype=M.HEADER, count=1)[0]
    posix_off, _ = (int(x) for x in header["mod_map"][M.MODULE_IDS["POSIX"]])
    damaged = tmp_path / "damaged.darshan"
    cases = [
        (b"", "empty"),
        (data[:10], "too short"),
        (b"XXXXXXXX" + data[8:], "unsupported darshan log version"),
        (data[:8] + b"\1" * 8 + data[16:], "bad magic"),
        (data[:1000], "truncated"),
        (data[:len(data) - 10], "truncated"),
        (data[:posix_off + 20] + bytes([data[posix_off + 20] ^ 0xFF]) + data[posix_off + 21:],
         "corrupt zlib region for POSIX"),
    ]
    for content, message in cases:
        damaged.write_bytes(content)
        _expect_format_error(damaged, message)


def test_any_flipped_byte_gives_a_log_or_a_format_error(written):
    """Every single-byte corruption either still reads (header fields such as
    the partial flag) or raises LogFormatError; and what reads also prints."""
    _, path = written
    data = bytearray(path.read_bytes())
    read = 0
    for pos in range(len(data)):
        for flip in (0x01, 0x80):
            data[pos] ^= flip
            try:
                log = D.decode_log(bytes(data))
            except D.LogFormatError:
                pass
            else:
                read += 1
                D.format_log(log, str(path))
            data[pos] ^= flip
    assert read > 0


def _recompressed(data: bytes, comp_type: int, compress) -> bytes:
    """The same log with every region re-encoded by `compress`."""
    header = np.frombuffer(data, dtype=M.HEADER, count=1)[0].copy()
    body: list[bytes] = []

    def put(start: int, end: int) -> tuple[int, int]:
        chunk = compress(zlib.decompress(data[start:end]))
        where = (M.HEADER.itemsize + sum(len(b) for b in body), len(chunk))
        body.append(chunk)
        return where

    name_off, name_len = (int(x) for x in header["name_map"])
    put(M.HEADER.itemsize, name_off)
    header["name_map"] = put(name_off, name_off + name_len)
    for slot in np.nonzero(header["mod_map"][:, 1])[0]:  # ascending id = file order
        off, length = (int(x) for x in header["mod_map"][slot])
        header["mod_map"][slot] = put(off, off + length)
    header["comp_type"] = comp_type
    return header.tobytes() + b"".join(body)


@pytest.mark.parametrize("comp_type,name,compress", [
    (1, "BZIP2", bz2.compress), (2, "NONE", lambda raw: raw),
    (0, "ZLIB", lambda raw: zlib.compress(raw[:7]) + zlib.compress(raw[7:])),
])
def test_other_compressions(written, comp_type, name, compress):
    """bzip2, uncompressed and multi-stream zlib regions read the same."""
    log, path = written
    back = D.decode_log(_recompressed(path.read_bytes(), comp_type, compress))
    assert back.compression == name
    np.testing.assert_array_equal(back.records["POSIX"], log.records["POSIX"])
    assert back.names == log.names and back.job.exe == log.job.exe
    assert len(back.heatmaps) == 3 and len(back.dxt["DXT_POSIX"]) == 1


def test_unknown_module_is_skipped(written):
    _, path = written
    data = path.read_bytes()
    header = np.frombuffer(data, dtype=M.HEADER, count=1)[0].copy()
    header["mod_map"][40] = header["mod_map"][M.MODULE_IDS["POSIX"]]
    header["mod_ver"][40] = 3
    header["mod_ver"][M.MODULE_IDS["STDIO"]] = 9
    back = D.decode_log(header.tobytes() + data[M.HEADER.itemsize:])
    assert [(r.id, r.name) for r in back.regions if r.skipped] == [
        (M.MODULE_IDS["STDIO"], "STDIO"), (40, "<UNKNOWN>")]
    assert "STDIO" not in back.records and len(back.records["POSIX"]) == 3
    text = D.format_log(back, str(path))
    assert "# <UNKNOWN> module (id 40): " in text
    assert "unsupported STDIO module version 9" in text


def test_big_endian_log(written):
    """Logs written on a big-endian host read the same (every field swapped)."""
    log, path = written
    data = path.read_bytes()
    header = np.frombuffer(data, dtype=M.HEADER, count=1)[0]
    job_raw = zlib.decompress(data[M.HEADER.itemsize:int(header["name_map"][0])])
    be_job = np.frombuffer(job_raw, dtype=M.JOB, count=1).astype(M.JOB.newbyteorder(">"))
    job = zlib.compress(be_job.tobytes() + job_raw[M.JOB.itemsize:])
    names = zlib.compress(b"".join(struct.pack(">Q", i) + n.encode() + b"\0"
                                   for i, n in log.names.items()))
    posix = zlib.compress(log.records["POSIX"].astype(
        M.record_dtype("POSIX", byteorder=">")).tobytes())
    be = np.zeros((), dtype=M.HEADER.newbyteorder(">"))
    be["version"], be["magic"] = b"3.41", M.MAGIC
    be["name_map"] = (M.HEADER.itemsize + len(job), len(names))
    be["mod_map"][1] = (M.HEADER.itemsize + len(job) + len(names), len(posix))
    be["mod_ver"][1] = 4
    back = D.decode_log(be.tobytes() + job + names + posix)
    assert back.job == D.read_log(path).job
    assert back.names == log.names
    np.testing.assert_array_equal(back.records["POSIX"], log.records["POSIX"])
