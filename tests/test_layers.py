"""No module imports upward: each package of vtwin imports only the layers below it.

The allowed imports are the architecture of ``docs/architecture.md`` written down; every
``import vtwin.x`` / ``from vtwin.x import …`` in the source, at module level or inside a
function (lazy imports count too), is checked against them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vtwin"

LEAVES = {"arrays", "seeding", "devices", "config", "cliutil", "layout", "episode", "atomicio"}
"""Modules with no vtwin imports of their own (config reads only its presets)."""

ALLOWED: dict[str, set[str]] = {
    "physics": {"arrays"},
    "data": {"arrays", "physics"},
    "world": {"arrays", "config", "data", "physics", "seeding"},
    "planning": {"arrays", "config", "physics", "seeding", "world"},
    "rewards": {"arrays", "config"},
    "forecast": {"arrays", "atomicio", "config", "data", "devices", "seeding"},
    "envs": {"arrays", "config", "data", "forecast", "layout", "physics", "planning", "rewards"}
    | {"seeding", "world"},
    "agents": {"arrays", "config", "devices", "layout", "seeding"},
    "training": {"agents", "arrays", "config", "devices", "envs", "episode", "layout", "seeding"}
    | {"atomicio"},
    "viz": {"arrays", "config", "data", "episode", "physics", "world"},
    "experiments": {
        "agents",
        "arrays",
        "atomicio",
        "config",
        "data",
        "devices",
        "envs",
        "forecast",
        "layout",
        "physics",
        "planning",
        "rewards",
        "seeding",
        "training",
        "viz",
        "world",
    },
    "reward_design": {"config", "envs", "experiments", "rewards"},
    "interop": {"agents", "arrays", "config", "envs", "forecast", "rewards", "training"},
    "__init__": {"envs"},
}
"""Package → the vtwin packages it may import (its own is always allowed)."""

CLI_MODULES = {"cli.py", "forecast/cli.py", "experiments/cli.py", "reward_design/cli.py"}
"""Command-line front ends: they sit on top and may import anything."""


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _vtwin_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found |= {n.split(".")[1] for n in names if n.startswith("vtwin.")}
    return found


SOURCES = sorted(SRC.rglob("*.py"))


def test_every_package_has_a_rule() -> None:
    packages = {_package(p) for p in SOURCES}
    assert packages <= set(ALLOWED) | LEAVES | {"cli"}, packages - set(ALLOWED) - LEAVES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_import(path: Path) -> None:
    if str(path.relative_to(SRC)) in CLI_MODULES:
        return
    package = _package(path)
    allowed = set() if package in LEAVES else ALLOWED[package]
    wrong = _vtwin_imports(path) - allowed - {package}
    assert not wrong, f"{path.relative_to(SRC)} ({package}) imports {sorted(wrong)}"
