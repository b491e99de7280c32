"""h5py workload with known calls (tests/test_hdf5.py): h5py loads its own
libhdf5 with dlopen at import.  usage: h5py_rw.py FILE [wait]
With `wait` it says "ready" and waits for a line on stdin before importing
h5py: a process that loads the library after a recorder attached."""

import sys

if sys.argv[2:] == ["wait"]:
    print("ready", flush=True)
    sys.stdin.readline()

import h5py
import numpy as np

with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", data=np.arange(100, dtype=np.int32))
    f["x"][10:20] = np.zeros(10, dtype=np.int32)
    f.create_group("g").create_dataset("y", data=np.ones(8))
    f.flush()
with h5py.File(sys.argv[1], "r") as f:
    assert f["x"][15] == 0
    assert f["g/y"][()].sum() == 8
