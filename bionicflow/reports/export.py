"""A report as CSV: one `field,value` row per leaf, named as in the comparison."""

from __future__ import annotations

import csv
import io
import re

from bionicflow.reports.differences import flatten

# A spreadsheet opening the file runs a cell that starts with one of these as a formula
# (=HYPERLINK(...), +cmd|..., -2+3, @SUM(...); tab and carriage return hide the same prefix).
# The cells come from the data (user names, countries, muscle groups are typed by people).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text: a leading `'` before anything a formula could start with.

    Plain numbers (-1.5, +3, -2e-05) stay as they are: a spreadsheet reads them as numbers, not formulas.
    """
    if cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def leaves(report: dict) -> dict:
    """Every leaf of a report, including the fields the comparison skips."""
    extra = {k: report[k] for k in ("schema", "generated_at", "computed_from") if k in report}
    fresh = {f"freshness.{k}": v for k, v in (report.get("freshness") or {}).items()}
    return {**extra, **flatten(report), **fresh}


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["field", "value"])
    for field, value in leaves(report).items():  # field names carry data too: by_country[=1+1].events
        writer.writerow([neutralise(field), neutralise("" if value is None else str(value))])
    return out.getvalue()
