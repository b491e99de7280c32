"""Build: the BPF objects (clang) go into the package; the libbpf shim is a
cffi extension module."""

import subprocess
from pathlib import Path

from setuptools import find_packages, setup
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
    name="ebpf-darshan",
    version="0.1.0",
    description="Darshan I/O characterization with eBPF: no relinking, genuine Darshan logs",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"ebpf_darshan": ["bpf/*.bpf.o"]},
    python_requires=">=3.9",
    install_requires=["cffi>=1.15", "numpy>=1.22", "darshan>=3.4", "prometheus_client>=0.14",
                      "rich>=12"],
    setup_requires=["cffi>=1.15"],
    cffi_modules=["csrc/build_shim.py:ffibuilder"],
    cmdclass={"build_py": BuildWithBpf},
    entry_points={"console_scripts": ["ebpf-darshan=ebpf_darshan.cli:main"]},
)
