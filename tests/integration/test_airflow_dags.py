"""DAGs run for real by the stack's scheduler, triggered through Airflow's REST API (/api/v2)."""

from __future__ import annotations

import time

import clickhouse_connect
import psycopg2
import pytest
import requests

from bionicflow.cdc.schema import TELEMETRY_EVENTS, USERS
from tests.integration.test_cdc import _norm, source_rows, wait_converged

RUN_TIMEOUT = 300


class AirflowApi:
    def __init__(self, settings):
        self.base = f"http://{settings.host}:{settings.airflow_port}"
        token = requests.post(f"{self.base}/auth/token", timeout=10, json={
            "username": settings.airflow_admin_user, "password": settings.airflow_admin_password.get_secret_value()})
        token.raise_for_status()
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def _req(self, method: str, path: str, **kw) -> dict:
        response = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=30, **kw)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def wait_parsed(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(f"{self.base}/api/v2/dags/{dag_id}", headers=self.headers, timeout=30)
            if response.status_code == 200:
                return
            assert time.monotonic() < deadline, f"DAG {dag_id} not parsed within {timeout}s"
            time.sleep(1)

    def run(self, dag_id: str, conf: dict | None = None, timeout: float = RUN_TIMEOUT) -> dict:
        """Unpause, trigger, and wait for the run to finish; returns the finished run."""
        self.wait_parsed(dag_id)
        self._req("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self._req("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        deadline = time.monotonic() + timeout
        while True:
            state = self._req("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}")
            if state["state"] in ("success", "failed"):
                return state
            assert time.monotonic() < deadline, f"{dag_id} run still {state['state']} after {timeout}s"
            time.sleep(1)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        doc = self._req("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
                for ti in doc["task_instances"]}


@pytest.fixture(scope="module")
def airflow(stack):
    return AirflowApi(stack)


def _olap(settings):
    return clickhouse_connect.get_client(host=settings.host, port=settings.olap_port, username=settings.clickhouse_user,
                                         password=settings.clickhouse_password.get_secret_value())


def default_rows(settings, table) -> dict:
    cols = ", ".join(table.business_columns)
    result = _olap(settings).query(f"SELECT {cols} FROM default.{table.name} FINAL")
    return {row[0]: tuple(_norm(v) for v in row) for row in result.result_rows}


def test_bootstrap_demo_data_and_full_etl(stack, airflow):
    run = airflow.run("cdc_bootstrap")
    assert run["state"] == "success", airflow.task_states("cdc_bootstrap", run["dag_run_id"])
    before = len(source_rows(stack, USERS))
    run = airflow.run("demo_data", {"users": 300, "events": 3000, "updates": 20, "deletes": 50})
    assert run["state"] == "success", airflow.task_states("demo_data", run["dag_run_id"])
    assert len(source_rows(stack, USERS)) == before + 300
    run = airflow.run("etl_default", {"mode": "full"})
    assert run["state"] == "success", airflow.task_states("etl_default", run["dag_run_id"])
    for table in (USERS, TELEMETRY_EVENTS):
        assert default_rows(stack, table) == source_rows(stack, table), f"default.{table.name} != source"
        wait_converged(stack, table)  # and the CDC road carried the same demo data


def test_window_reload_is_idempotent_and_restores_deleted_rows(stack, airflow):
    olap = _olap(stack)
    airflow.run("etl_default", {"mode": "full"})
    window = {"mode": "window", "tables": ["telemetry_events"],
              "window_start": "2020-01-01T00:00:00", "window_end": "2029-12-31T00:00:00"}
    olap.command("ALTER TABLE default.telemetry_events DELETE WHERE id % 3 = 0 SETTINGS mutations_sync = 2")
    for _ in range(2):  # the same window twice: no duplicates
        run = airflow.run("etl_default", window)
        assert run["state"] == "success", airflow.task_states("etl_default", run["dag_run_id"])
    assert default_rows(stack, TELEMETRY_EVENTS) == source_rows(stack, TELEMETRY_EVENTS)
    dupes = olap.command("SELECT count() - uniqExact(id) FROM default.telemetry_events FINAL")
    assert dupes == 0


def test_full_refresh_removes_rows_deleted_in_the_source(stack, airflow):
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
])
def test_bad_params_fail_at_once_and_write_nothing(stack, airflow, conf, message):
    olap = _olap(stack)
    runs_before = olap.command("SELECT count() FROM ops.etl_runs")
    run = airflow.run("etl_default", conf)
    assert run["state"] == "failed"
    states = airflow.task_states("etl_default", run["dag_run_id"])
    assert states.get("plan") == "failed", states
    assert olap.command("SELECT count() FROM ops.etl_runs") == runs_before
    log = requests.get(f"{airflow.base}/api/v2/dags/etl_default/dagRuns/{run['dag_run_id']}/taskInstances/plan/logs/1",
                       headers=airflow.headers, timeout=30).text
    assert message in log, log[-2000:]


def test_demo_data_refuses_negative_counts(stack, airflow):
    users_before = len(source_rows(stack, USERS))
    response = requests.post(f"{airflow.base}/api/v2/dags/demo_data/dagRuns", headers=airflow.headers, timeout=30,
                             json={"logical_date": None, "conf": {"users": -5}})
    assert response.status_code >= 400 and "users" in response.text  # the params form rejects it up front
    assert len(source_rows(stack, USERS)) == users_before
