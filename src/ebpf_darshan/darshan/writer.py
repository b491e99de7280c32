"""Write a `Log` as a Darshan 3.41 log file (zlib, little-endian).

`encode_log` validates the whole log and produces the bytes; `write_log` puts
them in place atomically (temporary file in the same directory, fsync, chmod,
rename), so a reader never sees a half-written log.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from . import modules as M
from .log import LOG_VERSION, NS_PER_S, DxtRecord, HeatmapRecord, Job, Log, LustreRecord
from .record_hash import record_id

_TRUNCATED = "<TRUNCATED>"
_HEATMAP_IDS = frozenset(record_id(f"heatmap:{api}") for api in M.HEATMAP_APIS)


def write_log(path: str | os.PathLike[str], log: Log, mode: int = 0o600) -> None:
    """Write `log` to `path` atomically; ValueError if the log is not writable
    as a valid Darshan log (nothing is created then)."""
    _write_atomically(os.fspath(path), encode_log(log), mode)


def encode_log(log: Log) -> bytes:
    """The complete file contents for `log`."""
    buffers = list(_module_buffers(log))  # checks the record layouts first
    _check_records(log)
    regions = [(M.MODULE_IDS[name], M.WRITE_VERSIONS[name], zlib.compress(raw))
               for name, raw in buffers if raw]
    regions.sort()
    job = zlib.compress(_job_region(log.job))
    names = _name_region(log.names)
    names_z = zlib.compress(names) if names else b""

    header = np.zeros((), dtype=M.HEADER)
    header["version"] = LOG_VERSION.encode()
    header["magic"] = M.MAGIC
    header["comp_type"] = M.COMPRESSIONS.index("ZLIB")
    header["partial_flag"] = log.partial_flag
    offset = M.HEADER.itemsize + len(job)
    header["name_map"] = (offset, len(names_z))
    offset += len(names_z)
    for module_id, version, data in regions:
        header["mod_map"][module_id] = (offset, len(data))
        header["mod_ver"][module_id] = version
        offset += len(data)
    return b"".join([header.tobytes(), job, names_z] + [data for _, _, data in regions])


# --- job region ---

def _job_region(job: Job) -> bytes:
    if job.nprocs < 1:
        raise ValueError(f"nprocs must be at least 1, not {job.nprocs}")
    fields = np.zeros((), dtype=M.JOB)
    fields["uid"] = job.uid
    fields["start_time_sec"], fields["start_time_nsec"] = divmod(job.start_ns, NS_PER_S)
    fields["end_time_sec"], fields["end_time_nsec"] = divmod(job.end_ns, NS_PER_S)
    fields["nprocs"] = job.nprocs
    fields["jobid"] = job.jobid
    fields["metadata"] = _metadata(job.metadata).ljust(M.METADATA_LEN, b"\0")
    region = fields.tobytes() + _exe_and_mounts(job.exe, job.mounts) + b"\0"
    assert M.JOB.itemsize < len(region) <= M.JOB_REGION_MAX
    return region


def _metadata(metadata: dict[str, str]) -> bytes:
    lines = []
    for key, value in metadata.items():
        key, value = str(key), str(value)
        if not key or "=" in key or "\n" in key or "\0" in key:
            raise ValueError(f"metadata key {key!r}: must be non-empty, without '=' or newline")
        if "\n" in value or "\0" in value:
            raise ValueError(f"metadata value of {key!r} contains a newline or NUL")
        lines.append(f"{key}={value}\n")
    text = "".join(lines).encode("utf-8")
    if len(text) >= M.METADATA_LEN:
        raise ValueError(f"metadata is {len(text)} bytes, at most {M.METADATA_LEN - 1} fit")
    return text


def _exe_and_mounts(exe: str, mounts: list[tuple[str, str]]) -> bytes:
    """`<command line>` then `\\n<fs type>\\t<mount point>` per mount, within
    3015 bytes: the command line is truncated (marked) if it leaves no room for
    the first mount entry, and mounts that do not fit are dropped."""
    if not mounts:
        raise ValueError("the job needs at least one mount entry (readers lose the exe without)")
    entries = [_mount_entry(point, fs_type) for point, fs_type in mounts]
    command = exe.replace("\n", " ").replace("\0", " ").encode("utf-8")
    room = M.EXE_MOUNT_MAX - len(entries[0])
    if room < len(_TRUNCATED):
        raise ValueError(f"mount entry {mounts[0]!r} is too long")
    if len(command) > room:
        cut = command[:room - len(_TRUNCATED)].decode("utf-8", "ignore").encode("utf-8")
        command = cut + _TRUNCATED.encode()
    text = command
    for entry in entries:
        if len(text) + len(entry) > M.EXE_MOUNT_MAX:
            break
        text += entry
    return text


def _mount_entry(point: str, fs_type: str) -> bytes:
    for part in (point, fs_type):
        if not part or any(ch.isspace() or ch == "\0" for ch in part):
            raise ValueError(f"mount ({point!r}, {fs_type!r}): empty or contains whitespace")
    return f"\n{fs_type}\t{point}".encode()


# --- name region ---

def _name_region(names: dict[int, str]) -> bytes:
    parts = []
    for rec_id, name in names.items():
        if "\0" in name:
            raise ValueError(f"record name {name!r} contains a NUL byte")
        parts.append(struct.pack("<Q", rec_id) + name.encode("utf-8") + b"\0")
    return b"".join(parts)


# --- validation shared by all modules ---

def _ids_and_ranks(log: Log) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(module, ids, ranks) of every record in the log."""
    for name, records in log.records.items():
        array = np.asarray(records)
        yield name, array["id"].astype(np.uint64), array["rank"].astype(np.int64)
    variable: list[tuple[str, Iterable[HeatmapRecord | DxtRecord | LustreRecord]]] = [
        ("HEATMAP", log.heatmaps), ("LUSTRE", log.lustre), *log.dxt.items()]
    for name, recs in variable:
        recs = list(recs)
        yield (name, np.array([r.id for r in recs], dtype=np.uint64),
               np.array([r.rank for r in recs], dtype=np.int64))


def _check_records(log: Log) -> None:
    nprocs = log.job.nprocs
    for name, ids, ranks in _ids_and_ranks(log):
        bad_rank = ranks[(ranks != -1) & ((ranks < 0) | (ranks >= nprocs))]
        if len(bad_rank):
            raise ValueError(f"{name} record with rank {int(bad_rank[0])}: "
                             f"must be -1 or in [0, {nprocs})")
        unnamed = [int(i) for i in ids if int(i) not in log.names]
        if unnamed:
            raise ValueError(f"{name} record {unnamed[0]} has no name in log.names")


# --- module regions ---

def _module_buffers(log: Log) -> Iterator[tuple[str, bytes]]:
    for name, records in log.records.items():
        yield name, _fixed_records(name, records)
    yield "HEATMAP", _heatmap_records(log.heatmaps)
    yield "LUSTRE", b"".join(_lustre_record(r) for r in log.lustre)
    for name, recs in log.dxt.items():
        if name not in ("DXT_POSIX", "DXT_MPIIO"):
            raise ValueError(f"log.dxt key {name!r}: must be DXT_POSIX or DXT_MPIIO")
        yield name, b"".join(_dxt_record(r) for r in recs)


def _fixed_records(name: str, records: np.ndarray) -> bytes:
    if name not in M.FIXED_MODULES:
        raise ValueError(f"log.records key {name!r}: not a fixed-size module "
                         f"({', '.join(M.FIXED_MODULES)})")
    array = np.asarray(records)
    expected = M.record_dtype(name)
    same_fields = array.dtype.names == expected.names and all(
        array.dtype[f].shape == expected[f].shape for f in M.field_names(expected))
    if not same_fields:
        raise ValueError(f"{name} records have dtype {array.dtype}, expected {expected}")
    return array.astype(expected).tobytes()


def _heatmap_records(heatmaps: list[HeatmapRecord]) -> bytes:
    shape: dict[int, tuple[int, float]] = {}
    parts = []
    for rec in heatmaps:
        if rec.id not in _HEATMAP_IDS:
            raise ValueError(f"heatmap id {rec.id} is not one of heatmap:"
                             f"{{{','.join(M.HEATMAP_APIS)}}} (PyDarshan knows only those)")
        if rec.nbins < 1 or len(rec.read_bins) != rec.nbins:
            raise ValueError(f"heatmap {rec.id} rank {rec.rank}: needs equal, non-empty "
                             "read and write bins")
        if shape.setdefault(rec.id, (rec.nbins, rec.bin_width)) != (rec.nbins, rec.bin_width):
            raise ValueError(f"heatmap {rec.id}: all ranks need the same nbins and bin width")
        head = np.zeros((), dtype=M.HEATMAP_HEAD)
        head["id"], head["rank"] = rec.id, rec.rank
        head["bin_width"], head["nbins"] = rec.bin_width, rec.nbins
        parts += [head.tobytes(), np.asarray(rec.write_bins, dtype="<i8").tobytes(),
                  np.asarray(rec.read_bins, dtype="<i8").tobytes()]
    return b"".join(parts)


def _dxt_record(rec: DxtRecord) -> bytes:
    host = rec.hostname.encode("utf-8")
    if len(host) > M.DXT_HOSTNAME_LEN:
        raise ValueError(f"DXT hostname {rec.hostname!r} is longer than {M.DXT_HOSTNAME_LEN} bytes")
    head = np.zeros((), dtype=M.DXT_HEAD)
    head["id"], head["rank"], head["shared_record"] = rec.id, rec.rank, rec.shared_record
    head["hostname"] = host.ljust(M.DXT_HOSTNAME_LEN, b"\0")
    head["write_count"], head["read_count"] = len(rec.write_segments), len(rec.read_segments)
    return head.tobytes() + _segments(rec.write_segments) + _segments(rec.read_segments)


def _segments(segments: np.ndarray) -> bytes:
    out = np.zeros(len(segments), dtype=M.DXT_SEGMENT_32)
    for field in M.field_names(M.DXT_SEGMENT_32):
        out[field] = segments[field]
    return out.tobytes()


def _lustre_record(rec: LustreRecord) -> bytes:
    head = np.zeros((), dtype=M.LUSTRE_HEAD)
    head["id"], head["rank"] = rec.id, rec.rank
    head["num_comps"], head["num_stripes"] = len(rec.components), rec.num_stripes
    comps = np.zeros(len(rec.components), dtype=M.LUSTRE_COMPONENT)
    count = M.LUSTRE_COMP_COUNTERS.index("LUSTRE_COMP_STRIPE_COUNT")
    for i, comp in enumerate(rec.components):
        pool = comp.pool_name.encode("utf-8")
        if len(pool) >= M.LUSTRE_POOL_NAME_LEN:
            raise ValueError(f"Lustre pool name {comp.pool_name!r} is too long")
        if len(comp.ost_ids) != comp.counters[count]:
            raise ValueError(f"Lustre record {rec.id}: component {i} has {len(comp.ost_ids)} "
                             f"OST ids but a stripe count of {comp.counters[count]}")
        comps[i]["counters"] = comp.counters
        comps[i]["pool_name"] = pool.ljust(M.LUSTRE_POOL_NAME_LEN, b"\0")
    osts = [np.asarray(c.ost_ids, dtype="<i8") for c in rec.components]
    return head.tobytes() + comps.tobytes() + b"".join(o.tobytes() for o in osts)


# --- the file ---

def _write_atomically(path: str, data: bytes, mode: int) -> None:
    directory, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".darshan_partial", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename durable; not every file system allows it, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
