"""Schema evolution on the batch road: a column added to a source table appears in `default`.

The source's `<table>_olap` view follows a new column at once (an event trigger in the source
database remakes it: sources/batch_views.sql). Every load compares the source's columns
(the columns of `<table>_olap`, with their types: `bionicflow_olap_columns`, read through
ClickHouse like the rows) with `default.<table>`'s. A renamed column keeps its old name in the
view, so `default` goes on copying it under that name:

* a column `default` has beyond bionicflow's table definition (added earlier) is loaded like
  the others, by every mode;
* a source column `default` lacks, of a type it can copy, makes this load a **full refresh**
  whatever its mode: the fresh copy is built with the column, so every old row carries the
  value PostgreSQL gives it (its default, or what was written since), not a NULL that an
  incremental load could never correct (old rows keep their transaction id). The refresh's
  reason in `ops.etl_runs` and the task log names the column;
* a column `default` added that the source dropped makes the load a full refresh too, built
  without it: `default` has the source's columns again;
* a column of another type is not copied: the reason is logged on every load and `bionicflow
  status` reports it.

Types, as on the CDC road (bionicflow/cdc/evolve.py), so both roads store an added column
alike: integers as Int64, floating point as Float64, text/varchar/char/uuid/json/enum as
String, `timestamp` as DateTime64(6); always Nullable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re
from dataclasses import dataclass

from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import DEFAULT_DB, Column, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

COLUMNS_SQL = (
    "SELECT column_name, if(is_enum, 'enum', type_name) FROM postgresql({address:String}, {database:String}, "
    "'bionicflow_olap_columns', {user:String}, {password:String}) "
    "WHERE table_name = {source_table:String} ORDER BY position"
)
DEFAULT_COLUMNS_SQL = (f"SELECT name, type FROM system.columns WHERE database = '{DEFAULT_DB}' "
                       "AND table = {table:String} ORDER BY position")
BOOKKEEPING = ("_version", "_loaded_at", "is_deleted")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # a PostgreSQL name that needs no quoting
INTEGER = ("smallint", "integer", "bigint")
FLOAT = ("real", "double precision")
TEXT = ("text", "uuid", "json", "jsonb", "enum")
TEXT_PREFIXES = ("character varying", "character(", "character")


@dataclass(frozen=True)
class Evolution:
    table: Table  # the table with every added column `default` has or gets now
    new: tuple[Column, ...]  # columns this load adds (it refreshes the table whole)
    refused: tuple[str, ...]  # source columns not copied, each with why
    dropped: tuple[str, ...] = ()  # added columns the source no longer has (the refresh leaves them out)

    @property
    def reshaped(self) -> bool:
        """Whether this load must copy the table whole to give `default` the source's columns."""
        return bool(self.new or self.dropped)

    @property
    def reason(self) -> str:
        parts = []
        if self.new:
            parts.append(f"the source gained column(s) {', '.join(c.name for c in self.new)}")
        if self.dropped:
            parts.append(f"the source dropped column(s) {', '.join(self.dropped)}")
        return ("; ".join(parts) + ": the table is copied whole once so that every row has the source's columns "
                "(an incremental load never rereads old rows)") if parts else ""


def clickhouse_type(pg_type: str) -> str | None:
    """The ClickHouse type an added column of PostgreSQL type ``pg_type`` gets ("enum": any enum); None: not copied."""
    if pg_type in INTEGER:
        return "Nullable(Int64)"
    if pg_type in FLOAT:
        return "Nullable(Float64)"
    if pg_type in TEXT or pg_type.startswith(TEXT_PREFIXES):
        return "Nullable(String)"
    if pg_type.startswith("timestamp") and "with time zone" not in pg_type:
        return "Nullable(DateTime64(6))"
    return None


def plan(table: Table, source_columns: list[tuple[str, str]], default_columns: list[tuple[str, str]]) -> Evolution:
    """What `default.<table>` gets from the source's columns (name, PostgreSQL type) and its own (name, type)."""
    known = {c.source for c in table.columns}  # source names; `default` calls them by `c.name`
    present = {name for name, _ in default_columns}
    carried = tuple(Column(name, kind, name, "", added=True)
                    for name, kind in _beyond_definition(table, default_columns))
    new, refused = [], []
    for name, pg_type in source_columns:
        if name in known or name in present:
            continue
        kind = clickhouse_type(pg_type)
        if not IDENTIFIER.match(name):
            refused.append(f"{table.source_table}.{name}: the name needs quoting; not copied to {DEFAULT_DB}")
        elif kind is None:
            refused.append(f"{table.source_table}.{name}: type {pg_type} is not one bionicflow copies "
                           "(integers, floating point, text, uuid, json, enum, timestamp); not copied to "
                           f"{DEFAULT_DB} — add it to bionicflow/kernel/tables.py with a type to copy it")
        else:
            new.append(Column(name, kind, name, "", added=True))
    # a column `default` added that the source dropped: the refresh builds the table without it
    source_names = {name for name, _ in source_columns}
    dropped = tuple(c.name for c in carried if c.source not in source_names)
    carried = tuple(c for c in carried if c.source in source_names)
    return Evolution(table.with_columns(carried + tuple(new)), tuple(new), tuple(refused), dropped)


def evolve(olap: OlapClient, table: Table, source: PgSource) -> Evolution:
    """The table as this load copies it, from the source's and `default`'s columns now."""
    from bionicflow.kernel.sources import source_params

    params = source_params(table, source, source_table=table.source_table)
    source_columns = [tuple(r) for r in olap.query(COLUMNS_SQL, parameters=params).result_rows]
    default_columns = [tuple(r) for r in olap.query(DEFAULT_COLUMNS_SQL, parameters={"table": table.name}).result_rows]
    if not default_columns:  # no table yet: the first load makes it from the definition
        return Evolution(table, (), ())
    return plan(table, source_columns, default_columns)


def _beyond_definition(table: Table, default_columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (name, type) of `default.<table>`'s columns beyond bionicflow's definition and bookkeeping."""
    defined = {c.name for c in table.columns} | set(BOOKKEEPING)
    return [(name, kind) for name, kind in default_columns if name not in defined]


def default_added(olap: OlapClient, table: Table) -> frozenset[str]:
    """The columns `default.<table>` has beyond bionicflow's definition (added by earlier loads)."""
    rows = olap.query(DEFAULT_COLUMNS_SQL, parameters={"table": table.name}).result_rows
    return frozenset(name for name, _ in _beyond_definition(table, [tuple(r) for r in rows]))
