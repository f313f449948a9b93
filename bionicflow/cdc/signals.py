"""Debezium ad hoc incremental snapshots, requested through the signalling table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import time
import uuid
from datetime import datetime

from bionicflow.cdc.ddl import DATABASE, Table
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.identifiers import ch_ident
from bionicflow.kernel.pg_catalogue import SourceTable
from bionicflow.kernel.source_views import view_params, view_select
from bionicflow.kernel.sources import PgSource, check_window
from bionicflow.kernel.table_catalogue import Entry
from bionicflow.kernel.table_slice import TableSlice
from bionicflow.kernel.tables import OPS_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

SIGNAL_SQL = "INSERT INTO public.debezium_signal (id, type, data) VALUES (%s, 'execute-snapshot', %s)"
WINDOW_KEYS_SQL = 'SELECT id FROM public.{table} WHERE "{column}" >= %s AND "{column}" < %s'


class BackfillTimeout(BionicflowError):
    """The incremental snapshot did not deliver the window in time."""


def snapshot_signal(table: Table, start: datetime, end: datetime) -> tuple[str, str]:
    """(signal id, data JSON) for an incremental snapshot of ``table`` rows in [start, end)."""
    check_window(start, end)
    column = table.business_time
    # The filter is SQL that Debezium runs; it is built only from our identifiers and
    # datetimes we parsed ourselves, never from text a user typed.
    condition = f"\"{column}\" >= '{start.isoformat(sep=' ')}' AND \"{column}\" < '{end.isoformat(sep=' ')}'"
    collection = f"public.{table.source_table}"
    data = {"data-collections": [collection], "type": "incremental",
            "additional-conditions": [{"data-collection": collection, "filter": condition}]}
    return uuid.uuid4().hex, json.dumps(data)


def request_snapshot(pg_conn, table: Table, start: datetime, end: datetime) -> str:
    signal_id, data = snapshot_signal(table, start, end)
    with pg_conn.cursor() as cur:
        cur.execute(SIGNAL_SQL, (signal_id, data))
    pg_conn.commit()
    return signal_id


def window_keys(pg_conn, table: Table, start: datetime, end: datetime) -> set[int]:
    with pg_conn.cursor() as cur:
        cur.execute(WINDOW_KEYS_SQL.format(table=table.source_table, column=table.business_time), (start, end))
        return {row[0] for row in cur.fetchall()}


def wait_snapshot(olap: OlapClient, table: Table, keys: set[int], since: datetime, timeout: float = 900,
                  progress=print) -> int:
    """Poll until every key of the window was re-delivered (ingested after ``since``)."""
    deadline = time.monotonic() + timeout
    sql = (f"SELECT {table.key} FROM {DATABASE}.{table.name} FINAL "
           f"WHERE _ingested_at >= {{since:DateTime64(6)}} AND {table.key} IN {{keys:Array(Int64)}}")
    wanted = sorted(keys)
    while True:
        seen = {row[0] for row in olap.query(sql, parameters={"since": since, "keys": wanted}).result_rows}
        progress(f"{table.name}: {len(seen)} of {len(wanted)} rows of the window re-delivered")
        if len(seen) >= len(wanted):
            return len(seen)
        if time.monotonic() > deadline:
            raise BackfillTimeout(f"{table.name}: only {len(seen)} of {len(wanted)} rows re-delivered in "
                                  f"{timeout:.0f}s; check the connector's log (bionicflow logs kafka_connect)")
        time.sleep(2)


# --- tables added from a source's catalogue (`tables add`): the signal table is in the source's bionicflow schema

ADDED_SIGNAL_SQL = "INSERT INTO bionicflow.debezium_signal (id, type, data) VALUES (%s, 'execute-snapshot', %s)"


def added_snapshot_signal(described: SourceTable, table_slice: TableSlice) -> tuple[str, str]:
    """(signal id, data JSON) for an incremental snapshot of the slice's rows of an added table."""
    collection = f"{described.schema}.{described.name}"
    data = {"data-collections": [collection], "type": "incremental",
            "additional-conditions": [{"data-collection": collection, "filter": table_slice.pg_filter()}]}
    return uuid.uuid4().hex, json.dumps(data)


def request_added_snapshot(pg_conn, described: SourceTable, table_slice: TableSlice) -> str:
    signal_id, data = added_snapshot_signal(described, table_slice)
    with pg_conn.cursor() as cur:
        cur.execute("SELECT to_regclass('bionicflow.debezium_signal') IS NOT NULL")
        if not cur.fetchone()[0]:
            raise BionicflowError(
                f"{described.schema}.{described.name}'s source has no signal table bionicflow.debezium_signal (its "
                "tables were added before backfills of added tables existed): remove its tables and add them again "
                "(`bionicflow tables remove NAME`, `bionicflow tables add …`), or backfill target default")
        cur.execute(ADDED_SIGNAL_SQL, (signal_id, data))
    pg_conn.commit()
    return signal_id


def _snapshot_keys(name: str) -> str:
    return f"{OPS_DB}.backfill_keys_{name}"


def wait_added_snapshot(olap: OlapClient, entry: Entry, source: PgSource, table_slice: TableSlice,
                        since: datetime, timeout: float = 900, progress=print) -> int:
    """Poll until every key of the slice, as the source holds it now, was re-delivered (ingested after ``since``).

    The slice's keys are read once from the source through its view, with the copies' casts, into a scratch table.
    """
    assert entry.described is not None
    keys = [c for c in entry.described.columns if c.name in entry.described.key]
    key_list = ", ".join(ch_ident(c.name) for c in keys)
    condition, bound = table_slice.ch_filter()
    scratch = _snapshot_keys(entry.name)
    olap.command(f"DROP TABLE IF EXISTS {scratch}")
    olap.command(f"CREATE TABLE {scratch} ENGINE = Memory AS SELECT {key_list} FROM ("
                 f"{view_select(entry.described, '0 AS _bionicflow_x')}) WHERE {condition}",
                 parameters={**view_params(source, entry.name), **bound})
    try:
        wanted = int(olap.command(f"SELECT count() FROM {scratch}"))
        missing_sql = (f"SELECT count() FROM {scratch} WHERE ({key_list}) NOT IN (SELECT {key_list} FROM "
                       f"{DATABASE}.{ch_ident(entry.name)} FINAL WHERE _ingested_at >= {{since:DateTime64(6)}})")
        deadline = time.monotonic() + timeout
        while True:
            missing = int(olap.command(missing_sql, parameters={"since": since}))
            progress(f"{entry.name}: {wanted - missing} of {wanted} rows of the {table_slice.what} re-delivered")
            if not missing:
                return wanted
            if time.monotonic() > deadline:
                raise BackfillTimeout(f"{entry.name}: {missing} of {wanted} rows not re-delivered in {timeout:.0f}s; "
                                      f"check the connector's log (bionicflow logs kafka_connect)")
            time.sleep(2)  # polling interval; the loop condition decides
    finally:
        olap.command(f"DROP TABLE IF EXISTS {scratch}")
