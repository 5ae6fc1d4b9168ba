"""The package's shape: no import cycles, so every module can be imported (and read) on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "watcher"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Modules of the package imported at the top level, TYPE_CHECKING blocks included."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
                found.update(subs)
                if len(subs) < len(node.names):
                    found.add(node.module)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found & MODULES.keys()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            if comp:
                out.append(sorted([v, *comp]))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_module_imports_itself_back_even_for_type_checking() -> None:
    """``app`` ↔ ``server`` and the lazy imports "to avoid a cycle" are gone, and stay gone."""
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    assert [] == _cycles(graph)


def test_the_cycle_check_sees_a_cycle() -> None:
    """The check itself finds a two-module cycle (so the test above can fail)."""
    assert [["a", "b"]] == _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})


@pytest.mark.parametrize("name", ["watcher.page", "watcher.server.views", "watcher.notify.slack"])
def test_modules_that_used_to_be_in_a_cycle_import_on_their_own(name: str) -> None:
    """Imported first in a fresh interpreter, each loads without the others' help."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, check=False
    )
    assert 0 == done.returncode, done.stderr


#: Lines a module may have: past this it holds more than one concern (the style guide's ~400).
MAX_MODULE_LINES = 400


def test_no_module_is_over_about_400_lines() -> None:
    """Each module stays small enough to read in one sitting; a longer one is split on a seam."""
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert {} == long
