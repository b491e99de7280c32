"""The numpy dtypes in bpf_layout.py mirror the C structs byte for byte: the
BTF of the built BPF objects is the judge."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from ebpf_darshan import bpf_layout as L

pytest.importorskip("ebpf_darshan._shim", reason="the BPF extension is not built (make setup)")
from ebpf_darshan.binding import object_path
from ebpf_darshan.layers.catalog import ALL_LAYERS
from ebpf_darshan.tracer import Tracer, TracerOptions

pytestmark = pytest.mark.kernel  # root, BTF and the BPF objects

STRUCT = re.compile(r"^\[\d+\] STRUCT '(\w+)' size=(\d+) vlen=\d+$")
MEMBER = re.compile(r"^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)")


def btf_structs(obj: str) -> dict[str, tuple[int, dict[str, int]]]:
    raw = subprocess.run(["bpftool", "btf", "dump", "file", str(object_path(obj)), "format",
                          "raw"], check=True, capture_output=True, text=True).stdout
    structs: dict[str, tuple[int, dict[str, int]]] = {}
    current = None
    for line in raw.splitlines():
        m = STRUCT.match(line)
        if m:
            current = {}
            structs[m.group(1)] = (int(m.group(2)), current)
            continue
        m = MEMBER.match(line)
        if m and current is not None:
            current[m.group(1)] = int(m.group(2)) // 8
        elif not line.startswith(("\t", " ")):
            current = None
    return structs


OBJECTS = tuple(sorted(path.name for path in object_path("").glob("*.bpf.o")))


@pytest.fixture(scope="module")
def object_structs() -> dict[str, dict[str, tuple[int, dict[str, int]]]]:
    return {obj: btf_structs(obj) for obj in OBJECTS}


@pytest.mark.parametrize("name, dtype", [("file_key", L.file_key), ("task_state", L.task_state),
                                         ("event", L.event), ("posix_record", L.posix_record),
                                         ("value_slot", L.value_slot),
                                         ("stdio_record", L.stdio_record),
                                         ("mpiio_record", L.mpiio_record),
                                         ("h5f_record", L.h5f_record),
                                         ("h5d_record", L.h5d_record),
                                         ("h5_shape", L.h5_shape),
                                         ("mpiio_handle_key", L.mpiio_handle_key),
                                         ("h5_id_key", L.h5_id_key),
                                         ("h5_object", L.h5_object),
                                         ("io_segment", L.io_segment),
                                         ("heatmap_bin", L.heatmap_bin),
                                         ("heatmap_row", L.heatmap_row),
                                         ("proc_heatmap", L.proc_heatmap)])
def test_dtype_matches_btf(object_structs: dict, name: str, dtype: np.dtype) -> None:
    """In every object that uses the struct, and at least one does."""
    users = [structs[name] for structs in object_structs.values() if name in structs]
    assert users, f"no BPF object uses struct {name}"
    for size, members in users:
        assert dtype.itemsize == size
        assert {field: dtype.fields[field][1] for field in members} == members


def test_every_object_is_checked() -> None:
    assert {"lifecycle.bpf.o", "posix.bpf.o", "posix_compat.bpf.o", "posix_uring.bpf.o",
            "stdio.bpf.o", "mpiio.bpf.o", "hdf5.bpf.o"} <= set(OBJECTS)


def test_this_kernel_takes_the_fast_objects_with_every_program() -> None:
    """The fallbacks exist for other kernels; here a fallback means a
    program the verifier started refusing."""
    tracer = Tracer(TracerOptions(dxt=True, layers=[layer() for layer in ALL_LAYERS]))
    try:
        assert tracer.off == []
        assert not [name for name in tracer.loaded if "_compat" in name]
        assert len(tracer.layers) == len(ALL_LAYERS)
    finally:
        tracer.close()
