"""darshan-parser `--base` compatible text for a `Log`.

Job header, log regions, mount table and one tab-separated line per counter
per record, in darshan-parser's order and number formats. The explanatory
comment blocks are our own wording; tools reading this text skip `#` lines.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from . import modules as M
from .log import Log, LustreRecord, mounts_longest_first
from .reader import read_log

_RULE = "# " + "-" * 55
_STARS = "# " + "*" * 55
_COLUMNS = ("#<module>\t<rank>\t<record id>\t<counter>\t<value>\t<file name>\t<mount pt>"
            "\t<fs type>")
_U64 = (1 << 64) - 1

_ABOUT_COLUMNS = """\
# description of columns:
#   <module>: the instrumentation module that produced the record.
#   <rank>: the process rank; -1 means all ranks shared the file and the
#      record holds their combined statistics.
#   <record id>: 64-bit hash of the record name.
#   <counter> and <value>: the statistic; -1 means it was not monitored.
#   <file name>: the record name, usually an absolute file path.
#   <mount pt> and <fs type>: the longest mount point that prefixes the
#      name, and its file system type (UNKNOWN if none does)."""

# One short description per module, shown above its data.
_ABOUT_MODULES = {
    "POSIX": """\
#   POSIX_*: counts of POSIX calls (open-like, read, write, seek, stat, mmap,
#      sync, rename), bytes moved and highest offsets, sequential/consecutive
#      access counts, alignment, access size histograms, the four most common
#      strides and access sizes, and fastest/slowest rank data for shared files.
#   POSIX_F_*: first-start/last-end timestamps, cumulative read/write/metadata
#      time, slowest single read/write, and per-rank time variance.""",
    "MPI-IO": """\
#   MPIIO_*: independent, collective, split and non-blocking operation counts,
#      syncs, hints, views, bytes moved, aggregate access size histograms and
#      the four most common access sizes.
#   MPIIO_F_*: timestamps, cumulative times and slowest operations.""",
    "STDIO": """\
#   STDIO_*: stream opens, reads, writes, seeks, flushes, bytes moved and
#      highest offsets.
#   STDIO_F_*: cumulative metadata/write/read time, then timestamps.""",
    "H5F": """\
#   H5F_*: HDF5 file opens and flushes, and whether MPI-IO was used.
#   H5F_F_*: open/close timestamps and metadata time.""",
    "H5D": """\
#   H5D_*: HDF5 dataset opens, reads, writes, flushes, bytes, selection types,
#      access size histograms, the four most common access shapes, dataspace
#      and chunk sizes. H5D_FILE_REC_ID is the id of the file's H5F record.
#   H5D_F_*: timestamps, cumulative times and slowest operations.""",
    "PNETCDF_FILE": """\
#   PNETCDF_FILE_*: PnetCDF file creates, opens, redefs, waits, syncs, bytes.
#   PNETCDF_FILE_F_*: open/close/wait timestamps, metadata and wait time.""",
    "PNETCDF_VAR": """\
#   PNETCDF_VAR_*: PnetCDF variable accesses by API flavor, bytes, access size
#      histograms and the four most common access shapes.
#      PNETCDF_VAR_FILE_REC_ID is the id of the file's PNETCDF_FILE record.
#   PNETCDF_VAR_F_*: timestamps, cumulative times and slowest operations.""",
    "LUSTRE": """\
#   LUSTRE_NUM_COMPONENTS, LUSTRE_NUM_STRIPES: layout size of the file.
#   LUSTRE_COMP<n>_*: stripe size, count, pattern, flags, extent, mirror id and
#      pool of layout component n, then the OST index of each stripe.""",
    "HEATMAP": """\
#   HEATMAP_F_BIN_WIDTH_SECONDS: length of each time bin.
#   HEATMAP_READ_BIN_<n>, HEATMAP_WRITE_BIN_<n>: bytes read/written in bin n.""",
}

_LUSTRE_PATTERNS = {0: "raid0", 2: "mdt", 4: "raid0,overstriped", 8: "foreign"}
_LUSTRE_FLAGS = ("stale", "prefrd", "prefwr", "offline", "init", "nosync", "extension",
                 "parity", "compress", "partial", "nocompr", "neg")


def format_log(log: Log, path: str) -> str:
    """The text darshan-parser prints for the log at `path` (whose region
    sizes are read from that file when `log` did not come from `read_log`)."""
    if not log.regions and not log.job_region_length:  # region sizes exist only in a file
        sizes = read_log(path)
        log = dataclasses.replace(log, job_region_length=sizes.job_region_length,
                                  name_region_length=sizes.name_region_length,
                                  regions=sizes.regions)
    mounts = mounts_longest_first(log.job.mounts)
    out = _job_lines(log) + _region_lines(log) + _mount_lines(mounts) + ["", _ABOUT_COLUMNS]
    for module_id, name in _modules_to_print(log):
        out += _module_lines(log, module_id, name, mounts)
    if not any(r.length for r in log.regions):
        out += ["", "# no module data available."]
    return "\n".join(out) + "\n"


def _job_lines(log: Log) -> list[str]:
    job = log.job
    lines = []
    if log.version == "3.20":
        lines.append("# WARNING: logs of format 3.20 (Darshan 3.2.0) may hold corrupted "
                     "counters, notably the common access tables.")
    lines += [
        f"# darshan log version: {log.version}",
        f"# compression method: {log.compression}",
        f"# exe: {job.exe}",
        f"# uid: {job.uid}",
        f"# jobid: {job.jobid}",
        f"# start_time: {job.start_sec}",
        f"# start_time_asci: {_ctime(job.start_sec)}",
        f"# end_time: {job.end_sec}",
        f"# end_time_asci: {_ctime(job.end_sec)}",
        f"# nprocs: {job.nprocs}",
        f"# run time: {log.run_time:.4f}",
    ]
    lines += [f"# metadata: {key} = {value}" for key, value in job.metadata.items()]
    return lines


def _ctime(seconds: int) -> str:
    """Local time as C ctime() shows it; "(null)" where ctime() would fail."""
    try:
        return time.ctime(seconds)
    except (OverflowError, ValueError, OSError):
        return "(null)"


def _region_lines(log: Log) -> list[str]:
    lines = ["", "# log file regions", _RULE,
             f"# header: {M.HEADER.itemsize} bytes (uncompressed)",
             f"# job data: {log.job_region_length} bytes (compressed)",
             f"# record table: {log.name_region_length} bytes (compressed)"]
    regions = {r.id: r for r in log.regions}
    for module_id in range(M.MAX_MODULES):
        region = regions.get(module_id)
        if region is None and not log.partial_flag >> module_id & 1:
            continue
        length, version = (region.length, region.version) if region else (0, 0)
        if module_id < len(M.MODULE_NAMES):
            what = f"{M.MODULE_NAMES[module_id]} module"
        else:
            what = f"<UNKNOWN> module (id {module_id})"
        lines.append(f"# {what}: {length} bytes (compressed), ver={version}")
    return lines


def _mount_lines(mounts: list[tuple[str, str]]) -> list[str]:
    return (["", "# mounted file systems (mount point and fs type)", _RULE]
            + [f"# mount entry:\t{point}\t{fs_type}" for point, fs_type in mounts])


def _modules_to_print(log: Log) -> Iterator[tuple[int, str]]:
    present = {r.id: r.name for r in log.regions if r.length}
    partial = {i: M.MODULE_NAMES[i] for i in range(len(M.MODULE_NAMES))
               if log.partial_flag >> i & 1}
    for module_id, name in sorted({**partial, **present}.items()):
        if name not in ("DXT_POSIX", "DXT_MPIIO"):  # traces are darshan-dxt-parser's job
            yield module_id, name


def _module_lines(log: Log, module_id: int, name: str, mounts: list[tuple[str, str]]
                  ) -> list[str]:
    title = name if module_id < len(M.MODULE_NAMES) else f"{name} (id {module_id})"
    lines = ["", _STARS, f"# {title} module data", _STARS]
    if log.partial_flag >> module_id & 1:
        lines += ["", f"# WARNING: the {name} module ran out of memory or record slots "
                      "while recording:", "#          its data below is incomplete."]
    region = next((r for r in log.regions if r.id == module_id), None)
    if region is None or not region.length:
        return lines
    if region.skipped:
        return [*lines, f"# NOTE: records not shown: {region.skipped}."]
    lines += ["", f"# description of {name} counters:", _ABOUT_MODULES[name]]
    lines += _version_notes(name, region.version)
    lines += ["", _COLUMNS]
    lines += _data_lines(log, name, mounts)
    return lines


def _version_notes(name: str, version: int) -> list[str]:
    notes = []
    if version < M.CURRENT_VERSIONS[name]:
        notes += ["", f"# NOTE: this log holds {name} records of format version {version};",
                  "#       counters that version did not have read as -1 (ids as 0)."]
    if name == "POSIX" and version == 1:
        notes += ["#       Records that also counted stdio calls cannot be converted "
                  "and are left out."]
    if name == "POSIX" and version in (2, 3):
        notes += ["#       As in darshan-util, the last float counters of converted "
                  "records read as 0."]
    if name == "POSIX" and version >= 4:
        notes += ["", "# NOTE: POSIX_OPENS counts dup()s and fileno()s too; offset-based "
                      "counters can be off",
                  "#       for files used through POSIX and STDIO at the same time."]
    return notes


# --- data lines ---

def _location(log: Log, rec_id: int, mounts: list[tuple[str, str]]) -> str:
    """`<file name>\\t<mount pt>\\t<fs type>` of a record."""
    name = log.names.get(rec_id)
    if name is None:
        return "(null)\tUNKNOWN\tUNKNOWN"
    for point, fs_type in mounts:
        if name.startswith(point):
            return f"{name}\t{point}\t{fs_type}"
    return f"{name}\tUNKNOWN\tUNKNOWN"


def _data_lines(log: Log, name: str, mounts: list[tuple[str, str]]) -> list[str]:
    if name == "HEATMAP":
        return [line for rec in log.heatmaps for line in _lines(
            name, rec.rank, rec.id, _location(log, rec.id, mounts),
            [("HEATMAP_F_BIN_WIDTH_SECONDS", f"{rec.bin_width:f}")]
            + [(f"HEATMAP_READ_BIN_{i}", v) for i, v in enumerate(rec.read_bins.tolist())]
            + [(f"HEATMAP_WRITE_BIN_{i}", v) for i, v in enumerate(rec.write_bins.tolist())])]
    if name == "LUSTRE":
        return [line for rec in log.lustre for line in _lines(
            name, rec.rank, rec.id, _location(log, rec.id, mounts), _lustre_values(rec))]
    return _fixed_lines(log, name, mounts)


def _lines(module: str, rank: int, rec_id: int, location: str,
           values: list[tuple[str, object]]) -> list[str]:
    head = f"{module}\t{rank}\t{rec_id}\t"
    return [f"{head}{counter}\t{value}\t{location}" for counter, value in values]


def _fixed_lines(log: Log, name: str, mounts: list[tuple[str, str]]) -> list[str]:
    ints, floats = M.counter_names(name), M.fcounter_names(name)
    unsigned = [i for i, n in enumerate(ints) if n in M.UNSIGNED_COUNTERS]
    records = log.records.get(name)
    lines: list[str] = []
    if records is None:
        return lines
    for rec in records:
        rec_id = int(rec["id"])
        values = rec["counters"].tolist()
        for i in unsigned:
            values[i] &= _U64
        pairs: list[tuple[str, object]] = list(zip(ints, values, strict=True))
        pairs += [(n, f"{v:f}") for n, v in zip(floats, rec["fcounters"].tolist(), strict=True)]
        if name in M.WITH_FILE_REC_ID:
            pairs.append((f"{name}_FILE_REC_ID", int(rec["file_rec_id"])))
        lines += _lines(name, int(rec["rank"]), rec_id, _location(log, rec_id, mounts), pairs)
    return lines


def _lustre_values(rec: LustreRecord) -> list[tuple[str, object]]:
    values: list[tuple[str, object]] = [("LUSTRE_NUM_COMPONENTS", len(rec.components)),
                                        ("LUSTRE_NUM_STRIPES", rec.num_stripes)]
    for k, comp in enumerate(rec.components, start=1):
        for counter, value in zip(M.LUSTRE_COMP_COUNTERS, comp.counters.tolist(), strict=True):
            label = counter.replace("LUSTRE_COMP_", f"LUSTRE_COMP{k}_", 1)
            if counter == "LUSTRE_COMP_STRIPE_PATTERN":
                value = _LUSTRE_PATTERNS.get(value & _U64, "N/A")
            elif counter == "LUSTRE_COMP_FLAGS":
                value = _lustre_flags(value)
            values.append((label, value))
        values.append((f"LUSTRE_COMP{k}_POOL_NAME", comp.pool_name or "N/A"))
        values += [(f"LUSTRE_COMP{k}_OST_ID_{j}", ost)
                   for j, ost in enumerate(comp.ost_ids.tolist())]
    return values


def _lustre_flags(flags: int) -> str:
    if flags == -1:
        return "N/A"
    names = [flag for bit, flag in enumerate(_LUSTRE_FLAGS) if flags >> bit & 1]
    return ",".join(names) or "0"
