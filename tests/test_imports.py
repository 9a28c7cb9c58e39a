"""The import graph: layers import one way only (DESIGN.md, "Layers": circuits <-
transformer_sim <- proofs <- CLI) and no two modules import each other, directly or
round a longer loop, at module level or inside a function.

Read from the source with `ast`, so a lazy import inside a function counts too: it is
still a circle for whoever reads the code.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("circuits", "transformer_sim", "proofs", "cotsim")
#: a package may import only the packages before it in this order
LAYERS = {p: set(PACKAGES[:i]) for i, p in enumerate(PACKAGES)}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            parts = f.relative_to(REPO).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The modules (of ``mods``, or top-level packages) that ``name`` imports anywhere."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            for a in node.names:  # `from pkg import mod` imports the module pkg.mod
                out.add(f"{root}.{a.name}" if f"{root}.{a.name}" in mods else root)
    return {m for m in out if m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(g) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_import_one_way(package):
    bad = sorted((m, t) for m, targets in _graph().items() if m.split(".")[0] == package
                 for t in targets
                 if t.split(".")[0] in PACKAGES and t.split(".")[0] != package
                 and t.split(".")[0] not in LAYERS[package])
    assert bad == []
