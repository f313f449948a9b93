"""The README's main job: demo data through both roads, reconciled, summarised."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from bionicflow.kernel.airflow_api import AirflowApiError, AirflowClient, airflow_client
from bionicflow.kernel.config import Settings
from bionicflow.kernel.olap import OlapClient, olap_client
from bionicflow.kernel.sources import reader_sources
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, TABLES
from bionicflow.reports import SCHEMAS, ClickHouseReader, Period, compare_reports, overview


@dataclass
class TableSummary:
    table: str
    source: int
    default: int
    debezium: int
    lag_seconds: float | None


def _source_count(settings: Settings, table) -> int:
    source = reader_sources(settings)[table.name]
    conn = source.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM public.{table.source_table}")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _olap(settings: Settings, reader: bool = False):
    """A client as the administrative user, or as the read-only reports user."""
    return olap_client(settings, reader=reader)


def _count(olap: OlapClient, schema: str, table: str) -> int:
    if not olap.command(f"EXISTS TABLE {schema}.{table}"):
        return 0
    return int(olap.command(f"SELECT count() FROM {schema}.{table} FINAL"))


def wait_cdc(settings: Settings, timeout: float, report) -> None:
    olap, deadline = _olap(settings), time.monotonic() + timeout
    while True:
        pending = {t.name: (_source_count(settings, t), _count(olap, CDC_DB, t.name)) for t in TABLES}
        if all(src == dbz for src, dbz in pending.values()):
            return
        if time.monotonic() > deadline:
            raise AirflowApiError(f"CDC did not catch up within {timeout:.0f}s (source, debezium): {pending}; "
                                  "see `bionicflow status --json`")
        report("waiting for CDC: " + ", ".join(f"{k} {d}/{s}" for k, (s, d) in pending.items()))
        time.sleep(2)


def _require_success(client: AirflowClient, dag_id: str, run: dict) -> dict:
    if run["state"] != "success":
        raise AirflowApiError(f"{dag_id} failed: {client.task_states(dag_id, run['dag_run_id'])}")
    return run


def run_main_job(settings: Settings, users: int, events: int, updates: int, deletes: int, report) -> dict:
    client = airflow_client(settings)
    report(f"demo_data: {users} users, {events} events, {updates} updates, {deletes} deletes")
    _require_success(client, "demo_data", client.run("demo_data", {"users": users, "events": events,
                                                                   "updates": updates, "deletes": deletes}))
    wait_cdc(settings, timeout=600, report=report)
    report("etl_default: full refresh of `default`")
    _require_success(client, "etl_default", client.run("etl_default", {"mode": "full"}))
    report("cdc_reconcile: source vs default vs debezium")
    run = _require_success(client, "cdc_reconcile", client.run("cdc_reconcile"))
    olap = _olap(settings)
    rows = olap.query("SELECT verdict, details FROM ops.reconciliation_runs WHERE run_id = {r:String}",
                      parameters={"r": run["dag_run_id"]}).result_rows
    verdict, details = rows[0] if rows else ("unknown", "{}")
    lags = json.loads(details).get("lag_seconds", {})
    tables = [TableSummary(t.name, _source_count(settings, t), _count(olap, DEFAULT_DB, t.name),
                           _count(olap, CDC_DB, t.name), lags.get(t.name)) for t in TABLES]
    period = Period.parse(None, None)
    report("reports: the same reports from both schemas (stored by the `reports` DAG)")
    _require_success(client, "reports", client.run("reports", {"from": period.start.isoformat(),
                                                               "to": period.end.isoformat()}))
    reader = ClickHouseReader(_olap(settings, reader=True))
    comparison = compare_reports({schema: overview(reader, schema, period) for schema in SCHEMAS})
    return {"verdict": verdict, "tables": tables, "reconcile_run": run["dag_run_id"], "reports": comparison}
