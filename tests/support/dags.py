"""DAG runs as the integration tests watch them: runs started by another run, what a run recorded in `ops`."""

from __future__ import annotations

import time

from bionicflow.kernel.airflow_api import AirflowClient
from tests.support.rows import olap_admin

RUN_TIMEOUT = 300


def wait_run_after(airflow: AirflowClient, dag_id: str, after: str, conf: dict, timeout: float = RUN_TIMEOUT) -> dict:
    """Wait for a run of ``dag_id`` with ``conf``, started after ``after`` (ISO), to finish."""
    deadline = time.monotonic() + timeout
    while True:
        runs = airflow.request("GET", f"/dags/{dag_id}/dagRuns",
                               params={"order_by": "-start_date", "limit": 5})["dag_runs"]
        newer = [r for r in runs if (r.get("start_date") or "") > after and r.get("conf") == conf]
        if newer and newer[0]["state"] in ("success", "failed"):
            return newer[0]
        assert time.monotonic() < deadline, f"no finished {dag_id} run after {after} within {timeout}s: {runs[:2]}"
        time.sleep(1)


def reconciliation(settings, run: dict) -> tuple[str, int, str]:
    """What the given cdc_reconcile run recorded in ops: verdict, debezium degraded, details."""
    rows = olap_admin(settings).query(
        "SELECT verdict, debezium_degraded, details FROM ops.reconciliation_runs WHERE run_id = {r:String}",
        parameters={"r": run["dag_run_id"]}).result_rows
    assert len(rows) == 1, f"run {run['dag_run_id']} recorded {len(rows)} rows in ops.reconciliation_runs"
    return rows[0]


def etl_loads(settings, run_id: str) -> dict[str, tuple]:
    """table → (mode, rows, deleted, reason, skipped) of one etl_default run, from ops.etl_runs."""
    rows = olap_admin(settings).query(
        "SELECT table, mode, rows, deleted, reason, skipped FROM ops.etl_runs WHERE run_id = {r:String}",
        parameters={"r": run_id}).result_rows
    return {table: rest for table, *rest in rows}
