"""The package's layers, checked on its source: the core (the Darshan
format, log building, ranks, reductions, merge, heatmap and DXT arithmetic)
imports nothing of the kernel side (the libbpf shim, the tracer, the layers'
probes, the node daemon), and no module imports itself through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ebpf_darshan"
# Modules that need the compiled extension or a kernel, directly or not.
KERNEL_SIDE = {"ebpf_darshan._shim", "ebpf_darshan.binding", "ebpf_darshan.tracer",
               "ebpf_darshan.object_loader", "ebpf_darshan.verifier_report",
               "ebpf_darshan.library_probes", "ebpf_darshan.scope",
               "ebpf_darshan.layers.catalog", "ebpf_darshan.layers.stdio",
               "ebpf_darshan.layers.mpiio", "ebpf_darshan.layers.hdf5"}
CORE = ["ebpf_darshan.darshan", "ebpf_darshan.bpf_layout", "ebpf_darshan.log_builder",
        "ebpf_darshan.posix_records", "ebpf_darshan.ranks", "ebpf_darshan.shared_reduction",
        "ebpf_darshan.merge", "ebpf_darshan.heatmap", "ebpf_darshan.dxt",
        "ebpf_darshan.timelines", "ebpf_darshan.recorder", "ebpf_darshan.names",
        "ebpf_darshan.job", "ebpf_darshan.mounts", "ebpf_darshan.layers.base",
        "ebpf_darshan.verifier_log", "ebpf_darshan.cli", "ebpf_darshan.cli.parse",
        "ebpf_darshan.cli.merge"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Modules of the package that path imports when it is imported (not
    under `if TYPE_CHECKING:` and not inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("ebpf_darshan"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ebpf_darshan"))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    out = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            while imported and imported not in modules and imported != "ebpf_darshan._shim":
                imported = imported.rpartition(".")[0]  # `from pkg import name`: a name
            if imported and imported != name:
                targets.add(imported)
        # importing a submodule runs its package's __init__ first
        parent = name.rpartition(".")[0]
        if parent and parent != "ebpf_darshan":
            targets.add(parent)
        out[name] = targets
    return out


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_nothing_of_the_kernel_side(graph: dict[str, set[str]],
                                                     module: str) -> None:
    assert module in graph
    assert not reachable(graph, module) & KERNEL_SIDE


def ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    """A module reaching its own package is no circle: the package is
    being imported already when its modules run."""
    modules = {m: targets - ancestors(m) for m, targets in graph.items()}
    circles = sorted(m for m in modules if m in reachable(modules, m))
    assert not circles


def test_the_contract_sees_a_violation(graph: dict[str, set[str]]) -> None:
    """The checks above would notice: the kernel side does reach the shim."""
    assert "ebpf_darshan._shim" in reachable(graph, "ebpf_darshan.tracer")
    assert "ebpf_darshan.binding" in reachable(graph, "ebpf_darshan.cli.record")


def test_parse_and_merge_work_without_the_extension(tmp_path: Path) -> None:
    """In a copy of the package without the compiled shim or the BPF
    objects, as a machine that never built them has it: the core imports,
    and `parse` and `merge` run."""
    import shutil

    import darshan

    copy = tmp_path / "ebpf_darshan"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("_shim*", "bpf"))
    sample = sorted((Path(darshan.__file__).parent / "tests" / "input").glob("*.darshan"))[0]
    env = {"PYTHONPATH": f"{tmp_path}:{Path(darshan.__file__).parent.parent}",
           "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                              text=True, env=env)

    code = ("import sys, ebpf_darshan.log_builder, ebpf_darshan.merge, ebpf_darshan.cli; "
            "assert not [m for m in sys.modules if m.endswith(('_shim', 'binding', 'tracer'))]")
    done = run("-c", code)
    assert done.returncode == 0, done.stderr
    parsed = run("-m", "ebpf_darshan", "parse", str(sample))
    assert parsed.returncode == 0 and "# darshan log version" in parsed.stdout, parsed.stderr
    merged = run("-m", "ebpf_darshan", "merge", "-o", str(tmp_path / "m.darshan"), str(sample))
    assert merged.returncode == 0, merged.stderr
    again = run("-m", "ebpf_darshan", "parse", str(tmp_path / "m.darshan"))
    assert again.returncode == 0 and "# darshan log version" in again.stdout, again.stderr


def test_tests_run_this_working_tree() -> None:
    """The package the tests import is this checkout's (an editable
    install), never a stale installed copy."""
    import ebpf_darshan

    assert Path(ebpf_darshan.__file__).resolve().parent == PACKAGE
