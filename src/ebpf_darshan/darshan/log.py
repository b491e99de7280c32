"""The in-memory form of a Darshan log: what `write_log` takes and `read_log` returns.

Fixed-size module records are numpy structured arrays (dtypes from
`modules.record_dtype`); the variable-size modules (HEATMAP, DXT_*, LUSTRE)
are lists of small dataclasses holding numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import modules as M

NS_PER_S = 1_000_000_000
LOG_VERSION = "3.41"


@dataclass
class Job:
    """Job-level data. Times are absolute epoch nanoseconds."""
    uid: int
    start_ns: int
    end_ns: int
    nprocs: int
    jobid: int
    metadata: dict[str, str] = field(default_factory=dict)
    exe: str = ""
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (mount point, fs type)

    @property
    def start_sec(self) -> int:
        return self.start_ns // NS_PER_S

    @property
    def end_sec(self) -> int:
        return self.end_ns // NS_PER_S


def mounts_longest_first(mounts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Mount table order of darshan-util: longest mount point first (stable),
    so the first prefix match of a record name is its file system."""
    return sorted(mounts, key=lambda m: -len(m[0].encode("utf-8")))


@dataclass
class HeatmapRecord:
    """Bytes read/written per time bin of one API (`heatmap:<API>`) in one rank."""
    id: int
    rank: int
    bin_width: float  # seconds
    write_bins: np.ndarray  # int64, one per bin
    read_bins: np.ndarray  # int64, one per bin

    @property
    def nbins(self) -> int:
        return len(self.write_bins)


@dataclass
class DxtRecord:
    """Trace of one file in one rank: segments of dtype `modules.DXT_SEGMENT`."""
    id: int
    rank: int
    hostname: str
    write_segments: np.ndarray
    read_segments: np.ndarray
    shared_record: int = 0


@dataclass
class LustreComponent:
    counters: np.ndarray  # int64, named by modules.LUSTRE_COMP_COUNTERS
    pool_name: str
    ost_ids: np.ndarray  # int64, LUSTRE_COMP_STRIPE_COUNT of them


@dataclass
class LustreRecord:
    id: int
    rank: int
    components: list[LustreComponent]

    @property
    def num_stripes(self) -> int:
        return sum(len(c.ost_ids) for c in self.components)


@dataclass
class ModuleRegion:
    """A module's region as found in a log (reader only)."""
    id: int
    name: str  # "<UNKNOWN>" for ids this package has no name for
    version: int
    length: int  # compressed bytes
    skipped: str = ""  # why the records were not read, empty if they were


@dataclass
class Log:
    job: Job
    names: dict[int, str]
    records: dict[str, np.ndarray] = field(default_factory=dict)  # fixed modules by name
    heatmaps: list[HeatmapRecord] = field(default_factory=list)
    dxt: dict[str, list[DxtRecord]] = field(default_factory=dict)  # "DXT_POSIX"/"DXT_MPIIO"
    lustre: list[LustreRecord] = field(default_factory=list)
    partial_flag: int = 0
    version: str = LOG_VERSION
    compression: str = "ZLIB"
    # Filled by the reader: compressed sizes of the job and name regions and
    # every module region present in the file (ascending id).
    job_region_length: int = 0
    name_region_length: int = 0
    regions: list[ModuleRegion] = field(default_factory=list)

    @property
    def run_time(self) -> float:
        """Seconds, as darshan-util computes it: exact for 3.41, end-start+1 before."""
        job = self.job
        if _version_tuple(self.version) >= (3, 41):
            # same double arithmetic as darshan-util, so the values agree exactly
            end = job.end_sec + (job.end_ns - job.end_sec * NS_PER_S) / 1e9
            start = job.start_sec + (job.start_ns - job.start_sec * NS_PER_S) / 1e9
            return end - start
        return float(job.end_sec - job.start_sec + 1)

    def partial(self, module: str) -> bool:
        return bool(self.partial_flag >> M.MODULE_IDS[module] & 1)


def _version_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor)
