"""Stored reports (the `reports` DAG): every active user's report and the overview, per schema,
and the differences between the two schemas, in ClickHouse schema `ops`.

A user's stored report holds the scalar fields of the API's user report (events, active days,
amplitude/frequency/duration statistics) computed for all users in one pass per schema; the
breakdowns (per type, per muscle group, per day) are served on demand by reports_api.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.reports.build import SCHEMAS, check_schema, overview
from bionicflow.reports.differences import compare_reports, same
from bionicflow.reports.period import Period
from bionicflow.reports.queries import EVENT_DAY, EVENTS_IN_PERIOD
from bionicflow.reports.reader import ClickHouseReader, bind

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

# Users with at least one event in the period; the same aggregates as the user report's totals.
STORE_USER_REPORTS = f"""
INSERT INTO ops.user_reports
SELECT {{run_id:String}}, {{schema_name:String}}, user_uuid,
       {{start:DateTime64(6, 'UTC')}}, {{end:DateTime64(6, 'UTC')}},
       count(), uniqExact({EVENT_DAY}),
       avg(signal_amplitude), min(signal_amplitude), max(signal_amplitude),
       avg(signal_frequency), avg(signal_duration), sum(signal_duration)
FROM {{schema:Identifier}}.telemetry_events FINAL
WHERE {EVENTS_IN_PERIOD}
GROUP BY user_uuid"""
USER_REPORT_FIELDS = ("events_total", "active_days", "amplitude_avg", "amplitude_min", "amplitude_max",
                      "frequency_avg", "duration_avg", "duration_total")
STORED_USER_REPORTS = f"""
SELECT user_uuid, {', '.join(USER_REPORT_FIELDS)}
FROM ops.user_reports
WHERE run_id = {{run_id:String}} AND schema = {{schema_name:String}}"""
DIFFERENCE_COLUMNS = ["run_id", "report", "user_uuid", "field", "default_value", "debezium_value"]
RECORD_RUN_COLUMNS = ["run_id", "period_start", "period_end", "users_reported", "overviews", "identical", "differences"]


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    users_reported: dict[str, int]
    user_differences: int
    overview_differences: int

    @property
    def identical(self) -> bool:
        return not (self.user_differences or self.overview_differences)


def store_user_reports(client: OlapClient, run_id: str, schema: str, period: Period) -> int:
    """Write every active user's report from `schema`; returns how many users."""
    params = bind({"run_id": run_id, "schema_name": check_schema(schema), "schema": schema,
                   "start": period.start, "end": period.end})
    client.command(STORE_USER_REPORTS, parameters=params)
    return int(client.command("SELECT count() FROM ops.user_reports WHERE run_id = {r:String} AND schema = {s:String}",
                              parameters={"r": run_id, "s": schema}))


def _stored(client: OlapClient, run_id: str, schema: str) -> dict[str, Sequence[Any]]:
    rows = client.query(STORED_USER_REPORTS, parameters={"run_id": run_id, "schema_name": schema}).result_rows
    return {row[0]: row[1:] for row in rows}


def user_differences(client: OlapClient, run_id: str) -> list[list]:
    """Rows of ops.report_differences for users whose stored reports differ between the schemas."""
    left, right = (_stored(client, run_id, s) for s in SCHEMAS)
    out = []
    for user in sorted(left.keys() | right.keys()):
        a, b = left.get(user), right.get(user)
        if a is None or b is None:
            out.append([run_id, "user", user, "(report)", "present" if a else "absent", "present" if b else "absent"])
            continue
        out += [[run_id, "user", user, field, str(x), str(y)]
                for field, x, y in zip(USER_REPORT_FIELDS, a, b, strict=True) if not same(x, y)]
    return out


def store_run(client: OlapClient, run_id: str, period: Period, users_reported: dict[str, int]) -> StoredRun:
    """Build both overviews, compare everything, record the run and its differences."""
    reader = ClickHouseReader(client)
    overviews = {schema: overview(reader, schema, period) for schema in SCHEMAS}
    comparison = compare_reports(overviews)
    rows = user_differences(client, run_id)
    rows += [[run_id, "overview", "", d["field"], str(d[DEFAULT_DB]), str(d[CDC_DB])]
             for d in comparison["differences"]]
    if rows:
        client.insert("ops.report_differences", rows, column_names=DIFFERENCE_COLUMNS)
    result = StoredRun(run_id, users_reported, sum(1 for r in rows if r[1] == "user"), len(comparison["differences"]))
    client.insert("ops.report_runs", [[run_id, period.start, period.end, users_reported,
                                       json.dumps(overviews, default=str), int(result.identical), len(rows)]],
                  column_names=RECORD_RUN_COLUMNS)
    return result


# Airflow 3's run types (DagRun.run_type) that stand for a date of the schedule; the others
# (manual, operator_triggered, asset_triggered, asset_materialization) are started on demand.
SCHEDULE_RUN_TYPES = ("scheduled", "backfill")


def period_from_run(params: dict, max_days: int, *, run_type: str, run_after: datetime,
                    logical_date: datetime | None = None, interval_start: datetime | None = None,
                    interval_end: datetime | None = None) -> Period:
    """The period of a `reports` run (docs/reports.md, "The `reports` DAG").

    * `from` / `to`, when either is given, win (a missing one defaults as in the API);
    * a scheduled or backfill run: its data interval when it has one (a timetable with
      intervals), else the UTC day before its logical date. Airflow 3's cron schedules give a
      zero-length interval at the logical date, so `@daily`'s run at midnight of D reports on D-1;
    * any other run (manual, triggered by a DAG or an asset): the API's default, the 30 days
      up to the run's `run_after` (when it was triggered).
    """
    start, end = params.get("from") or None, params.get("to") or None
    if start or end:
        return Period.parse(start, end, now=run_after, max_days=max_days)
    if str(getattr(run_type, "value", run_type)) not in SCHEDULE_RUN_TYPES:
        return Period.parse(None, None, now=run_after, max_days=max_days)
    if interval_start and interval_end and interval_start < interval_end:
        return Period.parse(interval_start.isoformat(), interval_end.isoformat(), max_days=max_days)
    day = _utc(logical_date or run_after).date() - timedelta(days=1)
    return Period.parse(day.isoformat(), day.isoformat(), max_days=max_days)  # a date `to` includes its day


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value
