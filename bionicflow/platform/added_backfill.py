"""`backfill` of a table added from a source's catalogue: the slice's rows read again on the roads asked for.

`default`: the slice's rows copied again from the source as a new version (etl/added_tables.py).
`debezium`: a Debezium incremental snapshot of exactly the slice, asked for through the signal table
in the source's bionicflow schema (cdc/signals.py); Debezium's watermarks keep it in order with the
changes streaming meanwhile. The run waits until every key of the slice has been re-delivered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bionicflow.cdc.signals import request_added_snapshot, wait_added_snapshot
from bionicflow.etl.added_tables import refill_slice
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.table_catalogue import Entry
from bionicflow.kernel.table_slice import TableSlice, choose_slice
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB

if TYPE_CHECKING:
    from collections.abc import Callable

    from bionicflow.kernel.olap import OlapClient


def plan_slice(entry: Entry, params: dict, start: datetime, end: datetime) -> TableSlice:
    """The slice a backfill run's params name for ``entry`` (`SliceRefused` with the choices when they name none)."""
    assert entry.described is not None
    return choose_slice(entry.name, entry.described, start, end, params.get("time_column") or "",
                        params.get("key_from"), params.get("key_to"))


def backfill_added(olap: OlapClient, entry: Entry, source: PgSource, table_slice: TableSlice, target: str,
                   run_id: str, progress: Callable[[str], None] = print) -> dict[str, int | str]:
    """Read the slice again into `default`, `debezium` or both (``target``); per road, the rows it re-read."""
    assert entry.described is not None
    done: dict[str, int | str] = {"table": entry.name, "slice": table_slice.what}
    if target in (DEFAULT_DB, "both"):
        result = refill_slice(olap, entry, source, table_slice, run_id)
        progress(f"{DEFAULT_DB}.{entry.name}: {result.rows} rows of the {table_slice.what} re-read in "
                 f"{result.seconds:.2f}s ({result.reason})")
        done["default_rows"] = result.rows
    if target in (CDC_DB, "both"):
        since = datetime.now(UTC).replace(tzinfo=None)
        conn = source.connect()
        try:
            signal_id = request_added_snapshot(conn, entry.described, table_slice)
        finally:
            conn.close()
        progress(f"{CDC_DB}.{entry.name}: incremental snapshot {signal_id} requested for the {table_slice.what}")
        done["debezium_rows"] = wait_added_snapshot(olap, entry, source, table_slice, since, progress=progress)
    return done
