"""The "CDC vs batch" page rendered from stored rows: verdict on top, history in words, counts formatted."""

import re
from datetime import datetime

from bionicflow_airflow.ui import explained, templates

STARTED = datetime(2026, 12, 7, 10, 20, 3, 918273)


def side(side, rows, **problems):
    row = {"table": "users", "side": side, "rows": rows, "missing_keys": 0, "extra_keys": 0, "differing_rows": 0,
           "stale_rows": 0} | problems
    return row | {"match": not (row["missing_keys"] or row["extra_keys"] or row["differing_rows"])}


def page(drift=()):
    newest = [side("source", 32700), side("default", 32690, missing_keys=10), side("debezium", 32700)]
    first = [side("source", 32700), side("default", 0, missing_keys=32700), side("debezium", 32700)]
    runs = [
        {"run_id": "scheduled__2", "started_at": STARTED, "verdict": "mismatch", "debezium_degraded": 0,
         "fallback_triggered": 0, "details": {"reasons": []}, "tables": newest},
        {"run_id": "scheduled__1", "started_at": datetime(2026, 12, 7, 10, 10), "verdict": "degraded",
         "debezium_degraded": 1, "fallback_triggered": 1, "tables": first,
         "details": {"reasons": ["connector crm-connector is not registered (run cdc_bootstrap)"]}},
    ]
    return explained({
        "reconciliations": runs, "tables": newest, "drift": list(drift),
        "health": [{"schema": "debezium", "state": "healthy", "changed_at": STARTED, "reason": ""}],
        "cdc": [{"table": "users", "connector": "crm-connector", "connector_state": "RUNNING", "lag_seconds": 2.5,
                 "lag_basis": "newest heartbeat", "unread": 12345, "slot": "crm_debezium_slot", "slot_active": True,
                 "retained_wal_bytes": 1048576, "wal_problem": "", "dead_letters": 0}],
        "batch": {"users": {"last_load": "2026-12-07T10:15:00", "age_seconds": 300.0, "mode": "incremental",
                            "cursor_xid": 812}},
        "report_runs": [{"run_id": "manual__x", "period_start": datetime(2026, 12, 6, 0, 0, 0, 123456),
                         "period_end": datetime(2026, 12, 7, 0, 0, 0, 654321), "users_reported":
                         {"default": 1000, "debezium": 1000}, "identical": 1, "differences": 0,
                         "finished_at": STARTED}],
        "differences": [],
    })


def render(data: dict) -> str:
    return templates.env.get_template("cdc_vs_batch.html").render(**data)


def test_the_verdict_is_the_first_line_and_says_the_mismatch_is_lag():
    html = render(page())
    verdict = re.search(r'<div id="verdict">(.*?)</div>', html, re.S).group(1)
    assert 'class="verdict lag"' in verdict and "debezium is 2.5 s behind, default&#39;s last load was 5 min ago" \
        in verdict, verdict
    assert html.index('id="verdict"') < html.index('id="health"')


def test_history_rows_say_what_happened_and_the_first_start_is_amber():
    html = render(page())
    history = re.search(r'<table id="reconciliations">(.*?)</table>', html, re.S).group(1)
    assert '<td class="lag">mismatch (lag)</td>' in history
    assert '<td class="lag">degraded (lag)</td>' in history  # the first start: not red
    assert "first run; default not loaded yet" in history
    assert "lag only: 10 missing in default.users (written since its last load)" in history
    per_table = re.search(r'<table id="tables">(.*?)</table>', html, re.S).group(1)
    assert '<td class="lag">lag</td>' in per_table and 'class="no"' not in per_table  # behind, not wrong
    health = re.search(r'<table id="health">(.*?)</table>', html, re.S).group(1)
    assert '<td class="ok">healthy</td><td>connectors running, lag under 5 min' in health


def test_counts_are_formatted_periods_have_no_microseconds_and_the_table_names_its_run():
    html = render(page())
    assert "32,700" in html and "32,690" in html and "12,345" in html
    assert not re.search(r">\s*\d{4,}\s*<", html), "an unformatted count"
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", html), "a time with a fraction of a second"
    assert re.search(r'id="tables-run">Per table, newest run: <a [^>]*>scheduled__2</a> at <time', html)


def test_a_dropped_column_names_the_command_that_accepts_it():
    assert 'id="forget-hint"' not in render(page())
    html = render(page(["crm_db.users has no column nickname any more (dropped or renamed): …"]))
    assert "bionicflow cdc forget-column TABLE COLUMN" in html
    assert 'class="verdict error"' in html and "source schema changed (1 difference)" in html
