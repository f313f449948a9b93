"""Batch loads of `default.*`: ClickHouse pulls from PostgreSQL with `postgresql()`.

No Python row loop: one `INSERT ... SELECT FROM postgresql(...)` per table, with every
value (host, credentials, window bounds, version) bound as a query parameter and every
identifier taken from the project's own table definitions, never from input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bionicflow.cdc.schema import TABLES, CdcTable
from bionicflow.errors import BionicflowError
from bionicflow.etl.schema import DEFAULT_DB, OPS_DB, default_table_ddl

# The column each table's incremental window runs on (the brief's time columns).
WINDOW_COLUMN = {"users": "registered_at", "telemetry_events": "created_ts"}
TABLES_BY_NAME = {t.name: t for t in TABLES}


class LoadError(BionicflowError):
    """A load was asked for something impossible (unknown table, inverted window ...)."""


@dataclass(frozen=True)
class PgSource:
    """Where ClickHouse reads a source table; the password never enters the SQL text."""

    host: str
    port: int
    database: str
    user: str
    password: str


@dataclass(frozen=True)
class LoadResult:
    table: str
    mode: str
    rows: int
    seconds: float
    window_start: datetime | None = None
    window_end: datetime | None = None


def source_select(table: CdcTable, meta: str) -> str:
    """SELECT of the table's business columns from PostgreSQL, then `meta` (more select items)."""
    # CAST to the target type: PostgreSQL uuid arrives as UUID, int4 as Int32, and so on.
    exprs = [f'CAST("{c.source}" AS {c.type}) AS {c.name}' for c in table.columns]
    return (
        "SELECT " + ", ".join(exprs) + f", {meta}\n"
        "FROM postgresql({address:String}, {database:String}, {source_table:String}, {user:String}, {password:String})"
    )


def load_sql(table: CdcTable, target: str, windowed: bool) -> str:
    cols = ", ".join([*table.business_columns, "_version"])
    sql = f"INSERT INTO {DEFAULT_DB}.{target} ({cols})\n{source_select(table, '{version:UInt64} AS _version')}"
    if windowed:
        column = WINDOW_COLUMN[table.name]
        sql += f'\nWHERE "{column}" >= {{start:DateTime64(6)}} AND "{column}" < {{end:DateTime64(6)}}'
    return sql


def reader_sources(settings) -> dict[str, PgSource]:
    """Each table's source as the read-only ETL role reads it (what Airflow's `*_reader` connections hold)."""
    user, password = settings.etl_reader_user, settings.etl_reader_password.get_secret_value()
    return {"users": PgSource(settings.host, settings.crm_db_port, "crm_db", user, password),
            "telemetry_events": PgSource(settings.host, settings.telemetry_db_port, "telemetry_db", user, password)}


def source_params(table: CdcTable, source: PgSource, **extra) -> dict:
    """The bound parameters of `source_select`, plus `extra`."""
    return {
        "address": f"{source.host}:{source.port}", "database": source.database, "source_table": table.olap_relation,
        "user": source.user, "password": source.password, **extra,
    }


def resolve_table(name: str) -> CdcTable:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise LoadError(f"unknown table {name!r}: choose from {', '.join(TABLES_BY_NAME)}") from None


def check_window(start: datetime, end: datetime, max_days: int = 3660) -> None:
    if end <= start:
        raise LoadError(f"window end {end.isoformat()} is not after its start {start.isoformat()}")
    if end - start > timedelta(days=max_days):
        raise LoadError(f"window of {(end - start).days} days is longer than {max_days}; use full refresh instead")


def _version() -> int:
    # Microseconds since the epoch: a later load always wins under FINAL.
    return time.time_ns() // 1000


# A load's rows have unique keys (the source's primary key), so the replacing engine's
# deduplication of each inserted block finds nothing to do; skipping it made the full
# refresh of 1M users + 5M events ~1.3x faster (docs/benchmarks.md). FINAL still collapses
# versions across loads.
LOAD_SETTINGS = {"optimize_on_insert": 0}


def _count(olap, target: str) -> int:
    return int(olap.command(f"SELECT count() FROM {DEFAULT_DB}.{target}"))


def load_window(olap, table: CdcTable, source: PgSource, start: datetime, end: datetime) -> LoadResult:
    """Re-load the rows whose time column falls in [start, end); idempotent."""
    check_window(start, end)
    olap.command(default_table_ddl(table))
    started = time.perf_counter()
    summary = olap.query(load_sql(table, table.name, windowed=True),
                         parameters=source_params(table, source, version=_version(), start=start, end=end),
                         settings=LOAD_SETTINGS)
    rows = int(summary.summary.get("written_rows", 0)) if summary.summary else 0
    return LoadResult(table.name, "window", rows, time.perf_counter() - started, start, end)


def full_refresh(olap, table: CdcTable, source: PgSource) -> LoadResult:
    """Build a fresh copy of the table and swap it in atomically: deleted source rows disappear."""
    staging = f"{table.name}__refresh"
    olap.command(default_table_ddl(table))
    olap.command(f"DROP TABLE IF EXISTS {DEFAULT_DB}.{staging}")
    olap.command(default_table_ddl(table, name=staging))
    started = time.perf_counter()
    olap.command(load_sql(table, staging, windowed=False), parameters=source_params(table, source, version=_version()),
                 settings=LOAD_SETTINGS)
    rows = _count(olap, staging)
    olap.command(f"EXCHANGE TABLES {DEFAULT_DB}.{table.name} AND {DEFAULT_DB}.{staging}")
    olap.command(f"DROP TABLE {DEFAULT_DB}.{staging}")
    return LoadResult(table.name, "full", rows, time.perf_counter() - started)


def record(olap, run_id: str, result: LoadResult) -> None:
    olap.insert(
        f"{OPS_DB}.etl_runs",
        [[run_id, result.table, result.mode, result.window_start, result.window_end, result.rows, result.seconds]],
        column_names=["run_id", "table", "mode", "window_start", "window_end", "rows", "seconds"],
    )
