"""Each table's batch cursor (`ops.etl_cursors`) and the source state it is checked against, through ClickHouse.

The batch road writes cursors (bionicflow/etl/changes.py decides when to trust them);
reconciliation reads them to tell `default`'s lag from its errors; `status` shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from clickhouse_connect.driver.exceptions import DatabaseError

from bionicflow.kernel.sources import POSTGRESQL_SOURCE, LoadError, PgSource, source_params
from bionicflow.kernel.tables import DEFAULT_DB, OPS_DB, SOURCE_STATE_VIEW, TABLES, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient


# `default`'s own record of its last load per table, beside the data: reports may read
# `default` but not `ops`, and still say how far behind the source `default` is.
BATCH_LOADS = f"{DEFAULT_DB}.batch_loads"
BATCH_LOADS_DDL = f"""CREATE TABLE IF NOT EXISTS {BATCH_LOADS}
(
    table LowCardinality(String),
    loaded_at DateTime64(6) DEFAULT now64(6),
    mode LowCardinality(String),
    cursor_xid UInt64
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY table"""

# Past this many keys, reloading rows by key (a pushed-down `IN` list per few thousand)
# costs more than one full read of the table: loads and repairs refresh the table whole.
RELOAD_BY_KEY_LIMIT = 100_000


@dataclass(frozen=True)
class SourceState:
    """The source as a load finds it (`bionicflow_source_state`, <database>/views.sql)."""

    system_identifier: str  # the PostgreSQL cluster (changes on initdb, so on a logical restore elsewhere)
    filenode: int  # the table's file (changes on TRUNCATE, VACUUM FULL, CLUSTER)
    snapshot_xmin: int  # every transaction below it has ended
    next_xid: int  # the next transaction id to be assigned (64-bit)
    stats_epoch: str = ""  # the statistics counters' reset epoch; "" when they are off
    rows_written: int = 0  # rows inserted + updated, as counted since the epoch began
    rows_removed: int = 0  # rows updated + deleted (an update may change the key)
    # the change journal holds every change from a cursor at or above this (None: no journal,
    # or its triggers are not all enabled)
    journal_from: int | None = None
    # the newest transaction the journal names (None: none, or no journal): compared with a cursor it says
    # exactly whether anything was written since, where the counters may not have counted a commit yet
    journal_newest: int | None = None
    # the 64-bit id of the cluster's latest commit (None: commit timestamps are off): below a cursor, nothing was
    # committed anywhere since the cursor was taken, so counters that have not moved cannot be lagging
    last_commit_xid: int | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a table's next incremental load resumes (`ops.etl_cursors`).

    Two positions: the rows (``cursor_xid``, ``next_xid``, ``rows_written``: moved by a load
    that read the changed rows) and the keys (``rows_removed``: moved by a key sync).
    """

    system_identifier: str
    filenode: int
    cursor_xid: int
    next_xid: int
    loaded_at: datetime | None = None
    mode: str = ""
    stats_epoch: str = ""
    rows_written: int = 0
    rows_removed: int = 0

    @classmethod
    def after(cls, state: SourceState, mode: str = "") -> Cursor:
        """The cursor a load leaves when it read every changed row and synced the keys after ``state`` was taken."""
        return cls(state.system_identifier, state.filenode, state.snapshot_xmin, state.next_xid, mode=mode,
                   stats_epoch=state.stats_epoch, rows_written=state.rows_written, rows_removed=state.rows_removed)

    def advanced(self, state: SourceState, rows_read: bool, keys_synced: bool, mode: str) -> Cursor:
        """This cursor moved past what a load did after ``state`` was taken (its epoch and file unchanged)."""
        rows = Cursor.after(state) if rows_read else self
        # Counters compare only within one statistics epoch: a load that did both steps (as every
        # load after a PostgreSQL restart does) takes the new epoch with the new counters; keeping
        # the old one made every later load of the table scan again (found in bench.batch_freshness).
        epoch = state.stats_epoch if (rows_read and keys_synced) or state.stats_epoch == self.stats_epoch \
            else self.stats_epoch
        return replace(self, cursor_xid=rows.cursor_xid, next_xid=rows.next_xid, rows_written=rows.rows_written,
                       rows_removed=state.rows_removed if keys_synced else self.rows_removed, mode=mode,
                       loaded_at=None, stats_epoch=epoch)


def keys_unchanged_since(cursor: Cursor, state: SourceState) -> bool:
    """No source row was updated or deleted since ``cursor``'s key sync (PostgreSQL's counters say so)."""
    return (bool(state.stats_epoch) and state.stats_epoch == cursor.stats_epoch and state.filenode == cursor.filenode
            and state.system_identifier == cursor.system_identifier and state.rows_removed == cursor.rows_removed)


SOURCE_STATE_SQL = (f"SELECT system_identifier, filenode, snapshot_xmin, next_xid, ifNull(stats_epoch, ''), "
                    f"rows_written, rows_removed, journal_from, journal_newest, last_commit_xid "
                    f"FROM {POSTGRESQL_SOURCE} WHERE table_name = {{table_name:String}}")
CURSOR_SQL = (f"SELECT system_identifier, filenode, cursor_xid, next_xid, loaded_at, mode, stats_epoch, rows_written, "
              f"rows_removed FROM {OPS_DB}.etl_cursors FINAL WHERE table = {{table:String}}")
CURSORS_SQL = f"SELECT table, cursor_xid, next_xid, mode, loaded_at FROM {OPS_DB}.etl_cursors FINAL"


def read_source_state(olap: OlapClient, table: Table, source: PgSource) -> SourceState:
    """The source cluster, the table's file and the transaction horizon, read now."""
    params = source_params(table, source, source_table=SOURCE_STATE_VIEW, table_name=table.source_table)
    try:
        rows = olap.query(SOURCE_STATE_SQL, parameters=params).result_rows
    except DatabaseError as exc:
        if "does not exist" not in str(exc):
            raise
        raise LoadError(
            f"{source.database} has no view {SOURCE_STATE_VIEW}: apply {source.database}/views.sql "
            f"(`bionicflow up` does on every start; compose: psql -f {source.database}/views.sql)"
        ) from None
    if not rows:
        raise LoadError(f"{SOURCE_STATE_VIEW} in {source.database} does not list {table.source_table}")
    system_identifier, filenode, snapshot_xmin, next_xid, epoch, written, removed, *xids = rows[0]
    journal_from, newest, last_commit = (None if x is None else int(x) for x in xids)
    return SourceState(str(system_identifier), int(filenode), int(snapshot_xmin), int(next_xid), epoch,
                       int(written), int(removed), journal_from, newest, last_commit)


def read_cursor(olap: OlapClient, table: Table) -> Cursor | None:
    rows = olap.query(CURSOR_SQL, parameters={"table": table.name}).result_rows
    if not rows:
        return None
    system_identifier, filenode, cursor_xid, next_xid, loaded_at, mode, epoch, written, removed = rows[0]
    return Cursor(system_identifier, int(filenode), int(cursor_xid), int(next_xid), loaded_at, mode, epoch,
                  int(written), int(removed))


def write_cursor(olap: OlapClient, table: Table, cursor: Cursor, run_id: str) -> None:
    olap.insert(
        f"{OPS_DB}.etl_cursors",
        [[table.name, cursor.system_identifier, cursor.filenode, cursor.cursor_xid, cursor.next_xid, run_id,
          cursor.mode, cursor.stats_epoch, cursor.rows_written, cursor.rows_removed]],
        column_names=["table", "system_identifier", "filenode", "cursor_xid", "next_xid", "run_id", "mode",
                      "stats_epoch", "rows_written", "rows_removed"],
    )
    olap.insert(BATCH_LOADS, [[table.name, cursor.mode, cursor.cursor_xid]],
                column_names=["table", "mode", "cursor_xid"])


def freshness(olap: OlapClient, now: datetime | None = None) -> dict[str, dict]:
    """Per table: when `default` was last loaded, how long ago, by which mode, and its cursor."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    result: dict[str, dict] = {t.name: {"last_load": None} for t in TABLES}
    try:
        rows = olap.query(CURSORS_SQL).result_rows
    except DatabaseError as exc:  # reported, not raised: a stack not bootstrapped yet has no ops tables
        return {name: {"error": str(exc).splitlines()[0][:200]} for name in result}
    for table, cursor_xid, _next_xid, mode, loaded_at in rows:
        result[table] = {"last_load": loaded_at.isoformat(), "age_seconds": round((now - loaded_at).total_seconds(), 1),
                         "mode": mode, "cursor_xid": int(cursor_xid)}
    return result
