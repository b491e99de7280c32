"""Our reader and text output against PyDarshan / libdarshan-util on every
sample log bundled with PyDarshan (formats 3.10 and 3.21, old module versions)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ebpf_darshan.darshan import format_log, read_log, record_id

darshan = pytest.importorskip("darshan")

_PKG = Path(darshan.__file__).parent
_DIRS = ("tests/input", "examples/example_logs", "examples/darshan-graph")


def _sample_logs() -> list[Path]:
    """Each distinct sample log once (some are bundled twice)."""
    by_digest: dict[str, Path] = {}
    for d in _DIRS:
        for path in sorted((_PKG / d).glob("*.darshan")):
            by_digest.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return sorted(by_digest.values())


SAMPLES = _sample_logs()


def test_samples_found():
    assert len(SAMPLES) >= 10


@pytest.fixture(scope="module", params=SAMPLES, ids=lambda p: p.name[:40])
def pair(request):
    path = request.param
    return read_log(path), darshan.DarshanReport(str(path), read_all=True)


def test_job(pair):
    log, report = pair
    job = report.metadata["job"]
    assert log.version == job["log_ver"]
    assert log.job.uid == job["uid"]
    assert log.job.nprocs == job["nprocs"]
    assert log.job.jobid == job["jobid"]
    assert log.job.start_ns == job["start_time_sec"] * 10**9 + job["start_time_nsec"]
    assert log.job.end_ns == job["end_time_sec"] * 10**9 + job["end_time_nsec"]
    assert log.run_time == job["run_time"]
    assert log.job.metadata == job["metadata"]
    assert list(log.job.metadata) == list(job["metadata"])
    assert log.job.exe == report.metadata["exe"]
    assert log.job.mounts == [tuple(m) for m in report.mounts]


def test_modules_and_names(pair):
    log, report = pair
    present = {r.name: (r.version, r.length) for r in log.regions if r.length}
    assert present == {name: (m["ver"], m["len"]) for name, m in report.modules.items()}
    assert all(not r.skipped for r in log.regions)
    assert log.names == report.name_records


def _named(log, records):
    return [r for r in records if int(r["id"] if isinstance(r, np.void) else r.id) in log.names]


def test_fixed_records(pair):
    log, report = pair
    fixed = [m for m in report.records if m in log.records]
    assert set(fixed) == set(log.records)
    for module in fixed:
        theirs = report.records[module].to_numpy()
        mine = _named(log, log.records[module])
        assert len(mine) == len(theirs) > 0
        for a, b in zip(mine, theirs, strict=True):
            assert int(a["id"]) == b["id"] and int(a["rank"]) == b["rank"]
            np.testing.assert_array_equal(a["counters"], b["counters"])
            np.testing.assert_array_equal(a["fcounters"], b["fcounters"])
            if "file_rec_id" in b:
                assert int(a["file_rec_id"]) == b["file_rec_id"]


def test_dxt_records(pair):
    log, report = pair
    modules = [m for m in ("DXT_POSIX", "DXT_MPIIO") if m in report.modules]
    assert sorted(log.dxt) == sorted(modules)
    for module in modules:
        theirs = report.records[module].to_numpy()
        mine = _named(log, log.dxt[module])
        assert len(mine) == len(theirs) > 0
        for a, b in zip(mine, theirs, strict=True):
            assert (a.id, a.rank, a.hostname) == (b["id"], b["rank"], b["hostname"])
            for kind in ("write", "read"):
                segs, ref = getattr(a, f"{kind}_segments"), b[f"{kind}_segments"]
                assert len(segs) == len(ref) == b[f"{kind}_count"]
                for field in ("offset", "length", "start_time", "end_time"):
                    assert segs[field].tolist() == [s[field] for s in ref]


def test_lustre_records(pair):
    log, report = pair
    if "LUSTRE" not in report.modules:
        assert log.lustre == []
        return
    theirs = report.records["LUSTRE"].to_numpy()
    mine = _named(log, log.lustre)
    assert len(mine) == len(theirs) > 0
    for a, b in zip(mine, theirs, strict=True):
        assert (a.id, a.rank, len(a.components)) == (b["id"], b["rank"], len(b["components"]))
        for c, d in zip(a.components, b["components"], strict=True):
            np.testing.assert_array_equal(c.counters, d["counters"])
            np.testing.assert_array_equal(c.ost_ids, d["ost_ids"])
            assert c.pool_name == d["pool_name"]


def test_names_hash_to_ids(pair):
    """Record ids are the hash of the names; anonymized logs replaced their
    names by numbers but kept the ids of the real names, so none matches."""
    log, _ = pair
    matches = [record_id(name) == rec_id for rec_id, name in log.names.items()]
    if all(name.rsplit("/", 1)[-1].isdigit() for name in log.names.values()):
        assert not any(matches)
    else:
        assert all(matches)


# A reference for the data lines: libdarshan-util's own per-module print
# functions (what darshan-parser calls), reached through the library that
# PyDarshan bundles. Runs in a subprocess because the library prints with C stdio.
_ORACLE = textwrap.dedent("""
    import sys
    import cffi
    from darshan.backend import cffi_backend as B
    ffi = cffi.FFI()
    ffi.cdef('''
    struct funcs { void *get; void *put; void (*print)(void *, char *, char *, char *); };
    extern struct funcs *mod_logutils[];
    int darshan_log_get_record(void *, int, void **);
    int fflush(void *);
    ''')
    lib = ffi.dlopen(sys.argv[2])  # the library PyDarshan loaded: same instance
    log = B.log_open(sys.argv[1])
    names, mounts = B.log_get_name_records(log), B.log_get_mounts(log)
    handle = ffi.cast("void *", int(B.ffi.cast("uintptr_t", log["handle"])))
    for name, mod in sorted(B.log_get_modules(log).items(), key=lambda m: m[1]["idx"]):
        if name.startswith("DXT"):
            continue
        buf = ffi.new("void **")
        while lib.darshan_log_get_record(handle, mod["idx"], buf) == 1:
            rec_name = names.get(ffi.cast("uint64_t *", buf[0])[0])
            mnt = next((m for m in mounts if rec_name and rec_name.startswith(m[0])),
                       ("UNKNOWN", "UNKNOWN"))
            args = [ffi.new("char[]", s.encode()) for s in (rec_name or "(null)", *mnt)]
            lib.mod_logutils[mod["idx"]].print(buf[0], *args)
            B.libdutil.darshan_free(buf[0])
            buf[0] = ffi.NULL
    ffi.dlopen(None).fflush(ffi.NULL)
""")


def _library_path() -> str:
    found = sorted((_PKG.parent / "darshan.libs").glob("libdarshan-util*"))
    if not found:
        pytest.skip("PyDarshan without its bundled libdarshan-util")
    return str(found[0])


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name[:40])
def test_data_lines_match_libdarshan_util(path):
    done = subprocess.run([sys.executable, "-c", _ORACLE, str(path), _library_path()],
                          capture_output=True, text=True, check=True)
    expected = done.stdout.splitlines()
    mine = [line for line in format_log(read_log(path), str(path)).splitlines()
            if line and not line.startswith("#")]
    assert len(expected) > 0
    assert mine == expected
