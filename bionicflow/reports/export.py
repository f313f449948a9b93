"""A report as CSV: one `field,value` row per leaf, named as in the comparison."""

from __future__ import annotations

import csv
import io

from bionicflow.reports.compare import flatten


def leaves(report: dict) -> dict:
    """Every leaf of a report, including the fields the comparison skips."""
    extra = {k: report[k] for k in ("schema", "generated_at", "computed_from") if k in report}
    fresh = {f"freshness.{k}": v for k, v in (report.get("freshness") or {}).items()}
    return {**extra, **flatten(report), **fresh}


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["field", "value"])
    for field, value in leaves(report).items():
        writer.writerow([field, "" if value is None else value])
    return out.getvalue()
