"""Batch loads of `default.*`: ClickHouse pulls from PostgreSQL with `postgresql()`.

No Python row loop: one `INSERT ... SELECT FROM postgresql(...)` per table, with every
value (host, credentials, window bounds, version) bound as a query parameter and every
identifier taken from the project's own table definitions, never from input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bionicflow.kernel import snapshot_marks
from bionicflow.kernel.cursors import Cursor, read_source_state, write_cursor
from bionicflow.etl.journal import forget_read_changes
from bionicflow.etl.ddl import default_table_ddl
from bionicflow.kernel.sources import LOAD_SETTINGS, LoadError, PgSource, check_window, source_params, source_select
from bionicflow.kernel.tables import DEFAULT_DB, OPS_DB, TABLES_BY_NAME, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient


@dataclass(frozen=True)
class LoadResult:
    table: str
    mode: str  # incremental, full, window
    rows: int  # rows written
    seconds: float
    window_start: datetime | None = None
    window_end: datetime | None = None
    deleted: int = 0  # keys removed because the source no longer has them
    reason: str = ""  # why an incremental load refreshed the whole table instead
    cursor_xid: int | None = None  # where the next incremental load resumes
    skipped: str = ""  # work PostgreSQL's row counters showed unneeded ("row scan", "key sync")


def load_sql(table: Table, target: str, windowed: bool = False, since_column: str = "") -> str:
    """INSERT of the source's rows: all, those of a business-time window, or those written since a cursor.

    ``since_column``: the source column compared with the cursor: `_xid` (the row's writer, in
    the table's view) or `_change_xid` (the journal's, in the table's `changes_view`).
    """
    cols = ", ".join([*table.business_columns, "_version"])
    where = ""
    if windowed:
        column = table.business_time
        where = f'"{column}" >= {{start:DateTime64(6)}} AND "{column}" < {{end:DateTime64(6)}}'
    if since_column:
        where = f'"{since_column}" >= {{since:Int64}}'
    # ClickHouse passes the condition to PostgreSQL: only the selected rows travel
    return f"INSERT INTO {DEFAULT_DB}.{target} ({cols})\n{source_select(table, '{version:UInt64} AS _version', where)}"


def written_rows(summary: dict | None) -> int:
    """Rows an INSERT wrote, its views' rows included (clickhouse-connect's `QueryResult.summary`)."""
    return int((summary or {}).get("written_rows", 0))


LOADED_ROWS_SQL = f"SELECT count() FROM {DEFAULT_DB}.{{table:Identifier}} WHERE _version = {{version:UInt64}}"


def loaded_rows(olap: OlapClient, table: Table, version: int, summary: dict | None) -> int:
    """Rows a load of ``version`` wrote into `default.<table>`.

    The summary also counts what the table's views wrote (a report-snapshot mark per user):
    the load's own rows are counted by their version, when the summary says anything was written.
    """
    if not written_rows(summary):
        return 0
    return int(olap.command(LOADED_ROWS_SQL, parameters={"table": table.name, "version": version}))


def resolve_table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise LoadError(f"unknown table {name!r}: choose from {', '.join(TABLES_BY_NAME)}") from None


def new_version() -> int:
    # Microseconds since the epoch: a later load always wins under FINAL.
    return time.time_ns() // 1000


def _count(olap: OlapClient, target: str) -> int:
    return int(olap.command(f"SELECT count() FROM {DEFAULT_DB}.{target}"))


def _moved_keys(table: Table, version: int | None = None) -> str:
    """Keys with versions at more than one position: an update changed the sorting key (e.g. `user_uuid`).

    ``version``: only among the keys that load wrote (every key it moved is one of them).
    """
    prefix = ", ".join(table.sort_prefix)
    among = "" if version is None else (
        f"WHERE {table.key} IN (SELECT {table.key} FROM {DEFAULT_DB}.{table.name} WHERE _version = {int(version)}) ")
    return (f"SELECT {table.key}, groupArray(_version) AS versions, max(_version) AS newest "
            f"FROM {DEFAULT_DB}.{table.name} {among}GROUP BY {table.key} HAVING uniqExact(tuple({prefix})) > 1")


def count_moved_sql(table: Table, version: int | None = None) -> str:
    return f"SELECT count() FROM ({_moved_keys(table, version)})"


def _moved_rows(table: Table, version: int | None = None) -> str:
    """Every version but the newest of a moved key (the replacing engine keeps one version per
    sorting key, so a row whose `user_uuid` changed would otherwise stay twice under FINAL)."""
    return (f"({table.key}, _version) IN (SELECT {table.key}, arrayJoin(arrayFilter(v -> v != newest, versions)) "
            f"FROM ({_moved_keys(table, version)}))")


def drop_moved_sql(table: Table, version: int | None = None) -> str:
    return f"DELETE FROM {DEFAULT_DB}.{table.name} WHERE {_moved_rows(table, version)}"


def drop_moved_versions(olap: OlapClient, table: Table, version: int | None = None) -> int:
    """Remove the old positions of rows whose sorting key changed in the source; returns how many keys moved.

    ``version``: look only at the keys of the load that wrote this version (the version is an
    `int` the load computed itself, written into the SQL as a literal).
    """
    if not table.sort_prefix:
        return 0
    moved = int(olap.command(count_moved_sql(table, version)))
    if moved:
        # the old positions' users lose the rows: their report snapshots must not keep them
        with snapshot_marks.marking(olap, DEFAULT_DB, table.name, _moved_rows(table, version)):
            olap.command(drop_moved_sql(table, version))
    return moved


def load_window(olap: OlapClient, table: Table, source: PgSource, start: datetime, end: datetime) -> LoadResult:
    """Re-load the rows whose time column falls in [start, end); idempotent."""
    check_window(start, end)
    olap.command(default_table_ddl(table))
    started = time.perf_counter()
    version = new_version()
    rows = loaded_rows(olap, table, version, olap.query(
        load_sql(table, table.name, windowed=True),
        parameters=source_params(table, source, version=version, start=start, end=end), settings=LOAD_SETTINGS).summary)
    drop_moved_versions(olap, table, version)  # a row of the window whose user_uuid changed left its old position
    return LoadResult(table.name, "window", rows, time.perf_counter() - started, start, end)


def full_refresh(olap: OlapClient, table: Table, source: PgSource, run_id: str = "", reason: str = "") -> LoadResult:
    """Build a fresh copy of the table and swap it in atomically: deleted source rows disappear.

    The next incremental load resumes from the source's state read just before the copy.
    """
    state = read_source_state(olap, table, source)
    staging = f"{table.name}__refresh"
    olap.command(default_table_ddl(table))
    olap.command(f"DROP TABLE IF EXISTS {DEFAULT_DB}.{staging}")
    olap.command(default_table_ddl(table, name=staging))
    started = time.perf_counter()
    olap.command(load_sql(table, staging, windowed=False),
                 parameters=source_params(table, source, version=new_version()), settings=LOAD_SETTINGS)
    rows = _count(olap, staging)
    # a swap fires no view: every report snapshot is marked stale just before and just after it
    snapshot_marks.mark_all(olap, DEFAULT_DB)
    olap.command(f"EXCHANGE TABLES {DEFAULT_DB}.{table.name} AND {DEFAULT_DB}.{staging}")
    snapshot_marks.mark_all(olap, DEFAULT_DB)
    olap.command(f"DROP TABLE {DEFAULT_DB}.{staging}")
    write_cursor(olap, table, Cursor.after(state, "full"), run_id)
    forget_read_changes(source, table, state, state.snapshot_xmin)
    return LoadResult(table.name, "full", rows, time.perf_counter() - started, reason=reason,
                      cursor_xid=state.snapshot_xmin)


def _utc(value: datetime | None) -> datetime | None:
    # clickhouse-connect reads a naive date-time in the process's zone; a window is naive UTC
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def record(olap: OlapClient, run_id: str, result: LoadResult) -> None:
    olap.insert(
        f"{OPS_DB}.etl_runs",
        [[run_id, result.table, result.mode, _utc(result.window_start), _utc(result.window_end), result.rows,
          result.seconds,
          result.deleted, result.reason, result.cursor_xid, result.skipped]],
        column_names=["run_id", "table", "mode", "window_start", "window_end", "rows", "seconds", "deleted", "reason",
                      "cursor_xid", "skipped"],
    )
