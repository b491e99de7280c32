"""Totals of kernel records for the live views (query, top, metrics): the
few numbers a person watching a job wants, computed for many records at once."""

from __future__ import annotations

import numpy as np

from . import posix_records as P

# Columns of totals(), in order.
FIELDS = ("bytes_read", "bytes_written", "reads", "writes", "opens", "stats", "seeks",
          "fsyncs", "read_seconds", "write_seconds", "meta_seconds")
_COUNTERS = [P.C[c] for c in ("POSIX_BYTES_READ", "POSIX_BYTES_WRITTEN", "POSIX_READS",
                              "POSIX_WRITES", "POSIX_OPENS", "POSIX_STATS", "POSIX_SEEKS")]
_SYNCS = [P.C["POSIX_FSYNCS"], P.C["POSIX_FDSYNCS"]]
# Kernel durations sit at the index of the Darshan float counter they become.
_DURATIONS = [P.F[f] for f in ("POSIX_F_READ_TIME", "POSIX_F_WRITE_TIME", "POSIX_F_META_TIME")]


def totals(values: np.ndarray) -> np.ndarray:
    """One row of FIELDS per kernel record (bpf_layout.posix_record)."""
    out = np.zeros((len(values), len(FIELDS)), dtype=np.float64)
    counters = values["counters"]
    out[:, :len(_COUNTERS)] = counters[:, _COUNTERS]
    out[:, len(_COUNTERS)] = counters[:, _SYNCS].sum(axis=1)
    out[:, len(_COUNTERS) + 1:] = values["times"][:, _DURATIONS] / P.NS_PER_S
    return out


def as_dict(row: np.ndarray) -> dict[str, float | int]:
    """A totals() row (or a sum of rows) as JSON-ready numbers."""
    return {name: (round(float(v), 6) if name.endswith("seconds") else int(v))
            for name, v in zip(FIELDS, row, strict=True)}
