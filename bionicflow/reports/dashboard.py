"""What the Airflow "CDC vs batch" page shows: `default`'s freshness, the latest reconciliation and report runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json

from bionicflow.kernel.cursors import freshness

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

RECONCILIATIONS = """
SELECT run_id, started_at, verdict, debezium_degraded, fallback_triggered, details
FROM ops.reconciliation_runs
ORDER BY started_at DESC
LIMIT {limit:UInt16}"""
RECONCILED_TABLES = """
SELECT run_id, table, side, rows, missing_keys, extra_keys, differing_rows, stale_rows, match
FROM ops.reconciliation_tables
WHERE run_id IN {run_ids:Array(String)}
ORDER BY table, side"""
REPORT_RUNS = """
SELECT run_id, period_start, period_end, users_reported, identical, differences, finished_at
FROM ops.report_runs
ORDER BY finished_at DESC
LIMIT {limit:UInt16}"""
REPORT_DIFFERENCES = """
SELECT report, user_uuid, field, default_value, debezium_value
FROM ops.report_differences
WHERE run_id = {run_id:String}
ORDER BY report, user_uuid, field
LIMIT 50"""
REPORT_RUN = """
SELECT run_id, period_start, period_end, users_reported, identical, differences, finished_at, overviews
FROM ops.report_runs
WHERE run_id = {run_id:String}
ORDER BY finished_at DESC
LIMIT 1"""
SCHEMA_HEALTH = "SELECT schema, state, reason, changed_at FROM ops.schema_health FINAL ORDER BY schema"


def _table_exists(client: OlapClient, name: str) -> bool:
    return bool(client.command("EXISTS TABLE " + name))  # name is one of this module's constants


def _rows(client: OlapClient, sql: str, **params) -> list[dict]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def latest(client: OlapClient, limit: int = 10) -> dict:
    """The newest reconciliation and report runs with their details (empty lists before the first run).

    Each reconciliation run carries its `details` (parsed) and its per-table rows (`tables`); the page
    explains them in words (bionicflow/reconcile/verdict.py). `tables`: the newest run's rows.
    """
    page: dict = {"reconciliations": [], "tables": [], "report_runs": [], "differences": [], "health": [],
                  "batch": freshness(client)}
    if _table_exists(client, "ops.reconciliation_runs"):
        page["reconciliations"] = _reconciliations(client, limit)
        newest = page["reconciliations"][0] if page["reconciliations"] else None
        page["tables"] = newest["tables"] if newest else []
        page["health"] = _rows(client, SCHEMA_HEALTH)
    if _table_exists(client, "ops.report_runs"):
        page["report_runs"] = _rows(client, REPORT_RUNS, limit=limit)
        if page["report_runs"]:
            page["differences"] = _rows(client, REPORT_DIFFERENCES, run_id=page["report_runs"][0]["run_id"])
    return page


def _reconciliations(client: OlapClient, limit: int) -> list[dict]:
    """The newest runs, newest first, each with its per-table rows."""
    runs = _rows(client, RECONCILIATIONS, limit=limit)
    by_run: dict[str, list[dict]] = {r["run_id"]: [] for r in runs}
    for row in _rows(client, RECONCILED_TABLES, run_ids=list(by_run)):
        by_run[row.pop("run_id")].append(row)
    for run in runs:
        run["details"] = _details(run.get("details"))
        run["tables"] = by_run[run["run_id"]]
    return runs


def _details(text: str | None) -> dict:
    try:
        return json.loads(text or "{}")
    except ValueError:  # a row written by hand: the page still shows the run
        return {}


def report_run(client: OlapClient, run_id: str) -> dict | None:
    """One stored `reports` run with the overview of each schema (None when there is no such run)."""
    if not _table_exists(client, "ops.report_runs"):
        return None
    rows = _rows(client, REPORT_RUN, run_id=run_id)
    if not rows:
        return None
    run = rows[0]
    run["overviews"] = json.loads(run["overviews"] or "{}")
    run["differing"] = _rows(client, REPORT_DIFFERENCES, run_id=run_id)
    return run
