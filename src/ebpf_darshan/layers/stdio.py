"""The STDIO layer: uprobes on libc's stream functions (bpf/stdio.bpf.c),
written as Darshan's STDIO module."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from .. import bpf_layout as L
from ..darshan import modules as M, record_id
from .base import KernelMap, LayerRecords, LayerResult, LibraryLayer, Probe, Tables

if TYPE_CHECKING:
    from ..recorder import Recording

STDIO = "STDIO"
C = {name: i for i, name in enumerate(M.counter_names(STDIO))}
DTYPE = M.record_dtype(STDIO)
MAX_RECORDS = 4096
NS_PER_S = 1e9
STD_NAMES = {0: "<STDIN>", 1: "<STDOUT>", 2: "<STDERR>"}


def _probe(function: str, op: int, stream_arg: int) -> Probe:
    """stream_arg: which argument (1-4) is the FILE *; 0 means stdout."""
    return Probe(function, "stdio_enter", "stdio_exit", op | (stream_arg << 8))


def _probes(op: int, stream_arg: int, *functions: str) -> tuple[Probe, ...]:
    return tuple(_probe(f, op, stream_arg) for f in functions)


# Every function Darshan wraps, the unlocked variants, getline/getdelim and
# the fortified printf family it misses, and (SIO_INSIDE) stream functions that make system calls
# Darshan never sees: probed only so POSIX does not count those calls.
# exit() flushes the streams and never returns: the rest of the process's
# system calls are stdio's.
# Aliases (fopen64, _IO_putc, ...) resolve to one address, probed once.
PROBES: tuple[Probe, ...] = (
    _probes(L.SIO_OPEN, 0, "fopen", "fopen64")
    + _probes(L.SIO_REOPEN, 3, "freopen", "freopen64")
    + _probes(L.SIO_FDOPEN, 0, "fdopen")
    + _probes(L.SIO_CLOSE, 1, "fclose")
    + _probes(L.SIO_FLUSH, 1, "fflush", "fflush_unlocked")
    + _probes(L.SIO_WRITE_ITEMS, 4, "fwrite", "fwrite_unlocked")
    + _probes(L.SIO_WRITE_CHAR, 2, "fputc", "putc", "_IO_putc", "putc_unlocked",
              "fputc_unlocked")
    + _probes(L.SIO_WRITE_WORD, 2, "putw")
    + _probes(L.SIO_WRITE_STRING, 2, "fputs", "fputs_unlocked")
    + _probes(L.SIO_WRITE_FORMAT, 1, "fprintf", "vfprintf")
    + _probes(L.SIO_WRITE_FORMAT, 0, "printf", "vprintf")
    # their _FORTIFY_SOURCE forms (a flag argument before the format)
    + _probes(L.SIO_WRITE_FORMAT, 1, "__fprintf_chk", "__vfprintf_chk")
    + _probes(L.SIO_WRITE_FORMAT, 0, "__printf_chk", "__vprintf_chk")
    + _probes(L.SIO_READ_ITEMS, 4, "fread", "fread_unlocked")
    + _probes(L.SIO_READ_CHAR, 1, "fgetc", "getc", "_IO_getc", "getc_unlocked",
              "fgetc_unlocked")
    + _probes(L.SIO_READ_WORD, 1, "getw")
    + _probes(L.SIO_READ_STRING, 3, "fgets", "fgets_unlocked")
    + _probes(L.SIO_READ_FORMAT, 1, "fscanf", "__isoc99_fscanf", "__isoc23_fscanf",
              "vfscanf", "__isoc99_vfscanf", "__isoc23_vfscanf")
    + _probes(L.SIO_READ_DELIM, 3, "getline")
    + _probes(L.SIO_READ_DELIM, 4, "getdelim", "__getdelim")
    + _probes(L.SIO_SEEK, 1, "fseek", "fseeko", "fseeko64", "fsetpos", "fsetpos64")
    + _probes(L.SIO_REWIND, 1, "rewind")
    + _probes(L.SIO_INSIDE, 1, "ftell", "ftello", "ftello64", "fgetpos", "fgetpos64",
              "puts", "putchar", "putchar_unlocked", "getchar", "getchar_unlocked",
              "ungetc", "setvbuf", "exit")
)


class StdioLayer(LibraryLayer):
    name = "stdio"
    layer_id = L.LAYER_STDIO
    bpf_object = "stdio.bpf.o"
    hold_prefix = "libc.so"
    library = re.compile(r"libc\.so\.6|libc-[0-9.]+\.so")
    probes = PROBES
    description = "STDIO module: fopen/fread/fwrite/fprintf... through uprobes on libc"

    record_maps = (KernelMap("stdio_records", L.file_key, L.stdio_record, MAX_RECORDS),)

    def result(self, tables: Tables) -> StdioResult:
        return StdioResult(*tables[0])


class StdioResult(LayerResult):
    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys = keys
        self.values = values

    def procs(self) -> set[int]:
        return {int(p) for p, used in zip(self.keys["proc"], self._used(), strict=True) if used}

    def _used(self) -> np.ndarray:
        """Darshan drops stdin/stdout/stderr records nothing was read from
        or written to."""
        counters = self.values["counters"]
        touched = (counters[:, C["STDIO_READS"]] > 0) | (counters[:, C["STDIO_WRITES"]] > 0)
        used: np.ndarray = (self.keys["dev"] != L.STD_STREAM_DEV) | touched
        return used

    def _name(self, rec: Recording, key: np.void) -> str | None:
        if int(key["dev"]) == L.STD_STREAM_DEV:
            return STD_NAMES.get(int(key["ino"]))
        k = (int(key["proc"]), int(key["dev"]), int(key["ino"]))
        return rec.layer_names.get(L.LAYER_STDIO, {}).get(k) or rec.names.get(k)

    def records(self, rec: Recording, rank_of: dict[int, int]) -> LayerRecords:
        out = LayerRecords()
        rows: dict[tuple[int, str], np.void] = {}
        owners = out.owners.setdefault(L.DARSHAN_STDIO_MOD, {})
        unnamed = 0
        for key, value, used in zip(self.keys, self.values, self._used(), strict=True):
            name = self._name(rec, key)
            if not used or (name is not None and rec.path_filter.excluded(name)):
                continue
            if name is None:
                unnamed += 1
                continue
            row = _from_kernel(value, rec.start_ktime)
            row["id"] = record_id(name)
            row["rank"] = rank_of[int(key["proc"])]
            if int(key["dev"]) == L.STD_STREAM_DEV:
                row["counters"][C["STDIO_OPENS"]] += 1  # Darshan's open at startup
            slot = (int(key["proc"]), name)
            rows[slot] = _reduce(rows[slot], row) if slot in rows else row
            owners[(slot[0], int(key["dev"]), int(key["ino"]))] = (int(row["rank"]), name)
            out.names[int(row["id"])] = name
        if rows:
            out.modules[STDIO] = np.array(list(rows.values()), dtype=DTYPE)
        if unnamed:
            out.lost["lost_stdio_names"] = unnamed
        return out


def _from_kernel(value: np.void, start_ktime: int) -> np.void:
    row: np.void = np.zeros(1, dtype=DTYPE)[0]
    row["counters"][:L.STDIO_KERNEL_COUNTERS] = value["counters"]
    times = value["times"].astype(np.float64)
    stamps = times[L.STDIO_TIMESTAMPS]
    times[L.STDIO_TIMESTAMPS] = np.where(stamps > 0, (stamps - start_ktime) / NS_PER_S, 0.0)
    times[L.STDIO_DURATIONS] /= NS_PER_S
    row["fcounters"][:L.ST_NUM_TIMES] = times
    return row


# Darshan's STDIO reduction (spec 3.3): sums, max offsets, earliest
# starts, latest ends.
_SUMMED = slice(0, C["STDIO_MAX_BYTE_READ"])
_MAXED = slice(C["STDIO_MAX_BYTE_READ"], C["STDIO_MAX_BYTE_WRITTEN"] + 1)


def _reduce(a: np.void, b: np.void) -> np.void:
    """One process's two records of one name (two files that had it)."""
    out = a.copy()
    out["counters"][_SUMMED] += b["counters"][_SUMMED]
    out["counters"][_MAXED] = np.maximum(a["counters"][_MAXED], b["counters"][_MAXED])
    out["fcounters"][L.STDIO_DURATIONS] += b["fcounters"][L.STDIO_DURATIONS]
    starts, ends = slice(3, 7), slice(7, 11)
    sa, sb = a["fcounters"][starts], b["fcounters"][starts]
    out["fcounters"][starts] = np.where((sa > 0) & ((sb == 0) | (sa < sb)), sa, sb)
    out["fcounters"][ends] = np.maximum(a["fcounters"][ends], b["fcounters"][ends])
    return out
