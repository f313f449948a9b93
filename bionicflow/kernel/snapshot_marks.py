"""The report snapshots' marking contract: the table every writer marks its users stale in.

Per-user report snapshots (bionicflow/reports/snapshots.py builds and reads them) live in
`<schema>.user_report_snapshots` in `default` and in `debezium`: one row per user with the
profile and every event. A row's kind is its `state`; the one with the highest `version` is
the user's current one:

* built (0): `payload` holds the profile and all the user's events as the tables held them;
* stale (1): something changed the user's rows; a report reads the tables themselves;
* live only (2): more events than a snapshot holds, or a value JSON cannot carry.

Versions are the OLAP server's clock in microseconds, doubled: a stale mark is even
(`2 * now`), a built row odd (`2 * (build start - settle) + 1`). So a built row outranks only
the marks made more than `settle` seconds before its build began, and any change marked
later keeps the user stale until the next build. `settle` covers the time between a mark's
clock reading and the commit of the rows it marks (ClickHouse does not order a table's and
its views' writes): a change whose mark is older than that is in what the build reads.

This module is what both roads share (so it is the kernel's): the table and its two marking
views, created with each road's schema, and the marks for writes no view sees — a full
refresh's `EXCHANGE TABLES`, the batch road's lightweight `DELETE`s, the CDC TRUNCATE purge —
made just before and just after them (`marking`, `mark_all`): the users a write will touch
are read before it and marked by name both times. docs/reports.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Iterator
from contextlib import contextmanager

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, TABLES

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

TABLE = "user_report_snapshots"
BUILT, STALE, LIVE_ONLY = 0, 1, 2
SCHEMAS = (DEFAULT_DB, CDC_DB)
MARKED_TABLES = tuple(t.name for t in TABLES)  # users and telemetry_events: both carry user_uuid
NOW_SQL = "SELECT toUnixTimestamp64Micro(now64(6))"


def check_schema(schema: str) -> str:
    if schema not in SCHEMAS:
        raise ValueError(f"no report snapshots in schema {schema!r}: use one of {', '.join(SCHEMAS)}")
    return schema


def table_ddl(schema: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {check_schema(schema)}.{TABLE}\n(\n"
        "    user_uuid String,\n"
        "    state UInt8,\n"
        "    payload String CODEC(ZSTD(1)),\n"
        "    version UInt64\n"
        ")\n"
        "ENGINE = ReplacingMergeTree(version)\n"
        # a report reads one user's rows: small granules keep that to a few kilobytes; the uuid
        # after its hash keeps two users whose hashes collide apart (the engine replaces by key)
        "ORDER BY (cityHash64(user_uuid), user_uuid)\n"
        "SETTINGS index_granularity = 256"
    )


def mark_view_ddl(schema: str, table: str) -> str:
    """The view marking stale the users of every block inserted into `schema.table`."""
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {check_schema(schema)}.{TABLE}_marks_{table} TO {schema}.{TABLE}\nAS\n"
        f"SELECT DISTINCT user_uuid, toUInt8({STALE}) AS state, '' AS payload,\n"
        f"       toUnixTimestamp64Micro(now64(6)) * 2 AS version\nFROM {schema}.{table}"
    )


def render(schema: str) -> list[str]:
    """The snapshot table and its views (after the schema's own tables; all idempotent)."""
    return [table_ddl(schema), *(mark_view_ddl(schema, t) for t in MARKED_TABLES)]


def server_micros(olap: OlapClient) -> int:
    return int(olap.command(NOW_SQL))


# --- marking, for writes no view sees ---------------------------------------------------------

def _mark_sql(schema: str, source: str, condition: str) -> str:
    return (f"INSERT INTO {check_schema(schema)}.{TABLE} (user_uuid, state, payload, version)\n"
            f"SELECT DISTINCT user_uuid, {STALE}, '', toUnixTimestamp64Micro(now64(6)) * 2\n"
            f"FROM {schema}.{source} WHERE {condition}")


def mark_where_sql(schema: str, table: str, condition: str) -> str:
    """Mark stale the users of the rows of `schema.table` matching `condition` (SQL the caller owns)."""
    if table not in MARKED_TABLES:
        raise ValueError(f"{table!r} holds no user_uuid: use one of {', '.join(MARKED_TABLES)}")
    return _mark_sql(schema, table, condition)


def remark_sql(schema: str) -> str:
    """Mark again every user marked stale at or after a version (the users a `marking` block marked)."""
    return _mark_sql(schema, TABLE, f"state = {STALE} AND version >= {{since:UInt64}}")


# a write touching more users than this is marked for every user after it (cheaper than the list)
CAPTURED_USERS_LIMIT = 10_000
# names per marking statement: bound parameters travel in the URL, which holds ~64 KB (docs/olap-server.md)
USERS_PER_MARK = 1_000


def users_where_sql(schema: str, table: str, condition: str) -> str:
    """The users of the rows of `schema.table` matching `condition`, at most one more than the limit."""
    if table not in MARKED_TABLES:
        raise ValueError(f"{table!r} holds no user_uuid: use one of {', '.join(MARKED_TABLES)}")
    return (f"SELECT DISTINCT user_uuid FROM {check_schema(schema)}.{table} WHERE {condition} "
            f"LIMIT {CAPTURED_USERS_LIMIT + 1}")


def mark_users_sql(schema: str) -> str:
    """Mark stale the users named by the parameter `users`."""
    return (f"INSERT INTO {check_schema(schema)}.{TABLE} (user_uuid, state, payload, version)\n"
            f"SELECT arrayJoin({{users:Array(String)}}), {STALE}, '', toUnixTimestamp64Micro(now64(6)) * 2")


@contextmanager
def marking(olap: OlapClient, schema: str, table: str, condition: str,
            parameters: dict | None = None) -> Iterator[None]:
    """Around a write no view sees (a DELETE): mark its users stale before it, and again after it.

    The first marks keep reports off the snapshots while the write runs; the second outrank
    any build that read the rows before the write finished (also when the write fails half-way).
    The users are read before the write and marked again by name: a merge during a slow write
    may replace a first mark by a build's row, so the marks cannot be looked for afterwards.
    """
    since = server_micros(olap) * 2
    parameters = parameters or {}
    users = [row[0] for row in olap.query(users_where_sql(schema, table, condition), parameters=parameters).result_rows]
    if len(users) > CAPTURED_USERS_LIMIT:
        olap.command(mark_where_sql(schema, table, condition), parameters=parameters)
    else:
        _mark_users(olap, schema, users)
    try:
        yield
    finally:
        if len(users) > CAPTURED_USERS_LIMIT:
            mark_all(olap, schema)
        else:
            _mark_users(olap, schema, users)
        # and the users the views marked while it ran (rows inserted meanwhile)
        olap.command(remark_sql(schema), parameters={"since": since})


def _mark_users(olap: OlapClient, schema: str, users: list[str]) -> None:
    for start in range(0, len(users), USERS_PER_MARK):
        olap.command(mark_users_sql(schema), parameters={"users": users[start:start + USERS_PER_MARK]})


def mark_all(olap: OlapClient, schema: str) -> None:
    """Mark stale every user with a snapshot (around a table swap: call just before and just after it)."""
    olap.command(_mark_sql(schema, TABLE, "1"))
