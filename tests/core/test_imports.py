"""No import circles in core or ui: every import statement of every module (function-level ones included, since a
circle hidden inside a function is still a circle) is an edge; the graph must have no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ui")


def _modules() -> dict[str, Path]:
    """'core.gan.config' -> its file ('core.gan' -> core/gan/__init__.py)."""
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _nearest(name: str, modules: dict) -> str | None:
    """The module ``name`` lives in: itself, or its closest parent package among ``modules``."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (``from pkg import sub`` counts as pkg.sub when
    that is a module; relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [_nearest(a.name, modules) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join(here + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else _nearest(base, modules)
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t and t != name)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_sees_a_circle_hidden_in_a_function(tmp_path):
    modules = {"core.a": tmp_path / "a.py", "core.b": tmp_path / "b.py", "core.c": tmp_path / "c.py"}
    modules["core.a"].write_text("from core.b import x\n")
    modules["core.b"].write_text("def f():\n    from core import a\n    import core.c\n")
    modules["core.c"].write_text("import os\n")
    graph = {n: imports_of(n, p, modules) for n, p in modules.items()}
    assert graph == {"core.a": {"core.b"}, "core.b": {"core.a", "core.c"}, "core.c": set()}
    assert find_cycles(graph) == [["core.a", "core.b"]]
    assert find_cycles({"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package):
    modules = _modules()
    graph = {n: imports_of(n, p, modules) for n, p in modules.items()}
    cycles = [c for c in find_cycles(graph) if any(m.split(".")[0] == package for m in c)]
    assert not cycles, "import circles (move the shared names to a module below them): " + "; ".join(
        " <-> ".join(c) for c in cycles)
