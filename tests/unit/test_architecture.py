"""The packages' allowed imports (docs/architecture.md, "Packages"): the kernel under the roads, the roads
siblings, the stack above them, the applications on top. Read from the source, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bionicflow.config import project_root

ROOT = project_root()
# layer of each top-level module of bionicflow (and of the apps outside it)
KERNEL = {"kernel", "config", "errors", "cluster_ddl", "airflow_api", "dag_defaults"}
ROADS = {"cdc", "etl", "reconcile", "reports", "olap", "schema_drift"}
STACK = {"stack"}
APPS = {"demo", "cli", "bootstrap"}


def _layer(module: str) -> str:
    return ("kernel" if module in KERNEL else "road" if module in ROADS else "stack" if module in STACK
            else "app" if module in APPS else "unknown")


def _allowed(source: str, target: str) -> bool:
    """May top-level module `source` import `target`?"""
    if source == target:
        return True
    layer, target_layer = _layer(source), _layer(target)
    return {"kernel": target_layer == "kernel",
            "road": target_layer == "kernel",  # roads are siblings: none imports another
            "stack": target_layer in ("kernel", "road"),
            "app": True}[layer]


def _bionicflow_imports(path: Path) -> set[str]:
    """Top-level bionicflow modules a file imports, at any depth (function-local imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "bionicflow" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] == "bionicflow" and isinstance(node, ast.ImportFrom):
                found.update(a.name for a in node.names)
    return found


def _modules() -> list[tuple[str, Path]]:
    package = ROOT / "bionicflow"
    out = []
    for path in sorted(package.rglob("*.py")):
        top = path.relative_to(package).parts[0].removesuffix(".py")
        if top != "__init__":
            out.append((top, path))
    return out


def test_every_module_has_a_layer():
    unknown = sorted({top for top, _ in _modules() if _layer(top) == "unknown"})
    assert not unknown, f"give these modules a layer in tests/unit/test_architecture.py: {unknown}"


@pytest.mark.parametrize("top, path", _modules(), ids=lambda v: str(v).rsplit("bionicflow/", 1)[-1])
def test_imports_follow_the_layers(top, path):
    wrong = sorted(t for t in _bionicflow_imports(path) if not _allowed(top, t))
    assert not wrong, f"{path.relative_to(ROOT)} ({_layer(top)} {top}) may not import {wrong}"


def test_the_checker_catches_a_road_importing_a_sibling(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bionicflow.cdc.schema import DATABASE\n")
    assert not _allowed("etl", next(iter(_bionicflow_imports(bad))))
    assert _allowed("stack", "cdc") and not _allowed("stack", "demo") and not _allowed("kernel", "etl")
