"""DAGs run for real by the stack's scheduler, triggered through Airflow's REST API (/api/v2)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
import requests

from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
from tests.support.dags import reconciliation
from tests.support.rows import default_rows, olap_admin, source_rows, wait_converged
from tests.support.stack import run_ok

RUN_TIMEOUT = 300


def test_bootstrap_demo_data_and_full_etl(stack, airflow, bootstrapped):
    before = len(source_rows(stack, USERS))
    run = airflow.run("demo_data", {"users": 300, "events": 3000, "updates": 20, "deletes": 50})
    assert run["state"] == "success", airflow.task_states("demo_data", run["dag_run_id"])
    assert len(source_rows(stack, USERS)) == before + 300
    run = airflow.run("etl_default", {"mode": "full"})
    assert run["state"] == "success", airflow.task_states("etl_default", run["dag_run_id"])
    for table in (USERS, TELEMETRY_EVENTS):
        assert default_rows(stack, table) == source_rows(stack, table), f"default.{table.name} != source"
        wait_converged(stack, table)  # and the CDC road carried the same demo data


def test_window_reload_is_idempotent_and_restores_deleted_rows(stack, airflow, bootstrapped):
    olap = olap_admin(stack)
    airflow.run("etl_default", {"mode": "full"})
    end = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=1)  # the events span the last 30 days
    window = {"mode": "window", "tables": ["telemetry_events"],
              "window_start": (end - timedelta(days=400)).isoformat(), "window_end": end.isoformat()}
    olap.command("ALTER TABLE default.telemetry_events DELETE WHERE id % 3 = 0 AND created_ts >= {s:DateTime64(6)} "
                 "SETTINGS mutations_sync = 2", parameters={"s": window["window_start"]})  # rows the window covers
    for _ in range(2):  # the same window twice: no duplicates
        run = airflow.run("etl_default", window)
        assert run["state"] == "success", airflow.task_states("etl_default", run["dag_run_id"])
    assert default_rows(stack, TELEMETRY_EVENTS) == source_rows(stack, TELEMETRY_EVENTS)
    dupes = olap.command("SELECT count() - uniqExact(id) FROM default.telemetry_events FINAL")
    assert dupes == 0


def test_full_refresh_removes_rows_deleted_in_the_source(stack, airflow, bootstrapped):
    conn = psycopg2.connect(host=stack.host, port=stack.telemetry_db_port, dbname="telemetry_db",
                            user=stack.telemetry_user, password=stack.telemetry_password.get_secret_value())
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM telemetry_events WHERE id IN (SELECT id FROM telemetry_events LIMIT 10)")
    conn.close()
    run = airflow.run("etl_default", {"mode": "full", "tables": ["telemetry_events"]})
    assert run["state"] == "success"
    assert default_rows(stack, TELEMETRY_EVENTS) == source_rows(stack, TELEMETRY_EVENTS)


@pytest.mark.parametrize("conf, message", [
    ({"mode": "window", "tables": ["orders"], "window_start": "2025-01-01", "window_end": "2025-02-01"},
     "unknown table"),
    ({"mode": "window", "window_start": "2025-02-01", "window_end": "2025-01-01"}, "not after its start"),
    ({"mode": "window", "window_start": "2020-01-01", "window_end": "2025-01-01"}, "longer than 400 days"),
    ({"mode": "interval"}, "this run has none"),
])
def test_bad_params_fail_at_once_and_write_nothing(stack, airflow, conf, message):
    olap = olap_admin(stack)
    run = airflow.run("etl_default", conf)
    assert run["state"] == "failed"
    states = airflow.task_states("etl_default", run["dag_run_id"])
    assert states.get("plan") == "failed", states
    assert olap.command("SELECT count() FROM ops.etl_runs WHERE run_id = {r:String}",
                        parameters={"r": run["dag_run_id"]}) == 0
    log = airflow.task_log("etl_default", run["dag_run_id"], "plan")
    assert message in log, log[-2000:]


def test_demo_data_refuses_negative_counts(stack, airflow):
    users_before = len(source_rows(stack, USERS))
    response = requests.post(f"{airflow.base}/api/v2/dags/demo_data/dagRuns", headers=airflow.headers, timeout=30,
                             json={"logical_date": None, "conf": {"users": -5}})
    assert response.status_code >= 400 and "users" in response.text  # the params form rejects it up front
    assert len(source_rows(stack, USERS)) == users_before


def test_reconcile_reports_a_full_match(stack, airflow, bootstrapped):
    airflow.run("etl_default", {"mode": "full"})
    for table in (USERS, TELEMETRY_EVENTS):
        wait_converged(stack, table)
    run = airflow.run("cdc_reconcile")
    assert run["state"] == "success", airflow.task_states("cdc_reconcile", run["dag_run_id"])
    verdict, degraded, details = reconciliation(stack, run)
    assert (verdict, degraded) == ("match", 0), details
    assert airflow.task_states("cdc_reconcile", run["dag_run_id"])["fallback_etl_default"] == "skipped"


@pytest.mark.parametrize("table", [USERS, TELEMETRY_EVENTS], ids=lambda t: t.name)
def test_backfill_restores_a_window_in_both_schemas(stack, airflow, bootstrapped, table):

    olap, column = olap_admin(stack), table.business_time
    airflow.run("etl_default", {"mode": "full", "tables": [table.name]})
    wait_converged(stack, table)
    start, end = olap.query(f"SELECT min({column}), min({column}) + INTERVAL 20 DAY FROM default.{table.name} FINAL").result_rows[0]
    condition = f"{column} >= toDateTime64('{start.isoformat(sep=' ')}', 6) AND {column} < toDateTime64('{end.isoformat(sep=' ')}', 6)"
    removed = olap.command(f"SELECT count() FROM default.{table.name} FINAL WHERE {condition}")
    assert removed > 0, "the chosen window is empty: the test would prove nothing"
    for schema in ("default", "debezium"):
        olap.command(f"ALTER TABLE {schema}.{table.name} DELETE WHERE {condition} SETTINGS mutations_sync = 2")
    assert default_rows(stack, table) != source_rows(stack, table)
    run = airflow.run("backfill", {"tables": [table.name], "window_start": start.isoformat(),
                                   "window_end": end.isoformat(), "target": "both"}, timeout=600)
    assert run["state"] == "success", airflow.task_states("backfill", run["dag_run_id"])
    assert default_rows(stack, table) == source_rows(stack, table)
    wait_converged(stack, table, timeout=60)


def test_reconcile_fails_when_a_slot_holds_back_more_wal_than_the_limit(stack, airflow, bootstrapped):
    """The retained-WAL alarm: every connector's slot holds back a few bytes at least; a 1-byte limit trips it."""
    ok = run_ok(airflow, "cdc_reconcile")
    assert airflow.task_states("cdc_reconcile", ok["dag_run_id"])["check_retained_wal"] == "success"
    run = airflow.trigger("cdc_reconcile", {"wal_retained_limit_bytes": 1})
    finished = airflow.wait("cdc_reconcile", run["dag_run_id"], timeout=600)
    states = airflow.task_states("cdc_reconcile", run["dag_run_id"])
    assert finished["state"] == "failed" and states["check_retained_wal"] == "failed", states
    log = airflow.task_log("cdc_reconcile", run["dag_run_id"], "check_retained_wal")
    assert "replication slot crm_debezium_slot holds back" in log, log[-3000:]


def test_a_source_column_added_is_surfaced_by_status_and_reconcile(stack, airflow, bootstrapped):
    """Neither road copies a column it does not know: status and cdc_reconcile say so, never silently."""
    from tests.support.rows import pg
    from tests.support.stack import cli, status_document

    def drift() -> list[str]:
        return [w for w in status_document()["warnings"] if "crm_db.users" in w]

    assert drift() == []
    conn = pg(stack, "crm_db")
    conn.autocommit = True
    try:
        conn.cursor().execute("ALTER TABLE users ADD COLUMN note text")
        try:
            lines = drift()
            assert len(lines) == 1 and "column note" in lines[0] and "copies yet" in lines[0], lines
            plain = cli("status")
            assert plain.returncode == 1 and "column note" in plain.stderr, plain.stderr
            run = run_ok(airflow, "cdc_reconcile")
            log = airflow.task_log("cdc_reconcile", run["dag_run_id"], "reconcile")
            assert "source schema: crm_db.users has a column note" in log, log[-3000:]
            run = run_ok(airflow, "cdc_bootstrap")
            log = airflow.task_log("cdc_bootstrap", run["dag_run_id"], "create_schemas")
            assert "source schema: crm_db.users has a column note" in log, log[-3000:]
            page = requests.get(f"http://{stack.host}:{stack.airflow_port}/bionicflow/cdc-vs-batch",
                                headers=airflow.headers, timeout=60)
            assert 'id="drift"' in page.text and "crm_db.users has a column note" in page.text, page.text[-2000:]
        finally:
            conn.cursor().execute("ALTER TABLE users DROP COLUMN note")
            # a repair load started by cdc_reconcile meanwhile may have copied the column into `default`
            olap_admin(stack).command("ALTER TABLE default.users DROP COLUMN IF EXISTS note")
    finally:
        conn.close()
    assert drift() == []
