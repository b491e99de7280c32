"""The two build steps pyproject.toml cannot describe: the BPF objects
(clang, into the package) and the cffi extension over libbpf.  Everything
else about the package is in pyproject.toml."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithBpf(build_py):
    """Compile bpf/*.bpf.c into src/ebpf_darshan/bpf before packaging."""

    def run(self) -> None:
        subprocess.run(
            ["make", "-C", str(ROOT / "bpf"), f"OUT={ROOT / 'src/ebpf_darshan/bpf'}"],
            check=True,
        )
        super().run()


setup(
    cffi_modules=["csrc/build_shim.py:ffibuilder"],
    cmdclass={"build_py": BuildWithBpf},
)
