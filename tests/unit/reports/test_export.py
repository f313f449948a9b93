"""CSV export: a cell a spreadsheet would run as a formula is written as text; numbers stay numbers."""

import csv
import io

import pytest

from bionicflow.reports.export import neutralise, to_csv


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("-inf", "'-inf"),
    ("-1.5", "-1.5"), ("+3", "+3"), ("-2e-05", "-2e-05"), ("-.5", "-.5"), ("1e+300", "1e+300"),
    ("Anna", "Anna"), ("", ""), ("a=b", "a=b"), ("2026-11-20", "2026-11-20"),
])
def test_formula_cells_are_neutralised_and_plain_numbers_are_not(cell, written):
    assert neutralise(cell) == written


def test_a_report_with_formulas_in_its_data_exports_them_as_text():
    report = {"schema": "debezium", "generated_at": "2026-11-20T12:00:00",
              "profile": {"name": "=1+1", "country": "@SUM(1)", "age": -3, "gender": "\tx"},
              "signal_amplitude": {"avg": -1.5, "min": -2e-05, "max": 3},
              "by_muscle_group": [{"muscle_group": "+cmd", "events": 2, "avg_amplitude": -0.25}]}
    rows = dict(csv.reader(io.StringIO(to_csv(report))))
    assert rows["profile.name"] == "'=1+1" and rows["profile.country"] == "'@SUM(1)" and rows["profile.gender"] == "'\tx"
    assert rows["profile.age"] == "-3" and rows["signal_amplitude.avg"] == "-1.5" and rows["signal_amplitude.min"] == "-2e-05"
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) or (cell.startswith("-") and not _number(cell))
                   for row in csv.reader(io.StringIO(to_csv(report))) for cell in row)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
