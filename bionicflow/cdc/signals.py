"""Debezium ad hoc incremental snapshots, requested through the signalling table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import time
import uuid
from datetime import datetime

from bionicflow.cdc.ddl import DATABASE, Table
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.sources import check_window

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
