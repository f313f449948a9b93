"""
### report_snapshots

Every 5 minutes: rebuilds the per-user report snapshots of `default` and `debezium`
(`<schema>.user_report_snapshots`, one row per user with the profile and every event), so a
user report reads one row instead of computing the report from the tables.

A run builds the users marked stale at least `BIONICFLOW_REPORTS_SNAPSHOT_SETTLE_SECONDS`
(10 s) ago — every insert marks its users, and so do the loads' deletes and table swaps and
the CDC TRUNCATE purge — and the users with no snapshot yet. Until then their reports are
computed from the tables: a snapshot is never older than the tables it was built from.

`everyone` (manual runs): rebuild every user's snapshot, e.g. after rows were deleted by
hand (a write bionicflow did not make marks nothing). docs/reports.md, "Report snapshots".
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, get_current_context, task

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow_airflow.dag_defaults import dag_kwargs

SCHEMAS = [DEFAULT_DB, CDC_DB]

log = logging.getLogger("airflow.task")


@dag(
    dag_id="report_snapshots",
    description="Rebuild the per-user report snapshots of both schemas for the users whose rows changed.",
    schedule="*/5 * * * *",
    **dag_kwargs(retry_seconds=30),
    max_active_runs=1,
    tags=["bionicflow", "reports"],
    doc_md=__doc__,
    params={"everyone": Param(False, type="boolean",
                              description="Rebuild every user's snapshot, not only the changed ones.")},
)
def report_snapshots():
    @task(multiple_outputs=True)
    def refresh(schema: str) -> dict:
        from bionicflow.kernel.config import get_settings
        from bionicflow.reports import snapshots
        from bionicflow_airflow import ClickHouseHook

        s = get_settings()
        everyone = bool(get_current_context()["params"].get("everyone"))
        rows = snapshots.refresh(ClickHouseHook().get_client(), schema, s.reports_snapshot_settle_seconds,
                                 s.reports_snapshot_max_events, everyone=everyone)
        log.info("%s: %s user snapshots built%s", schema, rows, " (every user)" if everyone else "")
        return {"schema": schema, "built": rows}

    refresh.expand(schema=SCHEMAS)


report_snapshots()
