"""The batch load of a table added from a source's catalogue (`bionicflow tables add`).

Every mode is a whole copy through the source-side view (`table_copy.refresh_copy`): each row a
new version, each key the source no longer has a tombstone, so `default.<name>` under FINAL is
the source as the copy read it, whatever changed in between (updates, deletes, key changes,
TRUNCATE). First the source's catalogue is read again: when the table's columns changed (added,
dropped, renamed, retyped), the view is made again and `default.<name>` is made again from a
fresh copy with the new columns, then swapped in (cdc/reshape.py does the same on the CDC road).

The brief's two tables keep their incremental loads (etl/changes.py); a key
comparison for any key type, so that an unchanged added table costs nothing, is the next step
(docs/sources.md, "Known gaps").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bionicflow.etl.load import LoadResult, record
from bionicflow.etl.table_copy import first_copy, refresh_copy, refuse_unholdable
from bionicflow.kernel.source_views import recreate_view_ddl, view_name
from bionicflow.kernel.sources import CopiedTable, PgSource
from bionicflow.kernel.table_catalogue import Entry, redescribed, table_shape, write_entry
from bionicflow.kernel.tables import DEFAULT_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.etl.added_tables")

WHOLE_COPY = "an added table's batch load is a whole copy (docs/sources.md)"
RESHAPED = "the source table's columns changed: default made again from a fresh copy (docs/sources.md)"


def load_added(olap: OlapClient, entry: Entry, source: PgSource, run_id: str, mode: str = "full") -> LoadResult:
    """Copy ``entry``'s table whole into `default` and record it in `ops.etl_runs` as ``mode``."""
    if entry.described is None:
        raise ValueError(f"{entry.name} is one of the brief's tables: its loads are etl/run.py's")
    now = _reshaped(olap, entry, source)
    if now is None:
        # a value the columns cannot hold (a 2-D array, a date out of range) written since: refused, named
        refuse_unholdable(source, entry.described)
        copied, reason = refresh_copy(olap, source, entry.described, entry.name), WHOLE_COPY
    else:
        copied, reason = _remade(olap, now, source), RESHAPED
    result = LoadResult(entry.name, mode, copied.rows, copied.seconds, reason=reason)
    record(olap, run_id, result)
    return result


def _reshaped(olap: OlapClient, entry: Entry, source: PgSource) -> Entry | None:
    """The entry as the source describes it now, with its view made again, if its columns changed; else None."""
    conn = source.connect()
    try:
        now = redescribed(conn, entry)
        assert now.described is not None
        reshaped = table_shape(olap, DEFAULT_DB, entry.name) != now.shape
        statements = []
        if reshaped or not _view_exists(conn, entry.name):  # a view dropped before an ALTER that then failed
            statements += recreate_view_ddl(now.described, entry.name)  # it selects the old columns (or is gone)
        if _identity(conn, now.described) != "f":  # given back by hand, or a table added by an older version
            statements.append(f"ALTER TABLE {now.described.qualified} REPLICA IDENTITY FULL")
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        return now if reshaped else None
    finally:
        conn.close()


def _identity(conn, described) -> str:
    """The table's replica identity now: `tables add` made it FULL so that untouched TOASTed values stream."""
    with conn.cursor() as cur:
        cur.execute("SELECT relreplident FROM pg_class WHERE oid = to_regclass(%s)", (described.qualified,))
        row = cur.fetchone()
        return row[0] if row else "f"


def _view_exists(conn, name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (view_name(name),))
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
    write_entry(olap, now)
    return copied
