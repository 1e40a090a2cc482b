"""The package's import graph, read from the source (no module is run): no circle among
inferwatch's modules, and no import from a lower floor to a higher one
(lake < runs < ingest < metrics, quality < alerts < jobs < cli).

Only imports that run when a module loads count: an import inside a function runs when
it is called (that is how cli reaches the jobs, and the jobs reach Spark), and one under
`if TYPE_CHECKING:` never runs.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inferwatch

ROOT = Path(inferwatch.__file__).resolve().parent

# The floors, lowest first; a module not listed (config, errors, context, ...) is
# checked for circles only.
FLOORS = (("inferwatch.lake",), ("inferwatch.runs",), ("inferwatch.ingest",),
          ("inferwatch.metrics", "inferwatch.quality"), ("inferwatch.alerts",),
          ("inferwatch.jobs",), ("inferwatch.cli",))


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under `root`, by dotted name (a package by its own)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _load_time(body: list[ast.stmt]):
    """The import statements among `body` that run at import: not in a function, not
    under `if TYPE_CHECKING`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = node.test
            checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
            if not checking:
                yield from _load_time(node.body)
            yield from _load_time(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse,
                          node.finalbody):
                yield from _load_time(block)
        elif isinstance(node, ast.With):
            yield from _load_time(node.body)


def graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports at load time. `from a import b` counts
    as importing the module a.b when there is one, else a."""
    known = modules(root, package)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _load_time(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            base = node.module or ""
            if node.level:  # relative: from the package `level - 1` above this one
                anchor = here.split(".")[:len(here.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
        edges[name] = {t for t in targets if t in known and t != name}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def floor(name: str) -> int | None:
    for level, prefixes in enumerate(FLOORS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return level
    return None


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Every load-time import from a floor to a higher one, as 'a -> b'."""
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                  if floor(a) is not None and floor(b) is not None and floor(b) > floor(a))


def test_no_import_circle_in_the_package():
    edges = graph(ROOT, "inferwatch")
    assert len(edges) > 100  # the whole package was read
    found = cycle(edges)
    assert found is None, "import circle: " + " -> ".join(found)


def test_no_import_runs_from_a_lower_floor_to_a_higher_one():
    assert upward(graph(ROOT, "inferwatch")) == []


@pytest.fixture()
def package(tmp_path) -> Path:
    """A small package: a -> b -> c -> a at load time; d imports a in a function and c
    under TYPE_CHECKING; lake/x.py imports jobs at load time."""
    root = tmp_path / "inferwatch"
    (root / "lake").mkdir(parents=True)
    (root / "jobs").mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from inferwatch import b\n",
        "b.py": "from . import c\n",
        "c.py": "import inferwatch.a\n",
        "d.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from inferwatch"
                 " import c\n\ndef f():\n    from inferwatch import a\n"),
        "lake/__init__.py": "",
        "lake/x.py": "from ..jobs import run\n",
        "jobs/__init__.py": "from inferwatch.lake import x\n",
        "jobs/run.py": "",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_checks_find_a_circle_and_an_upward_import(package):
    edges = graph(package, "inferwatch")
    assert edges["inferwatch.d"] == set()
    assert edges["inferwatch.lake.x"] == {"inferwatch.jobs.run"}
    assert cycle(edges) == ["inferwatch.a", "inferwatch.b", "inferwatch.c", "inferwatch.a"]
    assert upward(edges) == ["inferwatch.lake.x -> inferwatch.jobs.run"]
    del edges["inferwatch.c"]
    assert cycle(edges) is None
