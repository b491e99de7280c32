"""ebpf-darshan: Darshan I/O characterization collected transparently with eBPF.

The Python API (api.py) is reachable from here: ebpf_darshan.record(argv,
output), ebpf_darshan.attach(pid, output), `with ebpf_darshan.recording(
output) as done: ...`.  It is loaded on first use, so that the core (the
Darshan format, log building, merge) imports without the BPF extension."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

API = ("record", "attach", "recording", "RecordOptions", "Recorded", "RecordError")


def __getattr__(name: str) -> Any:
    if name in API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'ebpf_darshan' has no attribute {name!r}")
