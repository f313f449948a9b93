"""
### reports

Builds the reports from both schemas side by side and records where they differ:

* every active user's report (users with events in the period) from `default` and from `debezium`
  into `ops.user_reports`;
* the overview from each schema, and the run's verdict, into `ops.report_runs`;
* every field that differs between the schemas into `ops.report_differences`.

Each run's charts (both overviews side by side, one scale per chart) are at
`/bionicflow/report-runs/<run_id>` in the Airflow UI, linked from Browse → CDC vs batch.

The period (UTC):

* `from` / `to` given (ISO dates or date-times; a date `to` includes that day): that period;
* a scheduled run, or a run of `airflow backfill create`: the day before its logical date
  (the run at midnight of Dec 7 reports on Dec 6);
* any other run with an empty form (Trigger, REST, `airflow dags trigger`, another DAG): the
  30 days up to the moment it was triggered, the default of the reports API.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, get_current_context, task

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow_airflow.dag_defaults import dag_kwargs

SCHEMAS = [DEFAULT_DB, CDC_DB]

# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="reports",
    description="Build and store every user's report from both schemas and record their differences.",
    schedule="@daily",
    **dag_kwargs(retry_seconds=30),
    max_active_runs=1,
    tags=["bionicflow", "reports"],
    doc_md=__doc__,
    params={
        "from": Param(None, type=["null", "string"],
                      description="Start (inclusive), e.g. 2026-11-01, UTC. With `to` also empty: a scheduled run "
                                  "reports on the previous day, a manual run on the 30 days up to now."),
        "to": Param(None, type=["null", "string"],
                    description="End: a date includes that day; e.g. 2026-11-30. Empty, with `from` given: now."),
    },
)
def reports():
    @task(multiple_outputs=True, retries=0)  # bad params are not transient: fail at once, before anything is written
    def plan() -> dict:
        from bionicflow.kernel.config import get_settings
        from bionicflow.kernel.ops_schema import ensure as ensure_tables
        from bionicflow.reports.store import period_from_run
        from bionicflow_airflow import ClickHouseHook

        ctx = get_current_context()
        run = ctx["dag_run"]
        period = period_from_run(dict(ctx["params"]), get_settings().reports_max_period_days,
                                 run_type=run.run_type, run_after=run.run_after, logical_date=run.logical_date,
                                 interval_start=run.data_interval_start, interval_end=run.data_interval_end)
        ensure_tables(ClickHouseHook().get_client())
        log.info("%s run: reporting on %s .. %s (UTC, end exclusive)", run.run_type.value, period.start.isoformat(),
                 period.end.isoformat())
        return period.as_dict()

    @task(multiple_outputs=True, map_index_template="{{ task.op_kwargs['schema'] }}")  # the UI names it by schema
    def build(schema: str, period: dict) -> dict:
        from bionicflow.reports import Period
        from bionicflow.reports.store import store_user_reports
        from bionicflow_airflow import ClickHouseHook

        run_id = get_current_context()["run_id"]
        users = store_user_reports(ClickHouseHook().get_client(), run_id, schema,
                                   Period.parse(period["from"], period["to"]))
        log.info("%s: stored the reports of %s active users", schema, users)
        return {"schema": schema, "users": users}

    @task(multiple_outputs=True)
    def compare(period: dict, built: list[dict]) -> dict:
        from urllib.parse import quote

        from bionicflow.reports import Period
        from bionicflow.reports.store import store_run
        from bionicflow_airflow import ClickHouseHook

        result = store_run(ClickHouseHook().get_client(), get_current_context()["run_id"],
                           Period.parse(period["from"], period["to"]), {b["schema"]: b["users"] for b in built})
        log.info("users reported %s; differing users fields %s, differing overview fields %s",
                 result.users_reported, result.user_differences, result.overview_differences)
        log.info("charts of this run: /bionicflow/report-runs/%s (also linked from Browse -> CDC vs batch)",
                 quote(get_current_context()["run_id"], safe=""))
        return {"identical": result.identical, "users_reported": result.users_reported}

    period = plan()
    # a task called in a DAG takes XComArgs; Airflow's typing expects the values themselves
    compare(period, build.partial(period=period).expand(schema=SCHEMAS))  # type: ignore[arg-type]


reports()
