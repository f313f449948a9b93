"""Every DAG succeeds when started as people start it: the default form, the REST API, the Airflow CLI.

The UI's Trigger button with an untouched form and a script's `POST /api/v2/dags/{id}/dagRuns`
both send `logical_date: null` and the DAG's default params; `airflow dags trigger` does the
same from a shell. None of them gives a data interval.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bionicflow.kernel.airflow_api import PLATFORM_DAGS
from tests.support.dag_walk import data_in_the_default_window
from tests.support.rows import olap_admin
from tests.support.stack import run_ok

# What each table's load of a run re-read: rows and window (the backfill's refill records its loads here).
ETL_RUN_SQL = "SELECT table, rows, window_start, window_end FROM ops.etl_runs WHERE run_id = {r:String}"


@pytest.mark.parametrize("dag_id", PLATFORM_DAGS)
def test_default_form_through_the_rest_api_succeeds(stack, airflow, bootstrapped, dag_id):  # noqa: F811
    run = airflow.run(dag_id)  # {"logical_date": null, "conf": {}}
    assert run["state"] == "success", (dag_id, airflow.task_states(dag_id, run["dag_run_id"]))


def test_airflow_cli_trigger_of_the_batch_load_succeeds(stack, airflow, bootstrapped):  # noqa: F811
    from bionicflow.stack.launcher import stack_env

    out = subprocess.run([sys.executable, "-m", "airflow", "dags", "trigger", "etl_default", "--output", "json"],
                         env=stack_env(stack), capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = airflow.request("GET", "/dags/etl_default/dagRuns", params={"order_by": "-run_after", "limit": 1})
    run = airflow.wait("etl_default", runs["dag_runs"][0]["dag_run_id"])
    assert run["state"] == "success", airflow.task_states("etl_default", run["dag_run_id"])


def test_the_default_backfill_form_refills_the_last_full_day(stack, airflow, bootstrapped):  # noqa: F811
    """The untouched form's window is the last full UTC day, where the newest events are: it re-loads them."""
    start, end, events = data_in_the_default_window(stack, airflow)
    run = run_ok(airflow, "backfill")
    loads = {table: (rows, (begin, stop)) for table, rows, begin, stop in
             olap_admin(stack).query(ETL_RUN_SQL, parameters={"r": run["dag_run_id"]}).result_rows}
    assert set(loads) == {"users", "telemetry_events"}, loads
    refilled, window = loads["telemetry_events"]
    assert window == (start, end), f"the default window is the last full UTC day {start} .. {end}, got {window}"
    # rows written since the count (another test's demo data) may add to it, never take from it
    assert refilled >= events > 0, (loads, events)
