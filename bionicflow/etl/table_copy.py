"""The batch road's copy of any source table, from its catalogue description (bionicflow/kernel/pg_catalogue.py).

`default.<name>` and the whole copies into it, read through the source-side view that renders
every value exactly (bionicflow/kernel/source_views.py); values a ClickHouse column cannot hold
are refused before anything is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bionicflow.kernel.identifiers import ch_ident, pg_ident
from bionicflow.kernel.pg_catalogue import SourceTable
from bionicflow.kernel.source_journal import XID_COLUMN, changes_view, gone_view, journal_table
from bionicflow.kernel.source_views import view_params, view_select
from bionicflow.kernel.sources import LOAD_SETTINGS, CopiedTable, LoadError, PgSource
from bionicflow.kernel.tables import DEFAULT_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient


def default_table_ddl(described: SourceTable, name: str) -> str:
    """`default.<name>`: the source's columns, then the batch road's version and tombstone (as etl/ddl.py)."""
    columns = [f"    {ch_ident(c.name)} {c.clickhouse.type}" for c in described.columns]
    columns += ["    _version UInt64", "    _loaded_at DateTime64(6) DEFAULT now64(6)",
                "    is_deleted UInt8 DEFAULT 0"]
    key = ", ".join(ch_ident(k) for k in described.key)
    return (f"CREATE TABLE IF NOT EXISTS {DEFAULT_DB}.{ch_ident(name)}\n(\n" + ",\n".join(columns) + "\n)\n"
            f"ENGINE = ReplacingMergeTree(_version, is_deleted)\nORDER BY ({key})")


def copy_select(described: SourceTable) -> str:
    """`view_select` with the batch road's version: the copy's start in microseconds (bound as `version`)."""
    return view_select(described, "{version:UInt64} AS _version")


class CopyRefused(LoadError):
    """The source holds values the copy's columns cannot hold; nothing was copied."""


# Per limited kind: the rows whose value ClickHouse's column cannot hold (pg_types' `limit`). ClickHouse
# would clamp a date before 1900 or flatten {{1,2},{3,4}} to [] without a word: they are refused first.
_OUT_OF_RANGE = "NOT ({c} BETWEEN '1900-01-01' AND '2299-12-31 23:59:59.999999')"
_UNHOLDABLE = {"decimal": "{c} = 'NaN'", "date": _OUT_OF_RANGE, "millis": _OUT_OF_RANGE, "micros": _OUT_OF_RANGE,
               "timestamptz": _OUT_OF_RANGE.replace("'2299-12-31 23:59:59.999999'", "'2299-12-31 23:59:59.999999+00'")}
_BAD_SHAPE = "array_ndims({c}) > 1 OR array_lower({c}, 1) <> 1"


def unholdable_values(conn, described: SourceTable, rows: str = "", params: tuple = ()) -> dict[str, int]:
    """Column → how many of the source's rows hold a value its ClickHouse column cannot (only those with any).

    ``rows``: a relation of the table's rows to look at instead of the whole table (with ``params`` bound)."""
    checks = {}
    for column in described.columns:
        kind = column.clickhouse.kind
        condition = _BAD_SHAPE if kind.startswith("array:") else _UNHOLDABLE.get(kind) if column.clickhouse.limit \
            else None
        if condition:
            checks[column.name] = condition.format(c=pg_ident(column.name))
    if not checks:
        return {}
    counts = ", ".join(f"count(*) FILTER (WHERE {condition})" for condition in checks.values())
    with conn.cursor() as cur:
        cur.execute(f"SELECT {counts} FROM {rows or described.qualified}", params)
        found = cur.fetchone()
    return {name: n for name, n in zip(checks, found, strict=True) if n}


def refuse_unholdable(source: PgSource, described: SourceTable, rows: str = "", params: tuple = ()) -> None:
    """`CopyRefused` when a source row holds a value its ClickHouse column cannot hold (copying would change it).

    ``rows``, ``params``: only those rows (`unholdable_values`)."""
    conn = source.connect()
    try:
        unholdable = unholdable_values(conn, described, rows, params)
    finally:
        conn.close()
    if unholdable:
        found = ", ".join(f"{column}: {n} row(s)" for column, n in unholdable.items())
        raise CopyRefused(f"{described.schema}.{described.name} holds values its ClickHouse columns cannot hold "
                          f"({found}; docs/sources.md, \"Types\"): change those rows, or the column's type, and copy "
                          "again; nothing was copied")


# After a whole copy at `version`: a tombstone for every key the copy did not bring (gone from the source).
_TOMBSTONES = """INSERT INTO {table} ({names}, _version, is_deleted)
SELECT {names}, {{version:UInt64}}, 1 FROM {table} FINAL WHERE _version < {{version:UInt64}}"""


def new_version(olap: OlapClient) -> int:
    """A load's version for what it writes into `default`: the engine's clock in microseconds (later loads outrank)."""
    return int(olap.command("SELECT toUInt64(toUnixTimestamp64Micro(now64(6)))"))


def first_copy(olap: OlapClient, source: PgSource, described: SourceTable, name: str,
               target: str = "") -> CopiedTable:
    """Create `default.<target or name>` and copy table ``name`` into it whole (its view must exist in the source).

    `CopyRefused`, before anything is written, when a value cannot be held (NaN in numeric(p,s), a
    date outside 1900-2299, an array of two dimensions): copying it would change it.
    """
    refuse_unholdable(source, described)
    olap.command(default_table_ddl(described, target or name))
    return refresh_copy(olap, source, described, name, target)


def refresh_copy(olap: OlapClient, source: PgSource, described: SourceTable, name: str,
                 target: str = "") -> CopiedTable:
    """Copy the source table into `default.<name>` again, whole: each row a new version, each vanished key a tombstone.

    Exact whatever happened in between (updates, deletes, key changes, TRUNCATE): under FINAL the
    table is the source as the copy read it. The cost is the table's size, changed or not.
    ``target``: another table of `default` to copy into (a table being made again).
    """
    started = time.monotonic()
    table = f"{DEFAULT_DB}.{ch_ident(target or name)}"
    names = ", ".join(ch_ident(c.name) for c in described.columns)
    version = new_version(olap)
    olap.command(f"INSERT INTO {table} ({names}, _version) {copy_select(described)}",
                 parameters={**view_params(source, name), "version": version}, settings=LOAD_SETTINGS)
    olap.command(_TOMBSTONES.format(table=table, names=names), parameters={"version": version})
    rows = olap.command(f"SELECT count() FROM {table} FINAL WHERE NOT is_deleted")
    gone = olap.command(f"SELECT countIf(is_deleted) FROM {table} WHERE _version = {{version:UInt64}}",
                        parameters={"version": version})
    return CopiedTable(name, int(rows), time.monotonic() - started, int(gone))


@dataclass(frozen=True)
class CopiedChanges:
    """What a load from the change journal wrote: rows changed, keys removed."""

    rows: int
    gone: int
    seconds: float


_WRITTEN = "SELECT countIf(NOT is_deleted), countIf(is_deleted) FROM {table} WHERE _version = {{version:UInt64}}"


def copy_changes(olap: OlapClient, source: PgSource, described: SourceTable, name: str, since: int) -> CopiedChanges:
    """The rows of the keys the journal noted from ``since`` on as new versions, the keys it noted removed as
    tombstones (kernel/source_journal.py): two index range scans in the source, whatever the table's size."""
    started = time.monotonic()
    table = f"{DEFAULT_DB}.{ch_ident(name)}"
    names = ", ".join(ch_ident(c.name) for c in described.columns)
    key_columns = [c for c in described.columns if c.name in described.key]
    keys = ", ".join(ch_ident(c.name) for c in key_columns)
    version = new_version(olap)
    since_xid = f" WHERE {XID_COLUMN} >= {{since:Int64}}"
    bound = {"version": version, "since": since}
    olap.command(f"INSERT INTO {table} ({names}, _version) {copy_select(described)}{since_xid}",
                 parameters={**view_params(source, name, changes_view(name)), **bound}, settings=LOAD_SETTINGS)
    olap.command(f"INSERT INTO {table} ({keys}, _version, is_deleted) "
                 f"{view_select(described, '{version:UInt64}, 1', key_columns)}{since_xid}",
                 parameters={**view_params(source, name, gone_view(name)), **bound}, settings=LOAD_SETTINGS)
    rows, gone = olap.query(_WRITTEN.format(table=table), parameters={"version": version}).result_rows[0]
    return CopiedChanges(int(rows), int(gone), time.monotonic() - started)


def changed_rows(described: SourceTable, name: str) -> str:
    """The source rows the journal noted from a cursor on (bound: the cursor), for `refuse_unholdable`."""
    same_key = " AND ".join(f"t.{pg_ident(k)} = j.{pg_ident(k)}" for k in described.key)
    return (f"(SELECT t.* FROM {journal_table(name)} AS j JOIN {described.qualified} AS t ON {same_key} "
            f"WHERE j.{XID_COLUMN} >= %s) AS t")
