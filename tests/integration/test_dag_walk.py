"""The DAGs as a user walks them in the Airflow UI: mapped tasks named by what they work on, the `reports`
period for each way a run is started, the backfill form's default window where the data is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.dag_walk import backfill_through_rest, data_in_the_default_window
from tests.support.rows import olap_admin
from tests.support.stack import run_ok

PERIOD_SQL = "SELECT DISTINCT period_start, period_end FROM ops.report_runs WHERE run_id = {r:String}"


def instance_names(airflow, dag_id: str, run_id: str, task_id: str) -> list[str | None]:
    """The names the UI shows for a mapped task's instances (Airflow's rendered map index)."""
    doc = airflow.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"task_id": task_id})
    return sorted((ti["rendered_map_index"] for ti in doc["task_instances"] if ti["task_id"] == task_id),
                  key=str)


@pytest.fixture(scope="module")
def window_with_data(stack, airflow, bootstrapped):
    return data_in_the_default_window(stack, airflow)


@pytest.mark.parametrize(("dag_id", "conf", "task_id", "names"), [
    ("etl_default", {"tables": ["users", "telemetry_events"]}, "load", ["telemetry_events", "users"]),
    ("backfill", {}, "refill", ["telemetry_events", "users"]),
    ("reports", {}, "build", ["debezium", "default"]),
])
def test_mapped_task_instances_are_named_by_table_or_schema(airflow, window_with_data, dag_id, conf, task_id,
                                                            names):
    run = run_ok(airflow, dag_id, conf)
    assert instance_names(airflow, dag_id, run["dag_run_id"], task_id) == names


def test_a_manual_reports_run_covers_the_30_days_up_to_its_trigger(stack, airflow, bootstrapped):
    run = run_ok(airflow, "reports")
    triggered = datetime.fromisoformat(run["run_after"].replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    [(start, end)] = olap_admin(stack).query(PERIOD_SQL, parameters={"r": run["dag_run_id"]}).result_rows
    assert abs(end - triggered) < timedelta(seconds=1), (end, triggered)
    assert end - start == timedelta(days=30)


def test_a_reports_backfill_covers_the_day_before_its_date(stack, airflow, bootstrapped):
    """A backfill run stands for a date of the `@daily` schedule, as a scheduled run does: Airflow 3 gives it a
    zero-length data interval at its logical date, and the report is on the whole day before."""
    date = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    run = backfill_through_rest(airflow, "reports", date)
    assert run["state"] == "success", airflow.task_states("reports", run["dag_run_id"])
    assert run["run_type"] == "backfill" and run["data_interval_start"] == run["data_interval_end"]
    [(start, end)] = olap_admin(stack).query(PERIOD_SQL, parameters={"r": run["dag_run_id"]}).result_rows
    day = date.replace(tzinfo=None)
    assert (start, end) == (day - timedelta(days=1), day)
    assert instance_names(airflow, "reports", run["dag_run_id"], "build") == ["debezium", "default"]


def test_the_reconcile_logs_say_each_table_and_the_fallback_in_words(airflow, bootstrapped):
    run = run_ok(airflow, "cdc_reconcile")
    reconcile = airflow.task_log("cdc_reconcile", run["dag_run_id"], "reconcile")
    for table in ("users", "telemetry_events"):
        assert f"{table}: source " in reconcile and "| verdict: " in reconcile, reconcile[-3000:]
    assert "'missing_keys'" not in reconcile, "a table logged as a Python dict"
    needs_fallback = airflow.task_log("cdc_reconcile", run["dag_run_id"], "needs_fallback")
    assert "etl_default" in needs_fallback and ("no etl_default run needed" in needs_fallback) == (
        airflow.task_states("cdc_reconcile", run["dag_run_id"])["fallback_etl_default"] == "skipped"), (
        needs_fallback[-3000:])
