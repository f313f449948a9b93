"""Incremental loads from the source's change journal (sources/batch_views.sql).

Each source table's triggers note in `<table>_changes` the key of every row inserted,
updated or deleted, with the writing transaction's id. A load whose cursor the journal
covers reads `<table>_olap_changes` (the current rows of those keys) and `<table>_gone`
(those keys the journal marks deleted) from the cursor on: two index range scans, instead
of a scan of the whole table for changed rows and another for its keys. Deleted rows and
the old positions of moved ones get tombstones (bionicflow/etl/ddl.py). After storing its
cursor, a load tells the source to forget the journal's keys below it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bionicflow.kernel.cursors import SourceState
from bionicflow.kernel.sources import POSTGRESQL_SOURCE, PgSource, source_params
from bionicflow.etl.ddl import TOMBSTONE
from bionicflow.kernel.tables import DEFAULT_DB, OPS_DB, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

FORGET_SQL = "SELECT public.bionicflow_forget_changes(%s, %s)"
CONNECT_TIMEOUT_S = 10


def _gone(table: Table) -> str:
    return f"{OPS_DB}.etl_gone_{table.name}"


def gone_keys_sql(table: Table) -> str:
    """The keys the journal marks deleted since the cursor, into a scratch table."""
    return (f"CREATE TABLE {_gone(table)} ENGINE = Memory AS "
            f"SELECT assumeNotNull(toInt64(id)) AS k FROM {POSTGRESQL_SOURCE} WHERE _change_xid >= {{since:Int64}}")


def tombstones_sql(table: Table, version: int) -> str:
    """Tombstones for what this load made stale: every row of the keys gone, and the old positions of the keys it moved.

    A tombstone is the stale row's key and sorting-key columns with this load's version and
    `is_deleted = 1`: FINAL (and the engine's merges) collapse the row with it. A row updated in
    place needs none (its new version has the same sorting key); a row whose `user_uuid`
    changed does, at its old position. Inserting them costs what the rows cost; a lightweight
    DELETE rewrote a mask in every part of the table (docs/benchmarks.md). The version is an
    `int` the load computed itself, written in as a literal.
    """
    version = int(version)
    position = ", ".join([table.key, *table.sort_prefix])
    target = f"{DEFAULT_DB}.{table.name}"
    written = f"FROM {target} WHERE _version = {version}"
    return (f"INSERT INTO {target} ({position}, _version, {TOMBSTONE})\n"
            f"SELECT {position}, {version}, 1 FROM {target}\n"
            f"WHERE _version < {version} AND NOT {TOMBSTONE} AND ({table.key} IN (SELECT k FROM {_gone(table)}) "
            f"OR ({table.key} IN (SELECT {table.key} {written}) "
            f"AND ({position}) NOT IN (SELECT {position} {written})))")


def count_gone_sql(table: Table, version: int) -> str:
    """How many of the keys gone `default` had: those this load's tombstones hide."""
    return (f"SELECT uniqExact({table.key}) FROM {DEFAULT_DB}.{table.name} WHERE _version = {int(version)} "
            f"AND {TOMBSTONE} AND {table.key} IN (SELECT k FROM {_gone(table)})")


def hide_stale_rows(olap: OlapClient, table: Table, source: PgSource, since_xid: int, version: int) -> int:
    """After the changed rows are in: tombstones for the keys gone since the cursor and the positions this load moved.

    Returns how many of the gone keys `default` had (a key inserted and deleted between two
    loads it never had).
    """
    olap.command(f"DROP TABLE IF EXISTS {_gone(table)}")
    try:
        olap.command(gone_keys_sql(table), parameters=source_params(table, source, source_table=table.gone_view,
                                                                      since=since_xid))
        olap.command(tombstones_sql(table, version))
        return int(olap.command(count_gone_sql(table, version)))
    finally:
        olap.command(f"DROP TABLE IF EXISTS {_gone(table)}")


def forget_read_changes(source: PgSource, table: Table, state: SourceState, cursor_xid: int) -> int:
    """Forget the journal's keys below ``cursor_xid``, the cursor just stored; returns how many.

    Runs after the cursor is stored: a load that dies before leaves them for the next one.
    Nothing to do where the source (as ``state`` found it) keeps no journal.
    """
    if state.journal_from is None:
        return 0
    conn = source.connect(connect_timeout=CONNECT_TIMEOUT_S, application_name="bionicflow etl")
    try:
        with conn, conn.cursor() as cur:  # one transaction, committed on leaving
            cur.execute(FORGET_SQL, (table.source_table, cursor_xid))
            return int(cur.fetchone()[0])
    finally:
        conn.close()
