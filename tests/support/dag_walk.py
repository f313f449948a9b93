"""Shared by the DAG walk tests: where the default backfill window's data is, and a backfill made through REST."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bionicflow.etl.plan import default_window
from tests.support.stack import run_ok
from tests.support.rows import pg

EVENTS_IN_WINDOW_SQL = "SELECT count(*) FROM telemetry_events WHERE created_ts >= %s AND created_ts < %s"


def events_in_window(stack, start: datetime, end: datetime) -> int:
    conn = pg(stack, "telemetry_db")
    try:
        with conn.cursor() as cur:
            cur.execute(EVENTS_IN_WINDOW_SQL, (start, end))
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def data_in_the_default_window(stack, airflow) -> tuple[datetime, datetime, int]:
    """The default backfill window (the last full UTC day) with events in the source: demo data spreads its
    events over the last 30 days, so one small run fills yesterday when nothing else has."""
    start, end = default_window(datetime.now(UTC))
    if events_in_window(stack, start, end) == 0:
        run_ok(airflow, "demo_data", {"users": 20, "events": 3000})
    count = events_in_window(stack, start, end)
    assert count > 0, f"demo_data wrote no event in {start} .. {end}"
    return start, end, count


def backfill_through_rest(airflow, dag_id: str, logical_date: datetime, timeout: float = 300) -> dict:
    """`POST /api/v2/backfills` for one date, as the UI's backfill form or `airflow backfill create` makes it;
    returns the finished run (reprocessed if an earlier test made it)."""
    airflow.unpause(dag_id)
    stamp = logical_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    backfill = airflow.request("POST", "/backfills", json={
        "dag_id": dag_id, "from_date": stamp, "to_date": stamp, "reprocess_behavior": "completed",
        "max_active_runs": 1})
    deadline = time.monotonic() + timeout
    while airflow.request("GET", f"/backfills/{backfill['id']}")["completed_at"] is None:
        assert time.monotonic() < deadline, f"backfill {backfill['id']} of {dag_id} not completed in {timeout:.0f}s"
        time.sleep(0.5)
    runs = airflow.request("GET", f"/dags/{dag_id}/dagRuns", params={
        "run_type": "backfill", "logical_date_gte": stamp, "logical_date_lte": stamp})["dag_runs"]
    assert len(runs) == 1, runs
    return runs[0]
