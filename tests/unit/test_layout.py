"""The shape of functions/: packages import downwards only (no cycles), domain modules raise their own
exceptions (the error map alone speaks HTTP), and constructing the app starts no thread."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "functions"
UPPER = {"functions.app", "functions.middleware", "functions.services", "functions.handlers",
         "functions.serve", "functions.api"}
OWN_EXCEPTIONS = ["limits/__init__.py", "moderation/__init__.py", "tts/single_flight.py", "queues/__init__.py"]


def _imports(path: Path) -> set[str]:
    """functions.* modules a file imports at module level (lazy imports inside functions are deliberate)."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    package = parts if path.name == "__init__.py" else parts[:-1]
    package = package[:-1] if package[-1] == "__init__" else package
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            if name.startswith("functions"):
                found.add(name)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("").parts
        me = _package(".".join(p for p in rel if p != "__init__"))
        graph.setdefault(me, set()).update(_package(m) for m in _imports(path) if _package(m) != me)
    return graph


def test_packages_import_downwards_only():
    graph = _graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    cycles = sorted(p for p in graph if reaches(p, p, set()))
    assert not cycles
    lower = {p: deps & UPPER for p, deps in graph.items() if p not in UPPER and p != "functions"}
    assert not {p: d for p, d in lower.items() if d}  # nothing below the app reaches back up into it


@pytest.mark.parametrize("name", OWN_EXCEPTIONS)
def test_domain_modules_raise_their_own_exceptions(name):
    assert "functions.errors" not in _imports(ROOT / name)


def test_building_the_app_starts_no_thread(unit_app):
    before = threading.active_count()
    app = unit_app(worker_threads=2)  # the factory starts workers as a host would; the app itself does not
    assert threading.active_count() == before + 2
    from functions.app import App

    App(app.services)
    assert threading.active_count() == before + 2
