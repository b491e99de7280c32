"""Read Darshan logs of format 3.00, 3.10, 3.20, 3.21 and 3.41 into a `Log`.

Records of older module versions are up-converted to the current layouts the
way darshan-util does it: counters an old version did not have come back as
-1 (record ids as 0). Modules this package has no reader for, or whose
version it does not know, are skipped and listed in `Log.regions`. Anything
malformed raises `LogFormatError`.
"""

from __future__ import annotations

import bz2
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import modules as M
from .log import (
    NS_PER_S,
    DxtRecord,
    HeatmapRecord,
    Job,
    Log,
    LustreComponent,
    LustreRecord,
    ModuleRegion,
    mounts_longest_first,
)

ByteOrder = Literal["<", ">"]  # numpy's, of a file written little or big endian
_VERSIONS = {(3, 0), (3, 10), (3, 20), (3, 21), (3, 41)}
_UNKNOWN = "<UNKNOWN>"
_I64 = np.dtype("<i8")


class LogFormatError(Exception):
    """The file is not a Darshan log this package can read, or it is damaged."""


def read_log(path: str | os.PathLike[str]) -> Log:
    with open(path, "rb") as f:
        return decode_log(f.read())


def decode_log(data: bytes) -> Log:
    """The `Log` in the contents of a log file."""
    data = bytes(data)
    header = _Header.parse(data)
    job_raw = header.region(data, header.job_map, "job data")[:M.JOB_REGION_MAX]
    job = _job(job_raw, header)
    names = _names(header.region(data, header.name_map, "record table"), header)
    log = Log(job=job, names=names, partial_flag=header.partial_flag,
              version=header.version, compression=header.compression,
              job_region_length=header.job_map[1], name_region_length=header.name_map[1])
    for module_id, (_, length) in enumerate(header.mod_map):
        if length:
            log.regions.append(_read_module(log, data, header, module_id))
    return log


# --- header ---

@dataclass
class _Header:
    version: str
    minor: int
    order: ByteOrder  # numpy byte order of the file
    compression: str
    partial_flag: int
    job_map: tuple[int, int]
    name_map: tuple[int, int]
    mod_map: list[tuple[int, int]]
    mod_ver: list[int]

    @classmethod
    def parse(cls, data: bytes) -> _Header:
        if not data:
            raise LogFormatError("not a darshan log: empty file")
        if len(data) < 16:
            raise LogFormatError("not a darshan log: file too short")
        orders: dict[bytes, ByteOrder] = {struct.pack("<q", M.MAGIC): "<",
                                          struct.pack(">q", M.MAGIC): ">"}
        order = orders.get(data[8:16])
        if order is None:
            raise LogFormatError("not a darshan log: bad magic number")
        version = data[:8].split(b"\0")[0].decode("ascii", "replace")
        match = re.match(r"(\d+)\.(\d+)", version)
        if not match or (int(match[1]), int(match[2])) not in _VERSIONS:
            raise LogFormatError(f"unsupported darshan log version {version!r}")
        version, minor = match[0], int(match[2])  # like sscanf("%d.%d"): ignore the rest
        layout = (M.HEADER if minor >= 41 else M.HEADER_OLD).newbyteorder(order)
        if len(data) < layout.itemsize:
            raise LogFormatError("truncated log: incomplete header")
        raw = np.frombuffer(data, dtype=layout, count=1)[0]
        comp_type = int(raw["comp_type"])
        if comp_type >= len(M.COMPRESSIONS):
            raise LogFormatError(f"unknown compression type {comp_type}")
        mod_map = [(int(o), int(n)) for o, n in raw["mod_map"]]
        mod_ver = [int(v) for v in raw["mod_ver"]]
        partial = int(raw["partial_flag"])
        if minor < 41:
            mod_map, mod_ver, partial = _renumber_old_modules(mod_map, mod_ver, partial, minor)
        name_map = (int(raw["name_map"][0]), int(raw["name_map"][1]))
        # the job region is not in the map: it ends where the next region starts
        job_end = name_map[0] or next((off for off, _ in mod_map if off), len(data))
        if job_end <= layout.itemsize:
            raise LogFormatError("corrupt header: no room for the job data")
        return cls(version, minor, order, M.COMPRESSIONS[comp_type], partial,
                   (layout.itemsize, job_end - layout.itemsize), name_map, mod_map, mod_ver)

    def region(self, data: bytes, where: tuple[int, int], what: str) -> bytes:
        offset, length = where
        if length == 0:
            return b""
        if offset + length > len(data):
            raise LogFormatError(f"truncated log: {what} region ends past the end of the file")
        return _decompress(data[offset:offset + length], self.compression, what)


def _renumber_old_modules(mod_map: list[tuple[int, int]], mod_ver: list[int], partial: int,
                          minor: int) -> tuple[list[tuple[int, int]], list[int], int]:
    """Old logs have 16 slots, and lack the H5D (before 3.20) and PNETCDF_VAR
    (before 3.41) ids: later modules sit one slot lower per missing id."""
    mod_map = mod_map + [(0, 0)] * (M.MAX_MODULES - len(mod_map))
    mod_ver = mod_ver + [0] * (M.MAX_MODULES - len(mod_ver))
    missing = ([M.MODULE_IDS["H5D"]] if minor < 20 else []) + [M.MODULE_IDS["PNETCDF_VAR"]]
    for at in missing:
        mod_map = [*mod_map[:at], (0, 0), *mod_map[at:-1]]
        mod_ver = [*mod_ver[:at], 0, *mod_ver[at:-1]]
        partial = (partial & ((1 << at) - 1)) | ((partial >> at) << (at + 1))
    return mod_map, mod_ver, partial & ((1 << M.MAX_MODULES) - 1)


def _decompress(raw: bytes, compression: str, what: str) -> bytes:
    """A region: one or more complete compressed streams back to back."""
    if compression == "NONE":
        return raw
    new = zlib.decompressobj if compression == "ZLIB" else bz2.BZ2Decompressor
    out = []
    try:
        while raw:
            stream = new()
            out.append(stream.decompress(raw))
            if not stream.eof:
                raise LogFormatError(f"truncated {compression.lower()} stream in {what} region")
            raw = stream.unused_data
    except (zlib.error, OSError, ValueError, EOFError) as e:
        raise LogFormatError(f"corrupt {compression.lower()} region for {what}") from e
    return b"".join(out)


# --- job, exe, mounts, names ---

def _job(raw: bytes, header: _Header) -> Job:
    layout = (M.JOB if header.minor >= 41 else M.JOB_OLD).newbyteorder(header.order)
    if len(raw) <= M.JOB.itemsize:
        raise LogFormatError("corrupt log: job data too short")
    fields = np.frombuffer(raw, dtype=layout, count=1)[0]
    start_ns, end_ns = (
        int(fields[f"{edge}_time_sec"]) * NS_PER_S
        + (int(fields[f"{edge}_time_nsec"]) if header.minor >= 41 else 0)  # new in 3.41
        for edge in ("start", "end"))
    exe, mounts = _exe_and_mounts(raw[layout.itemsize:].split(b"\0")[0])
    return Job(uid=int(fields["uid"]), start_ns=start_ns, end_ns=end_ns,
               nprocs=int(fields["nprocs"]), jobid=int(fields["jobid"]),
               metadata=_metadata(bytes(fields["metadata"])), exe=exe, mounts=mounts)


def _metadata(raw: bytes) -> dict[str, str]:
    """`key=value` lines; like PyDarshan, text after the last newline is not a line."""
    text = raw.split(b"\0")[0].decode("utf-8", "replace")
    pairs = (line.split("=", 1) for line in text.split("\n")[:-1] if "=" in line)
    return {key: value for key, value in pairs}


def _exe_and_mounts(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    text = raw.decode("utf-8", "replace")
    if "\n" not in text:
        return "", []  # darshan-util finds no exe without a mount table
    exe, *lines = text.split("\n")
    mounts = []
    for line in lines:
        tokens = line.split()
        if len(tokens) < 2:
            raise LogFormatError("corrupt log: poorly formatted mount table")
        mounts.append((tokens[1], tokens[0]))
    return exe, mounts_longest_first(mounts)


def _names(raw: bytes, header: _Header) -> dict[int, str]:
    names: dict[int, str] = {}
    id_format = f"{header.order}Q"
    pos = 0
    while pos < len(raw):
        if pos + 9 > len(raw):
            raise LogFormatError("corrupt log: incomplete record table entry")
        (rec_id,) = struct.unpack_from(id_format, raw, pos)
        if header.minor == 0:  # 3.00: id, u32 length, name without NUL
            (size,) = struct.unpack_from(f"{header.order}I", raw, pos + 8)
            start, end, pos = pos + 12, pos + 12 + size, pos + 12 + size
            if end > len(raw):
                raise LogFormatError("corrupt log: incomplete record table entry")
        else:
            start = pos + 8
            end = raw.find(b"\0", start)
            if end < 0:
                raise LogFormatError("corrupt log: unterminated name in record table")
            pos = end + 1
        name = raw[start:end].decode("utf-8", "replace")
        if not names.get(rec_id):  # first non-empty name wins
            names[rec_id] = name
    return names


# --- modules ---

def _read_module(log: Log, data: bytes, header: _Header, module_id: int) -> ModuleRegion:
    name = M.MODULE_NAMES[module_id] if module_id < len(M.MODULE_NAMES) else _UNKNOWN
    offset, length = header.mod_map[module_id]
    version = header.mod_ver[module_id]
    region = ModuleRegion(module_id, name, version, length)
    reader = _VARIABLE_READERS.get(name) or (_read_fixed if name in M.FIXED_MODULES else None)
    if reader is None:
        region.skipped = "no reader for this module"
    elif not 1 <= version <= M.CURRENT_VERSIONS[name]:
        region.skipped = f"unsupported {name} module version {version}"
    else:
        raw = header.region(data, (offset, length), name)
        reader(log, name, version, _Buffer(raw, header.order, name))
    return region


class _Buffer:
    """A decompressed module region, consumed record by record."""

    def __init__(self, raw: bytes, order: ByteOrder, module: str) -> None:
        self.raw, self.order, self.module, self.pos = raw, order, module, 0

    def take(self, dtype: np.dtype, count: int = 1) -> np.ndarray:
        """`count` items; a short read means a truncated record."""
        size = dtype.itemsize * count
        if count < 0 or self.pos + size > len(self.raw):
            raise LogFormatError(f"corrupt log: truncated {self.module} record")
        items = np.frombuffer(self.raw, dtype=dtype.newbyteorder(self.order), count=count,
                              offset=self.pos)
        self.pos += size
        return items.astype(dtype)

    def heads(self, dtype: np.dtype) -> Iterator[np.void]:
        """Fixed parts of variable-size records until the region ends (as in
        darshan-util, a partial fixed part at the end is ignored)."""
        while self.pos + dtype.itemsize <= len(self.raw):
            yield self.take(dtype)[0]


# Older record layouts: (integer counters, float counters, has file_rec_id).
_OLD_LAYOUTS: dict[tuple[str, int], tuple[int, int, bool]] = {
    ("POSIX", 1): (68, 15, False), ("POSIX", 2): (64, 15, False), ("POSIX", 3): (64, 17, False),
    ("MPI-IO", 1): (51, 15, False), ("MPI-IO", 2): (51, 15, False),
    ("STDIO", 1): (13, 15, False),
    ("H5F", 1): (1, 2, False), ("H5F", 2): (1, 4, False),
    ("H5D", 1): (94, 17, False),
    ("PNETCDF_FILE", 1): (2, 2, False), ("PNETCDF_FILE", 2): (2, 4, False),
}

_Counters = tuple[np.ndarray, np.ndarray]


def _insert(a: np.ndarray, at: int, values: list[float]) -> np.ndarray:
    return np.insert(a, [at] * len(values), values, axis=1)


def _pnetcdf_file_2to3(ints: np.ndarray, floats: np.ndarray) -> _Counters:
    """v3 split opens into creates/opens and added wait counters and timers."""
    new_ints = np.full((len(ints), 9), -1, dtype=np.int64)
    new_ints[:, 1] = ints[:, 0] + ints[:, 1]
    return new_ints, _insert(_insert(floats, 2, [-1]), 5, [-1, -1, -1])


# Up-conversion from version v to v+1 of each module, as darshan-util does it.
_UPGRADES: dict[tuple[str, int], Callable[[np.ndarray, np.ndarray], _Counters]] = {
    ("POSIX", 1): lambda i, f: (np.delete(i, range(6, 10), axis=1), f),  # stdio counters out
    ("POSIX", 2): lambda i, f: (i, _insert(f, 3, [-1, -1])),  # close start, open end
    ("POSIX", 3): lambda i, f: (_insert(_insert(i, 1, [-1, -1]), 10, [-1, -1, 0]), f),
    ("MPI-IO", 1): lambda i, f: (i, f),
    ("MPI-IO", 2): lambda i, f: (i, _insert(f, 3, [-1, -1])),
    ("STDIO", 1): lambda i, f: (_insert(i, 1, [-1]), f),  # fdopens
    ("H5F", 1): lambda i, f: (i, _insert(f, 1, [-1, -1])),
    ("H5F", 2): lambda i, f: (_insert(i, 1, [-1, -1]), _insert(f, 4, [-1])),
    ("H5D", 1): lambda i, f: (i, f),  # only file_rec_id is new (0)
    ("PNETCDF_FILE", 1): lambda i, f: (i, _insert(f, 1, [-1, -1])),
    ("PNETCDF_FILE", 2): _pnetcdf_file_2to3,
}


def _read_fixed(log: Log, name: str, version: int, buf: _Buffer) -> None:
    current = M.CURRENT_VERSIONS[name]
    layout = (M.record_dtype(name) if version == current
              else M.record_dtype(name, *_OLD_LAYOUTS[(name, version)]))
    count = (len(buf.raw) - buf.pos) // layout.itemsize  # a partial last record is ignored
    old = buf.take(layout, count)
    if name == "POSIX" and version == 1:
        old = old[old["counters"][:, 6] <= 0]  # records with stdio data cannot be converted
    ints, floats = old["counters"].astype(np.int64), old["fcounters"].astype(np.float64)
    for v in range(version, current):
        ints, floats = _UPGRADES[(name, v)](ints, floats)
    if name == "POSIX" and version in (2, 3):
        # darshan-util's v3->v4 step moves only as many bytes as the original
        # record had (the last move shifts by 3 counters), so the float
        # counters past that come back as 0; report what darshan-util reports
        valid_end = layout.itemsize + 3 * 8
        floats[:, (valid_end - M.field_offset(M.record_dtype(name), "fcounters")) // 8:] = 0
    records = np.zeros(len(old), dtype=M.record_dtype(name))
    records["id"], records["rank"] = old["id"], old["rank"]
    if "file_rec_id" in M.field_names(old.dtype):
        records["file_rec_id"] = old["file_rec_id"]
    records["counters"], records["fcounters"] = ints, floats
    log.records[name] = records


def _text(raw: np.void) -> str:
    return raw.tobytes().split(b"\0")[0].decode("utf-8", "replace")


def _read_heatmap(log: Log, name: str, version: int, buf: _Buffer) -> None:
    first_nbins, first_width = 0, 0.0
    for head in buf.heads(M.HEATMAP_HEAD):
        nbins, width = int(head["nbins"]), float(head["bin_width"])
        bins = buf.take(_I64, 2 * nbins)
        write, read = bins[:nbins], bins[nbins:]
        first_nbins = first_nbins or nbins
        first_width = first_width or width
        # darshan-util evens out records one bin off from the first (clock skew)
        if width == first_width and nbins == first_nbins + 1:
            write, read = write[:-1], read[:-1]
        elif width == first_width and nbins == first_nbins - 1:
            write, read = np.append(write, 0), np.append(read, 0)
        log.heatmaps.append(HeatmapRecord(int(head["id"]), int(head["rank"]), width,
                                          write.copy(), read.copy()))


def _read_dxt(log: Log, name: str, version: int, buf: _Buffer) -> None:
    with_thread = version >= (2 if name == "DXT_POSIX" else 3)
    layout = M.DXT_SEGMENT_40 if with_thread else M.DXT_SEGMENT_32
    records = log.dxt.setdefault(name, [])
    for head in buf.heads(M.DXT_HEAD):
        segments = []
        for count in (int(head["write_count"]), int(head["read_count"])):
            seg = np.zeros(max(count, 0), dtype=M.DXT_SEGMENT)
            items = buf.take(layout, count)
            for field in M.field_names(layout):
                seg[field] = items[field]
            if name == "DXT_MPIIO" and version == 1:
                seg["offset"] = -1  # version 1 offsets are not valid
            segments.append(seg)
        records.append(DxtRecord(int(head["id"]), int(head["rank"]), _text(head["hostname"]),
                                 segments[0], segments[1], int(head["shared_record"])))


def _read_lustre(log: Log, name: str, version: int, buf: _Buffer) -> None:
    if version == 1:
        for head in buf.heads(M.LUSTRE_HEAD_V1):
            count = int(head["stripe_count"])
            counters = np.array([head["stripe_size"], count, -1, -1, 0, -1, -1], dtype=np.int64)
            osts = buf.take(_I64, count)
            log.lustre.append(LustreRecord(int(head["id"]), int(head["rank"]),
                                           [LustreComponent(counters, "", osts)]))
        return
    stripe_count = M.LUSTRE_COMP_COUNTERS.index("LUSTRE_COMP_STRIPE_COUNT")
    for head in buf.heads(M.LUSTRE_HEAD):
        ncomps = max(int(head["num_comps"]), 0)
        comps = buf.take(M.LUSTRE_COMPONENT, ncomps)
        osts = buf.take(_I64, int(head["num_stripes"]) if ncomps else 0)
        components, used = [], 0
        for comp in comps:
            if comp["counters"][0] == -1:  # unused slot: the list ends here
                break
            count = int(comp["counters"][stripe_count])
            if count < 0 or used + count > len(osts):
                raise LogFormatError("corrupt log: LUSTRE stripe counts exceed the OST list")
            components.append(LustreComponent(comp["counters"].copy(), _text(comp["pool_name"]),
                                              osts[used:used + count].copy()))
            used += count
        log.lustre.append(LustreRecord(int(head["id"]), int(head["rank"]), components))


_VARIABLE_READERS: dict[str, Callable[[Log, str, int, _Buffer], None]] = {
    "HEATMAP": _read_heatmap, "DXT_POSIX": _read_dxt, "DXT_MPIIO": _read_dxt,
    "LUSTRE": _read_lustre,
}
