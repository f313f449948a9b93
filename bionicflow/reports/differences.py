"""Field-by-field differences between the same report built from two schemas (pure logic)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB

# Fields that differ by nature between two builds, shown side by side but not compared.
NOT_COMPARED = frozenset({"schema", "generated_at", "freshness", "computed_from"})
MISSING = "(missing)"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Paths to leaves; list items are named by their first field (`daily[2026-11-01].events`)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if prefix == "" and key in NOT_COMPARED:
                continue
            out.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            label = next(iter(item.values())) if isinstance(item, dict) and item else index
            out.update(flatten(item, f"{prefix}[{label}]"))
        return out
    return {prefix: value}


def same(a: Any, b: Any) -> bool:
    """Equal, with floats equal up to summation order (relative 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, str) or isinstance(b, str):
            return a == b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare_reports(reports: Mapping[str, dict | None]) -> dict:
    """Compare two schemas' builds of one report ({schema: report or None when absent there})."""
    (left_name, left), (right_name, right) = reports.items()
    flat_left = flatten(left) if left is not None else {}
    flat_right = flatten(right) if right is not None else {}
    differences = [
        {"field": field, left_name: flat_left.get(field, MISSING), right_name: flat_right.get(field, MISSING)}
        for field in sorted(flat_left.keys() | flat_right.keys())
        if not same(flat_left.get(field, MISSING), flat_right.get(field, MISSING))
    ]
    if left is None or right is None:
        absent = left_name if left is None else right_name
        differences.insert(0, {"field": "(report)", left_name: "present" if left else "absent",
                               right_name: "present" if right else "absent", "note": f"not found in {absent}"})
    freshness = {name: (r or {}).get("freshness") for name, r in reports.items()}
    return {
        "schemas": [left_name, right_name],
        "identical": not differences,
        "differences": differences,
        "freshness": freshness,
        # the batch road is as current as its last load: differences are what changed since
        "default_behind_seconds": ((freshness.get(DEFAULT_DB) or {}).get("load_age_seconds")
                                   if differences else None),
        # a user written since default's last load: only debezium has them yet (lag, not a mismatch)
        "only_in_debezium": reports.get(DEFAULT_DB) is None and reports.get(CDC_DB) is not None,
        "reports": reports,
    }
