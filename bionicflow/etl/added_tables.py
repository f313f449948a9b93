"""The batch load of a table added from a source's catalogue (`bionicflow tables add`).

An incremental load reads only what the source's change journal noted since the table's cursor
(kernel/source_journal.py): the rows of the keys written, tombstones for the keys removed; with
nothing noted it writes nothing. Any other mode, and an incremental load the journal cannot serve
(none yet, a TRUNCATE, a trigger disabled, a cursor of another journal), copies the table whole
(`table_copy.refresh_copy`): each row a new version, each key the source no longer has a
tombstone. First the source's catalogue is read again: when the table's columns changed (added,
dropped, renamed, retyped), the views and the journal are made again and `default.<name>` is
made again from a fresh copy with the new columns, then swapped in (cdc/reshape.py does the same
on the CDC road).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bionicflow.etl.load import LoadResult, record
from bionicflow.etl.table_copy import (changed_rows, copy_changes, copy_select, first_copy, new_version,
                                       refresh_copy, refuse_unholdable)
from bionicflow.kernel.identifiers import ch_ident
from bionicflow.kernel.cursors import Cursor, read_cursor, write_cursor
from bionicflow.kernel.source_journal import (JournalState, changes_view, drop_journal_ddl, forget_sql, gone_view,
                                              journal_ddl, journal_views_ddl, read_journal_state)
from bionicflow.kernel.source_views import SOURCE_SCHEMA, recreate_view_ddl, view_params
from bionicflow.kernel.sources import LOAD_SETTINGS, CopiedTable, PgSource
from bionicflow.kernel.table_catalogue import Entry, redescribed, table_shape, write_reshaped
from bionicflow.kernel.table_slice import TableSlice
from bionicflow.kernel.tables import DEFAULT_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.etl.added_tables")

WHOLE_COPY = "a whole copy (mode {mode})"
NO_JOURNAL = "a whole copy: the change journal cannot serve this load yet ({why}; docs/sources.md, \"Batch loads\")"
JOURNAL = "the rows the change journal noted since the cursor"
NOTHING = "nothing changed since the cursor (the change journal is empty)"
RESHAPED = "the source table's columns changed: default made again from a fresh copy (docs/sources.md)"


@dataclass(frozen=True)
class _Source:
    """The source table as this load found it, before reading any row."""

    entry: Entry  # as the source describes it now
    reshaped: bool
    journal: JournalState
    journal_made: bool  # the journal was missing or incomplete (a trigger gone or disabled) and was made again


def load_added(olap: OlapClient, entry: Entry, source: PgSource, run_id: str, mode: str = "full") -> LoadResult:
    """Load ``entry``'s table into `default` by ``mode`` and record it in `ops.etl_runs`.

    ``incremental``: from the change journal where it can; anything else: a whole copy.
    """
    if entry.described is None:
        raise ValueError(f"{entry.name} is one of the brief's tables: its loads are etl/run.py's")
    cursor = read_cursor(olap, entry.table)
    found = _follow_source(olap, entry, source, cursor.cursor_xid if cursor else None)
    now, journal = found.entry, found.journal
    assert now.described is not None
    why_not = _why_not_journal(mode, journal, cursor, found.journal_made)
    if found.reshaped:
        copied, reason = _remade(olap, now, source), RESHAPED
        result = LoadResult(now.name, mode, copied.rows, copied.seconds, reason=reason)
    elif why_not:
        # a value the columns cannot hold (a 2-D array, a date out of range) written since: refused, named
        refuse_unholdable(source, now.described)
        copied, reason = refresh_copy(olap, source, now.described, now.name), why_not
        result = LoadResult(now.name, mode, copied.rows, copied.seconds, deleted=copied.gone, reason=reason)
    elif not journal.changed:
        result = LoadResult(now.name, mode, 0, 0.0, reason=NOTHING)
    else:
        assert cursor is not None
        refuse_unholdable(source, now.described, changed_rows(now.described, now.name), (cursor.cursor_xid,))
        changes = copy_changes(olap, source, now.described, now.name, cursor.cursor_xid)
        result = LoadResult(now.name, mode, changes.rows, changes.seconds, deleted=changes.gone, reason=JOURNAL)
    _leave_cursor(olap, source, now, journal, run_id, mode)
    result = replace(result, cursor_xid=journal.snapshot_xmin)
    record(olap, run_id, result)
    return result


def _why_not_journal(mode: str, journal: JournalState, cursor: Cursor | None, made: bool) -> str:
    """Why this load copies the table whole instead of reading the journal ("" when it need not)."""
    if mode != "incremental":
        return WHOLE_COPY.format(mode=mode)
    if made or journal.journal_id is None:
        why = "no journal in the source, or one of its triggers is missing or disabled; made again now"
    elif cursor is not None and journal.trusts(cursor.cursor_xid, cursor.system_identifier):
        return ""
    elif cursor is None or cursor.system_identifier != journal.identity:
        why = "no cursor from this journal (its first load)"
    else:  # a cursor of this journal from before the transaction it is complete from
        why = "the journal is complete only from a later transaction (a TRUNCATE, or it was made since)"
    return NO_JOURNAL.format(why=why)


def copy_first(olap: OlapClient, source: PgSource, entry: Entry, run_id: str) -> CopiedTable:
    """`tables add`'s batch first copy, leaving the cursor the next incremental load starts from."""
    assert entry.described is not None
    journal = _journal_now(source, entry)
    copied = first_copy(olap, source, entry.described, entry.name)
    _leave_cursor(olap, source, entry, journal, run_id, "first copy")
    return copied


def _journal_now(source: PgSource, entry: Entry) -> JournalState:
    conn = source.connect()
    try:
        with conn:
            assert entry.described is not None
            return read_journal_state(conn, entry.described, entry.name, None)
    finally:
        conn.close()


def _leave_cursor(olap: OlapClient, source: PgSource, entry: Entry, journal: JournalState, run_id: str,
                  mode: str) -> None:
    """Store where the next load starts (the horizon taken before this one read a row); the journal forgets the rest.

    The journal forgets only after the cursor is stored: a load that dies before leaves its keys for the next.
    """
    identity = journal.identity if journal.journal_id else ""
    write_cursor(olap, entry.table, Cursor(identity, 0, journal.snapshot_xmin, journal.next_xid, mode=mode), run_id)
    if journal.journal_id is None:
        return
    conn = source.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(forget_sql(entry.name), (journal.snapshot_xmin,))
    finally:
        conn.close()


def _follow_source(olap: OlapClient, entry: Entry, source: PgSource, since: int | None) -> _Source:
    """The entry as the source describes it now, with the source-side views and journal made again where needed."""
    conn = source.connect()
    try:
        now = redescribed(conn, entry)
        assert now.described is not None
        reshaped = table_shape(olap, DEFAULT_DB, entry.name) != now.shape
        journal = read_journal_state(conn, now.described, now.name, since)
        statements = []
        made = journal.journal_id is None
        if reshaped or made:
            # made again with the table's columns and key as they are now (the journal's columns are the key's)
            statements += [*drop_journal_ddl(now.described, now.name), *recreate_view_ddl(now.described, now.name),
                           *journal_ddl(now.described, now.name)]
        elif _views_missing(conn, now.name):  # dropped before an ALTER that then failed
            statements += [*recreate_view_ddl(now.described, now.name), *journal_views_ddl(now.described, now.name)]
        if _identity(conn, now.described) != "f":  # given back by hand, or a table added by an older version
            statements.append(f"ALTER TABLE {now.described.qualified} REPLICA IDENTITY FULL")
        conn.commit()  # the state's snapshot ends here; the statements run in one transaction of their own
        if statements:
            with conn, conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            with conn:
                journal = read_journal_state(conn, now.described, now.name, since)
        return _Source(now if reshaped else entry, reshaped, journal, made)
    finally:
        conn.close()


def _identity(conn, described) -> str:
    """The table's replica identity now: `tables add` made it FULL so that untouched TOASTed values stream."""
    with conn.cursor() as cur:
        cur.execute("SELECT relreplident FROM pg_class WHERE oid = to_regclass(%s)", (described.qualified,))
        row = cur.fetchone()
        return row[0] if row else "f"


def _views_missing(conn, name: str) -> bool:
    views = [f"{SOURCE_SCHEMA}.{v}" for v in (f"{name}_olap", changes_view(name), gone_view(name))]
    with conn.cursor() as cur:
        cur.execute("SELECT bool_or(to_regclass(v) IS NULL) FROM unnest(%s::text[]) AS v", (views,))
        return bool(cur.fetchone()[0])


def _remade(olap: OlapClient, now: Entry, source: PgSource) -> CopiedTable:
    """`default.<name>` made again with the new columns from a fresh copy, swapped in; the entry updated."""
    assert now.described is not None
    name, spare = now.name, f"{now.name}__reshaped"
    log.info("%s: the source table's columns changed; %s.%s is made again from a fresh copy", name, DEFAULT_DB, name)
    olap.command(f"DROP TABLE IF EXISTS {DEFAULT_DB}.{spare}")
    copied = first_copy(olap, source, now.described, name, target=spare)
    olap.command(f"EXCHANGE TABLES {DEFAULT_DB}.{name} AND {DEFAULT_DB}.{spare}")
    olap.command(f"DROP TABLE {DEFAULT_DB}.{spare}")
    write_reshaped(olap, now)
    return copied


def refill_slice(olap: OlapClient, entry: Entry, source: PgSource, table_slice: TableSlice, run_id: str) -> LoadResult:
    """`backfill` of an added table's `default` copy: the slice's rows read again from the source as a new version.

    The source is read whole through its view and the slice kept by ClickHouse (no index of the source serves
    every slice); a table whose columns changed is made again whole instead, the slice with it.
    """
    assert entry.described is not None
    found = _follow_source(olap, entry, source, None)
    if found.reshaped:
        copied = _remade(olap, found.entry, source)
        result = LoadResult(entry.name, "window", copied.rows, copied.seconds, reason=RESHAPED)
    else:
        refuse_unholdable(source, entry.described)
        result = _refill(olap, entry, source, table_slice)
    record(olap, run_id, result)
    return result


def _refill(olap: OlapClient, entry: Entry, source: PgSource, table_slice: TableSlice) -> LoadResult:
    assert entry.described is not None
    started = time.monotonic()
    table = f"{DEFAULT_DB}.{ch_ident(entry.name)}"
    names = ", ".join(ch_ident(c.name) for c in entry.described.columns)
    condition, bound = table_slice.ch_filter()
    version = new_version(olap)
    olap.command(f"INSERT INTO {table} ({names}, _version) SELECT * FROM ({copy_select(entry.described)}) "
                 f"WHERE {condition}", parameters={**view_params(source, entry.name), **bound, "version": version},
                 settings=LOAD_SETTINGS)
    rows = int(olap.command(f"SELECT count() FROM {table} WHERE _version = {{version:UInt64}}",
                            parameters={"version": version}))
    return LoadResult(entry.name, "window", rows, time.monotonic() - started,
                      reason=f"backfill of the {table_slice.what}")
