"""Initial load of the `debezium` tables by ClickHouse pulling from PostgreSQL (opt-in).

Debezium's own snapshot (`snapshot.mode = initial`, the default) sends every existing row through
Kafka Connect's JSON converter, Kafka and the views: ~7,000 rows/s on 2 cores. With the initial
load "olap" a connector is created with `snapshot.mode = no_data` (it streams the changes made
after its replication slot exists) and ClickHouse copies the tables itself with `postgresql()`,
as the batch road does (docs/cdc.md, docs/benchmarks.md).

Why the result is exact: the copy starts after the slot exists, so every change the copy misses
is in the stream; copied rows carry `_version` 0 and every streamed change its offset + 1, so
under FINAL a streamed change always wins over the copy, also one the copy already saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging
import time

import psycopg2

from bionicflow.cdc.connectors import ConnectorSpec, KafkaConnectClient, load_connectors
from bionicflow.cdc.ddl import DATABASE, TABLES, Table
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.sources import LOAD_SETTINGS, CopiedTable, PgSource, source_params, source_select

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.cdc.initial_load")

MODES = ("debezium", "olap")
NO_DATA = "no_data"
# Seconds a client should allow one table's copy (~3 s per million rows on 2 cores, docs/benchmarks.md).
COPY_TIMEOUT = 3600

INITIAL_LOADS_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.initial_loads
(
    table LowCardinality(String),
    rows UInt64,
    seconds Float64,
    finished_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (table, finished_at)"""

# Confirmed once the slot is built: from then on every committed change is kept for the connector.
SLOT_READY_SQL = "SELECT confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = %s"


class InitialLoadError(BionicflowError):
    """The initial load cannot run (unknown mode, no slot, no source for a table)."""


def check_mode(initial_load: str) -> None:
    if initial_load not in MODES:
        raise InitialLoadError(f"unknown initial load {initial_load!r}: use 'debezium' (Debezium's snapshot, "
                               "the default) or 'olap' (ClickHouse copies the tables, the connectors stream)")


def snapshot_mode(spec: ConnectorSpec, current: dict | None, initial_load: str) -> str:
    """The connector's `snapshot.mode`: chosen when it is created, kept by every later update.

    Switching the mode of a connector that already streams would re-snapshot every row
    (to `initial` before its first offset) or leave a table without its existing rows.
    """
    check_mode(initial_load)
    if current is not None:
        return current.get("snapshot.mode", spec.config["snapshot.mode"])
    return NO_DATA if initial_load == "olap" else spec.config["snapshot.mode"]


def connector_tables(spec: ConnectorSpec) -> list[Table]:
    """The `debezium` tables fed by this connector (from its topic prefix)."""
    prefix = spec.config["topic.prefix"]
    return [t for t in TABLES if t.topic == f"{prefix}.public.{t.source_table}"]


def copy_sql(table: Table) -> str:
    """INSERT of every source row as a snapshot read at version 0 (bound parameters: `source_params`)."""
    cols = [*table.business_columns, "_op", "_lsn", "_version", "_source_ts", "is_deleted"]
    meta = "'r' AS _op, 0 AS _lsn, 0 AS _version, now64(6) AS _source_ts, 0 AS is_deleted"
    return f"INSERT INTO {DATABASE}.{table.name} ({', '.join(cols)})\n{source_select(table, meta)}"


def wait_for_slot(source: PgSource, slot: str, timeout: float) -> None:
    """Poll PostgreSQL until the connector's replication slot is built; fail with the fix."""
    deadline = time.monotonic() + timeout
    conn = psycopg2.connect(host=source.host, port=source.port, dbname=source.database, user=source.user,
                            password=source.password, connect_timeout=10)
    conn.autocommit = True  # each poll sees the catalog as it is now
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute(SLOT_READY_SQL, (slot,))
                row = cur.fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise InitialLoadError(
                        f"replication slot {slot} is not ready after {timeout:.0f}s in {source.database}, so an "
                        "initial copy could miss changes; check the connector's task (`bionicflow status`) and run "
                        "the bootstrap again")
                time.sleep(0.5)  # polling interval; the loop condition decides
    finally:
        conn.close()


def copied_tables(olap: OlapClient) -> set[str]:
    olap.command(INITIAL_LOADS_DDL)
    return {row[0] for row in olap.query(f"SELECT DISTINCT table FROM {DATABASE}.initial_loads").result_rows}


def copy_table(olap: OlapClient, table: Table, source: PgSource) -> CopiedTable:
    """Copy the whole source table into `debezium`; recorded so a later bootstrap does not copy again."""
    started = time.perf_counter()
    olap.command(copy_sql(table), parameters=source_params(table, source), settings=LOAD_SETTINGS)
    seconds = time.perf_counter() - started
    rows = int(olap.command(f"SELECT count() FROM {DATABASE}.{table.name} WHERE _version = 0"))
    olap.insert(f"{DATABASE}.initial_loads", [[table.name, rows, seconds]], column_names=["table", "rows", "seconds"])
    return CopiedTable(table.name, rows, round(seconds, 2))


def load_missing(olap: OlapClient, connect: KafkaConnectClient, sources: dict[str, PgSource],
                 slot_timeout: float = 120) -> list[CopiedTable]:
    """Copy each table whose connector streams without a snapshot and that no earlier run copied.

    Idempotent: a copy interrupted before its record is simply made again (its rows are
    version 0, so a second copy changes nothing under FINAL).
    """
    done, copied = copied_tables(olap), []
    for spec in load_connectors():
        config = connect.config(spec.name) or {}
        if config.get("snapshot.mode") != NO_DATA:
            continue
        for table in connector_tables(spec):
            if table.name in done:
                continue
            if table.name not in sources:
                raise InitialLoadError(f"no PostgreSQL source given for {table.name}; cannot copy it")
            wait_for_slot(sources[table.name], spec.slot, slot_timeout)
            log.info("initial load of %s.%s: copying from PostgreSQL", DATABASE, table.name)
            copied.append(copy_table(olap, table, sources[table.name]))
            log.info("initial load of %s.%s: %s rows in %.1fs", DATABASE, table.name, copied[-1].rows,
                     copied[-1].seconds)
    return copied
