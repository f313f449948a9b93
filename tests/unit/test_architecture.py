"""The rooms and layers of docs/architecture.md ("Packages and what may import what"), checked against the source.

The layer table is read from the document, the rooms from the folders, the imports from every
product module (nothing is imported): a folder missing from the table, a room the table names
that does not exist, or an import that runs the wrong way fails with the file and the fix.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bionicflow.kernel.config import project_root

ROOT = project_root()
DOC = ROOT / "docs" / "architecture.md"
# the product's top-level folders besides the bionicflow package (each one room)
OUTER_ROOMS = ("bionicflow_airflow", "reports_api")
# what each layer may import besides itself, bottom to top (the document's "may import" column says the same)
ORDER = ("kernel", "roads", "platform", "stack", "applications")


def layer_table(text: str) -> dict[str, str]:
    """room → layer, from the document's markdown table `| layer | rooms | may import |`."""
    rooms: dict[str, str] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("| layer | rooms |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("|---"):
            layer, cells = [c.strip() for c in line.strip("|").split("|")][:2]
            for room in re.findall(r"`([a-z_]+)`", cells):
                assert room not in rooms, f"{DOC.name}: room {room} is in two layers"
                rooms[room] = layer
    return rooms


ROOMS = layer_table(DOC.read_text())


def room_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "bionicflow":
        return parts[1].removesuffix(".py")
    return parts[0]


def product_modules() -> list[Path]:
    found = list((ROOT / "bionicflow").rglob("*.py"))
    for outer in OUTER_ROOMS:
        found += (ROOT / outer).rglob("*.py")
    return sorted(p for p in found if p != ROOT / "bionicflow" / "__init__.py")


def imported_rooms(path: Path) -> set[str]:
    """Rooms a file imports, at any depth (function-local imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
            if node.module == "bionicflow":  # `from bionicflow import cdc`
                names = [f"bionicflow.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "bionicflow" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
            elif parts[0] in OUTER_ROOMS:
                found.add(parts[0])
    return found


def allowed(source: str, target: str) -> bool:
    """May a module of room `source` import room `target`?"""
    if source == target:
        return True
    layer, target_layer = ROOMS[source], ROOMS[target]
    if layer == "applications":
        return True
    if layer == target_layer:
        return False  # roads are siblings; every other lower layer is one room
    return ORDER.index(target_layer) < ORDER.index(layer)


def test_every_folder_is_a_room_of_the_table():
    present = {room_of(p) for p in product_modules()}
    missing = sorted(present - set(ROOMS))
    assert not missing, f"add these rooms to the layer table of {DOC.relative_to(ROOT)}: {missing}"
    gone = sorted(set(ROOMS) - present)
    assert not gone, f"{DOC.relative_to(ROOT)} names rooms that do not exist: {gone}"
    assert set(ROOMS.values()) == set(ORDER), ROOMS


def test_the_package_root_holds_folders_only():
    loose = sorted(p.name for p in (ROOT / "bionicflow").glob("*.py") if p.name != "__init__.py")
    assert not loose, f"move {loose} into the folder of its layer (docs/architecture.md)"


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    source = room_of(path)
    wrong = sorted(t for t in imported_rooms(path) if t in ROOMS and not allowed(source, t))
    assert not wrong, f"{path.relative_to(ROOT)} ({ROOMS[source]} {source}) may not import {wrong}"


@pytest.mark.parametrize("folder", ["kernel", "platform"])
def test_the_document_names_every_module_of_the_lower_rooms(folder):
    text = DOC.read_text()
    unnamed = sorted(p.stem for p in (ROOT / "bionicflow" / folder).glob("*.py")
                     if p.stem != "__init__" and f"`{p.stem}`" not in text)
    assert not unnamed, f"say what {folder}/{unnamed} hold in {DOC.relative_to(ROOT)}"


def test_the_checker_catches_imports_that_run_the_wrong_way(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bionicflow.cdc.ddl import DATABASE\n    import reports_api.main\n")
    assert imported_rooms(bad) == {"cdc", "reports_api"}
    assert not allowed("etl", "cdc") and not allowed("kernel", "etl") and not allowed("cdc", "platform")
    assert not allowed("stack", "demo") and not allowed("platform", "stack") and not allowed("olap", "reports_api")
    assert allowed("stack", "platform") and allowed("platform", "cdc") and allowed("bionicflow_airflow", "platform")


TEST_SUITES = ("integration", "faults", "dags", "unit", "support")


def _test_modules() -> list[Path]:
    return sorted(p for suite in TEST_SUITES for p in (ROOT / "tests" / suite).rglob("*.py"))


def _is_test_module(dotted: str) -> bool:
    return dotted.split(".")[-1].startswith(("test_", "conftest"))


def imported_test_modules(path: Path) -> set[str]:
    """Test modules (test_*, conftest) a file imports, however the import is spelled."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _is_test_module(a.name))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if _is_test_module(module):
                found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names if a.name.startswith(("test_", "conftest")))
    return found


@pytest.mark.parametrize("path", _test_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_imports_another(path):
    """Shared helpers and fixtures live in tests/support (or a suite's conftest), never in a test module."""
    wrong = sorted(imported_test_modules(path))
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}: move what it needs to tests/support/"


def test_the_test_import_check_sees_every_spelling(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from tests.integration import test_cdc\nimport tests.unit.reports.test_api\n"
                   "from .conftest import NOW\nfrom tests.support.rows import pg\n")
    assert imported_test_modules(bad) == {"tests.integration.test_cdc", "tests.unit.reports.test_api", ".conftest"}


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_product_modules_import_absolutely(path):
    """A relative import would hide a room crossing from the layer check above."""
    relative = [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert not relative, f"{path.relative_to(ROOT)}: relative imports on lines {relative}; import absolutely"
