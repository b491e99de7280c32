"""The constants user space shares with the BPF programs (bpf_layout.py)
are the C headers' own: each is compared with the value the C compiler
gives the name in bpf/ebpf_darshan.h and the layer headers.  (The struct
layouts are checked against BTF in test_bpf_layout.py.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ebpf_darshan import bpf_layout as L

BPF = Path(__file__).resolve().parent.parent / "bpf"
HEADERS = ["ebpf_darshan.h", "stdio_layer.h", "mpiio_layer.h", "hdf5_layer.h"]
# Constants of bpf_layout.py that the C side has no name for.
PYTHON_ONLY: set[str] = set()
# C names Python mirrors in another form (a tuple with one entry each).
C_ONLY = ["X_NUM_SLOTS"]


def shared_names() -> list[str]:
    return sorted(n for n in dir(L) if n.isupper() and isinstance(getattr(L, n), int)
                  and n not in PYTHON_ONLY)


@pytest.fixture(scope="module")
def c_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Every shared name's value, printed by a program compiled against the
    headers (the compiler evaluates enums and expressions as the BPF build
    does)."""
    text = "\n".join((BPF / h).read_text() for h in HEADERS)
    names = [n for n in shared_names() if re.search(rf"\b{n}\b", text)] + C_ONLY
    src = tmp_path_factory.mktemp("contract") / "values.c"
    src.write_text("#include <stdio.h>\n#include <linux/types.h>\n"
                   + "".join(f'#include "{h}"\n' for h in HEADERS)
                   + "int main(void) {\n"
                   + "".join(f'\tprintf("{n} %lld\\n", (long long)({n}));\n' for n in names)
                   + "\treturn 0;\n}\n")
    exe = src.with_suffix("")
    subprocess.run(["gcc", f"-I{BPF}", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


def test_every_shared_constant_is_named_in_c(c_values: dict[str, int]) -> None:
    assert sorted(set(shared_names()) - set(c_values)) == []


def test_extra_keys_name_every_extra_slot(c_values: dict[str, int]) -> None:
    assert len(L.EXTRA_KEYS) == c_values["X_NUM_SLOTS"]


@pytest.mark.parametrize("name", shared_names())
def test_python_and_c_agree(c_values: dict[str, int], name: str) -> None:
    assert getattr(L, name) == c_values.get(name), name
