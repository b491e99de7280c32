"""cffi build script for ebpf_darshan._shim (referenced from setup.py)."""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef((HERE / "shim.h").read_text())
ffibuilder.set_source(
    "ebpf_darshan._shim",
    '#include "shim.h"',
    sources=["csrc/shim.c"],
    include_dirs=["csrc", "bpf"],
    libraries=["bpf", "elf"],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
