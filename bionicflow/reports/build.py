"""Build reports from one schema: the user report and the overview, as plain dicts (JSON-ready)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from uuid import UUID

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.kernel.errors import BionicflowError
from bionicflow.reports import snapshots as report_snapshots
from bionicflow.reports import queries
from bionicflow.reports.period import Period
from bionicflow.reports.reader import OlapReader, Rows
from bionicflow.reports.rollup import Cell, cells_of, json_number, roll_up

SCHEMAS = (DEFAULT_DB, CDC_DB)
TOP_USERS = 10

log = logging.getLogger(__name__)


class UnknownUserError(BionicflowError, LookupError):
    """The user is not in the schema's `users` table."""


class UnknownSchemaError(BionicflowError, ValueError):
    """A schema reports cannot be built from."""


def check_schema(schema: str) -> str:
    if schema not in SCHEMAS:
        raise UnknownSchemaError(f"unknown schema {schema!r}: use one of {', '.join(SCHEMAS)}")
    return schema


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, (date, datetime)) else None


_recent_freshness: dict[tuple[int, str], tuple[float, dict]] = {}


def freshness(reader: OlapReader, schema: str, max_age: float = 0.0) -> dict:
    """The schema's newest event; with `max_age`, a value measured at most that many seconds ago may be reused.

    It scans a whole column, so a busy reports_api shares one measurement between requests.
    """
    key = (id(reader), schema)
    recent = _recent_freshness.get(key)
    if max_age and recent and time.monotonic() - recent[0] < max_age:
        return recent[1]
    newest, has_rows, age = reader.rows(queries.FRESHNESS, {"schema": schema})[0]
    value = ({"max_saved_ts": _iso(newest), "lag_seconds": round(max(0.0, float(age)), 3)} if has_rows
             else {"max_saved_ts": None, "lag_seconds": None})
    if schema == DEFAULT_DB:
        value |= last_batch_load(reader)
    _recent_freshness[key] = (time.monotonic(), value)
    return value


def last_batch_load(reader: OlapReader) -> dict:
    """When `default` was last loaded (the older of its tables) and how long ago; None before the first load."""
    loaded = {"last_load": None, "load_age_seconds": None}
    if not reader.rows(queries.BATCH_LOADS_EXIST, {"schema": DEFAULT_DB})[0][0]:
        return loaded
    at, age, tables = reader.rows(queries.LAST_BATCH_LOAD, {"schema": DEFAULT_DB})[0]
    if not tables:
        return loaded
    return {"last_load": _iso(at), "load_age_seconds": round(max(0.0, float(age)), 3)}


PROFILE_PART, EVENTS_PART = 0, 1


def _profile(rows: Rows) -> dict | None:
    found = next((row for row in rows if row[0] == PROFILE_PART), None)
    if found is None:
        return None
    _part, name, country, age, gender = found[:5]
    return {"name": name, "country": country, "age": age, "gender": gender}


def canonical_uuid(value: str) -> str:
    """The lower-case hyphenated form PostgreSQL prints (how the schemas store user_uuid)."""
    return str(UUID(str(value)))


_no_snapshot_table_until: dict[str, float] = {}
NO_SNAPSHOT_TABLE_RECHECK_S = 60.0


def _snapshot_rows(reader: OlapReader, schema: str, user_uuid: str) -> Rows:
    """The user's snapshot rows; none while the schema has no snapshot table (a stack not bootstrapped since)."""
    if time.monotonic() < _no_snapshot_table_until.get(schema, 0.0):
        return []
    try:
        return reader.rows(report_snapshots.READ, {"schema": schema, "user_uuid": user_uuid},
                           settings=queries.USER_REPORT_SETTINGS)
    except Exception as exc:
        if "UNKNOWN_TABLE" not in str(exc):
            raise
        log.warning("%s.%s is missing: reports are computed from the tables until it exists (the etl_default "
                    "or cdc_bootstrap DAG creates it)", schema, report_snapshots.TABLE)
        _no_snapshot_table_until[schema] = time.monotonic() + NO_SNAPSHOT_TABLE_RECHECK_S
        return []


def _from_snapshot(reader: OlapReader, schema: str, user_uuid: str,
                   period: Period) -> tuple[dict | None, list[Cell]] | None:
    """The profile and cells from the user's snapshot; None when the report must read the tables."""
    found = report_snapshots.current(_snapshot_rows(reader, schema, user_uuid))
    return None if found is None else (found.profile, cells_of(found.in_period(period.start, period.end)))


def _from_tables(reader: OlapReader, schema: str, user_uuid: str, period: Period) -> tuple[dict | None, list[Cell]]:
    rows = reader.rows(queries.USER_REPORT, {"schema": schema, "user_uuid": user_uuid,
                                             "start": period.start, "end": period.end},
                       settings=queries.USER_REPORT_SETTINGS)
    return _profile(rows), [Cell(*row[5:]) for row in rows if row[0] == EVENTS_PART]


def user_report(reader: OlapReader, schema: str, user_uuid: str, period: Period,
                freshness_max_age: float = 0.0) -> dict:
    """The user report for `user_uuid` over `period` from `schema`; UnknownUserError when absent.

    From the user's snapshot when it is current (one row read), else from the tables.
    """
    schema, user_uuid = check_schema(schema), canonical_uuid(user_uuid)
    snapshot = _from_snapshot(reader, schema, user_uuid, period)
    profile, cells = snapshot or _from_tables(reader, schema, user_uuid, period)
    if profile is None:
        raise UnknownUserError(f"user {user_uuid} is not in {schema}.users")
    report = {"user_uuid": user_uuid, "schema": schema, "period": period.as_dict(), "profile": profile}
    report.update(roll_up(cells))
    report["computed_from"] = "snapshot" if snapshot else "tables"
    report["freshness"] = freshness(reader, schema, freshness_max_age)
    report["generated_at"] = datetime.now(UTC).isoformat()
    return report


def overview(reader: OlapReader, schema: str, period: Period, top: int = TOP_USERS,
             freshness_max_age: float = 0.0) -> dict:
    """Totals, users with events, breakdowns by country / prosthesis type / muscle group, top users."""
    schema = check_schema(schema)
    params = {"schema": schema, "start": period.start, "end": period.end}
    events, active, amp, freq, dur = reader.rows(queries.OVERVIEW_TOTALS, params)[0]
    breakdown = reader.rows(queries.OVERVIEW_BREAKDOWN, params)
    section = lambda level, col: sorted(  # noqa: E731
        ({level: r[col], "events": r[3], "users": r[4], "avg_amplitude": json_number(r[5])}
         for r in breakdown if r[0] == level),
        key=lambda e: e[level])
    return {
        "schema": schema,
        "period": period.as_dict(),
        "totals": {"events": int(events), "users_with_events": int(active),
                   "users": int(reader.rows(queries.USERS_TOTAL, {"schema": schema})[0][0]),
                   "avg_amplitude": json_number(amp), "avg_frequency": json_number(freq),
                   "avg_duration": json_number(dur)},
        "by_country": [{"country": c, "events": e, "users": u}
                       for c, e, u in reader.rows(queries.OVERVIEW_BY_COUNTRY, params)],
        "by_prosthesis_type": section("prosthesis_type", 1),
        "by_muscle_group": section("muscle_group", 2),
        "top_users": [{"user_uuid": u, "name": n or None, "events": e}
                      for u, n, e in reader.rows(queries.OVERVIEW_TOP_USERS, {**params, "top": top})],
        "freshness": freshness(reader, schema, freshness_max_age),
        "generated_at": datetime.now(UTC).isoformat(),
    }
