"""The cdc_reconcile task logs: a sentence per table and a said reason for starting etl_default or not."""

from datetime import UTC, datetime

from bionicflow.kernel.cursors import RELOAD_BY_KEY_LIMIT
from bionicflow.reconcile.compare import SideResult
from bionicflow.reconcile.decide import Decision
from bionicflow.reconcile.log_lines import fallback_decision, table_lines, verdict_line
from bionicflow.reconcile.run import Report


def summary(decision: Decision) -> dict:
    """What the reconcile task hands to needs_fallback: Report.summary() of a run with that decision."""
    return Report("run", datetime(2026, 12, 7, tzinfo=UTC), "match", [], decision, {}).summary()


def test_a_matching_table_is_one_line_with_every_sides_rows():
    results = [SideResult("users", side, 1000, 7) for side in ("source", "default", "debezium")]
    assert table_lines(results) == [
        "users: source 1,000 rows | default 1,000 rows, identical | debezium 1,000 rows, identical | verdict: match"]


def test_differences_are_counted_and_judged_per_table():
    results = [
        SideResult("users", "source", 1000, 7),
        SideResult("users", "default", 1000, 7),
        SideResult("users", "debezium", 998, 5, missing_keys=2),
        SideResult("telemetry_events", "source", 12500, 9),
        SideResult("telemetry_events", "default", 12499, 8, missing_keys=3, extra_keys=2, differing_rows=1,
                   stale_rows=1),
        SideResult("telemetry_events", "debezium", 12500, 9),
    ]
    users, events = table_lines(results)
    assert users == ("users: source 1,000 rows | default 1,000 rows, identical | debezium 998 rows: 2 missing, "
                     "0 extra, 0 differing | verdict: debezium differs")
    assert events == ("telemetry_events: source 12,500 rows | default 12,499 rows: 3 missing, 2 extra, 1 differing, "
                      "1 written before its last load | debezium 12,500 rows, identical | "
                      "verdict: default wrong (1 row its last load should have brought)")


def test_default_behind_its_source_is_called_lag_not_an_error():
    results = [SideResult("users", "source", 1, 1), SideResult("users", "default", 0, 0, missing_keys=1)]
    assert table_lines(results) == ["users: source 1 row | default 0 rows: 1 missing, 0 extra, 0 differing | "
                                    "verdict: default behind (changes since its last load; the next load brings them)"]


def test_no_line_is_a_python_repr():
    line = table_lines([SideResult("users", "debezium", 3, 1, duplicate_keys=1)])[0]
    assert "{" not in line and "SideResult" not in line and "1 duplicate keys" in line


def test_nothing_to_do_says_so_and_skips():
    needed, why = fallback_decision(summary(Decision(degraded=False)))
    assert needed is False
    assert why.startswith("no etl_default run needed: CDC is healthy")


def test_a_degraded_cdc_names_its_reasons_and_the_full_fallback():
    decision = Decision(degraded=True, reasons=["telemetry-connector: task 0 FAILED"], fallback=True)
    needed, why = fallback_decision(summary(decision))
    assert needed is True
    assert why == ("debezium is degraded (telemetry-connector: task 0 FAILED): etl_default runs with mode full as "
                   "the fallback, so default is fresh")


def test_a_repair_names_its_tables_and_how_they_are_mended():
    few = Decision(degraded=False, repair_default=["users"], repair_keys=3)
    assert fallback_decision(summary(few)) == (True, (
        "default lacks or has wrong rows its last load should have brought (users): etl_default with mode repair "
        "reloads the wrong rows by key, then verify_default checks it"))
    many = Decision(degraded=False, repair_default=["users"], repair_keys=RELOAD_BY_KEY_LIMIT + 1)
    assert "mode full refreshes those tables whole" in fallback_decision(summary(many))[1]


def test_the_runs_verdict_says_when_a_mismatch_is_only_default_behind():
    behind = [SideResult("users", "source", 2, 1), SideResult("users", "default", 1, 0, missing_keys=1),
              SideResult("users", "debezium", 2, 1)]
    assert verdict_line("mismatch", [], behind) == (
        "verdict: mismatch (lag only: default is behind its source; its next load brings the changes)")
    wrong = behind[:2] + [SideResult("users", "debezium", 1, 0, missing_keys=1)]
    assert verdict_line("mismatch", [], wrong) == "verdict: mismatch"  # debezium missing a row is no lag
    assert verdict_line("degraded", ["debezium: 1 missing"], wrong) == "verdict: degraded; reasons: debezium: 1 missing"
    assert verdict_line("match", [], [SideResult("users", "default", 1, 1)]) == "verdict: match"
