"""Per-user report snapshots: one row per user with the profile and every event, so a report reads one row.

The table, its row kinds and versions, and who marks users stale are the kernel's contract
(bionicflow/kernel/snapshot_marks.py: both roads mark). This module is the reports' side:
reading a user's current snapshot (`READ`, `current`) and building them — `refresh` (the
`report_snapshots` DAG, every few minutes) builds the users marked stale longer than `settle`
ago and the users with no row yet. docs/reports.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bionicflow.kernel.snapshot_marks import BUILT, LIVE_ONLY, STALE, TABLE, check_schema, server_micros
from bionicflow.reports.reader import Rows

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

DEFAULT_SETTLE_SECONDS = 10
DEFAULT_MAX_EVENTS = 2000


# --- reading ----------------------------------------------------------------------------------

# Every row the user has (a few until the engine merges them); the caller takes the newest.
# The hash is spelled out: with user_uuid itself in the sorting key, the engine matches
# `user_uuid = x` to that second key column and reads every granule (it does not hash the
# constant, as it does for tables keyed by the hash alone); the hash finds the user's granule by
# binary search. Measured in-process on a user not read before: 12.2 -> 2.2 ms
# (tests/unit/reports/test_snapshots.py checks the granules read; docs/benchmarks.md).
READ = ("SELECT version, state, payload FROM {schema:Identifier}.user_report_snapshots\n"
        "PREWHERE cityHash64(user_uuid) = cityHash64({user_uuid:String}) AND user_uuid = {user_uuid:String}")


@dataclass(frozen=True)
class Event:
    created_us: int  # created_ts, microseconds since the epoch (UTC)
    prosthesis_type: str
    muscle_group: str
    amplitude: float
    frequency: int
    duration: int


@dataclass(frozen=True)
class Snapshot:
    profile: dict | None  # None: the user is not in the schema's `users`
    events: list[Event]

    def in_period(self, start: datetime, end: datetime) -> list[Event]:
        """The events with start <= created_ts < end (naive UTC bounds, as reports.period gives)."""
        lo, hi = _micros(start), _micros(end)
        return [e for e in self.events if lo <= e.created_us < hi]


_EPOCH = datetime(1970, 1, 1)


def _micros(value: datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (value - _EPOCH) // timedelta(microseconds=1)


def day_of(created_us: int):
    return (_EPOCH + timedelta(microseconds=created_us)).date()


def current(rows: Rows) -> Snapshot | None:
    """The user's snapshot from READ's rows; None when the report must read the tables (stale, live only, none)."""
    if not rows:
        return None
    _version, state, payload = max(rows, key=lambda r: r[0])
    return decode(payload) if state == BUILT else None


def _json_integer(text: str) -> int | float:
    # the engine writes a whole Float64 as an integer, and -0.0 as `-0`: only a float keeps that sign
    return -0.0 if text == "-0" else int(text)


def decode(payload: str) -> Snapshot:
    found, name, country, age, gender, created, types, groups, amps, freqs, durs = json.loads(
        payload, parse_int=_json_integer)
    profile = {"name": name, "country": country, "age": age, "gender": gender} if found else None
    # Int64 microseconds come as JSON strings where the engine quotes 64-bit integers (a clickhouse-server's
    # default; refresh_sql asks it not to, a payload written otherwise still reads)
    created = [int(c) for c in created]
    # amplitudes are Float64: a whole one (1e20 comes as 100000000000000000000) is summed as the engine sums
    # it, in floating point, not exactly as a Python int would be
    amps = [float(a) for a in amps]
    return Snapshot(profile, [Event(*e) for e in zip(created, types, groups, amps, freqs, durs, strict=True)])


# --- building ---------------------------------------------------------------------------------

def _targets(schema: str) -> str:
    """Users stale since before the cut-off, and users of the tables that have no row yet."""
    return (
        f"SELECT user_uuid FROM {schema}.{TABLE} GROUP BY user_uuid\n"
        f"HAVING argMax(state, version) = {STALE} AND max(version) < {{settled:UInt64}}\n"
        f"UNION DISTINCT SELECT user_uuid FROM {schema}.users "
        f"WHERE user_uuid NOT IN (SELECT user_uuid FROM {schema}.{TABLE})\n"
        f"UNION DISTINCT SELECT user_uuid FROM {schema}.telemetry_events\n"
        f"  WHERE user_uuid NOT IN (SELECT user_uuid FROM {schema}.{TABLE})"
    )


def _everyone(schema: str) -> str:
    return (f"SELECT user_uuid FROM {schema}.{TABLE} UNION DISTINCT SELECT user_uuid FROM {schema}.users\n"
            f"UNION DISTINCT SELECT user_uuid FROM {schema}.telemetry_events")


def refresh_sql(schema: str, everyone: bool = False) -> str:
    """Build the rows of the targets (or of every user) from the schema's current rows.

    FINAL: deleted rows are gone.
    """
    s = check_schema(schema)
    targets = _everyone(s) if everyone else _targets(s)
    return f"""INSERT INTO {s}.{TABLE} (user_uuid, state, payload, version)
SELECT t.user_uuid,
       if(e.n > {{max_events:UInt32}} OR e.non_finite > 0, {LIVE_ONLY}, {BUILT}) AS state,
       if(state = {BUILT},
          toJSONString(tuple(p.found, p.name, p.country, p.age, p.gender,
                             e.created, e.types, e.groups, e.amps, e.freqs, e.durs)),
          '') AS payload,
       {{settled:UInt64}} + 1 AS version
FROM ({targets}) AS t
LEFT JOIN (
    SELECT user_uuid, toUInt8(1) AS found, any(name) AS name, any(country) AS country, any(age) AS age,
           any(gender) AS gender
    FROM {s}.users FINAL WHERE user_uuid IN ({targets}) GROUP BY user_uuid
) AS p ON p.user_uuid = t.user_uuid
LEFT JOIN (
    SELECT user_uuid, count() AS n, countIf(NOT isFinite(signal_amplitude)) AS non_finite,
           groupArray(toUnixTimestamp64Micro(created_ts)) AS created, groupArray(prosthesis_type) AS types,
           groupArray(muscle_group) AS groups, groupArray(signal_amplitude) AS amps,
           groupArray(signal_frequency) AS freqs, groupArray(signal_duration) AS durs
    FROM {s}.telemetry_events FINAL WHERE user_uuid IN ({targets}) GROUP BY user_uuid
) AS e ON e.user_uuid = t.user_uuid
SETTINGS output_format_json_quote_64bit_integers = 0"""


def refresh(olap: OlapClient, schema: str, settle_seconds: float = DEFAULT_SETTLE_SECONDS,
            max_events: int = DEFAULT_MAX_EVENTS, everyone: bool = False) -> int:
    """Build the snapshots of the users stale for longer than `settle_seconds` and of users with none.

    Returns the rows written.

    `everyone`: rebuild every user's (after a write bionicflow did not make, e.g. a DELETE by
    hand); a change marked less than `settle_seconds` ago still keeps its user stale. The table
    is then merged to one part: the rebuild doubles its rows, and a report reads a granule from
    every part (each part not merged away costs every report ~0.25 ms, docs/benchmarks.md).
    """
    settled = (server_micros(olap) - int(settle_seconds * 1_000_000)) * 2
    summary = olap.query(refresh_sql(schema, everyone),
                         parameters={"settled": settled, "max_events": max_events}).summary
    if everyone:
        merge(olap, schema)
    return int((summary or {}).get("written_rows", 0))


ACTIVE_PARTS_SQL = "SELECT count() FROM system.parts WHERE active AND database = {d:String} AND table = {t:String}"


def merge(olap: OlapClient, schema: str) -> None:
    """Merge the table to one part (each part costs every report a granule read)."""
    olap.command(f"OPTIMIZE TABLE {check_schema(schema)}.{TABLE} FINAL")


def active_parts(olap: OlapClient, schema: str) -> int:
    return int(olap.command(ACTIVE_PARTS_SQL, parameters={"d": check_schema(schema), "t": TABLE}))
