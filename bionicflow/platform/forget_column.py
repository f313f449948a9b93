"""Accept a column dropped on purpose in a source: both roads stop expecting it (`bionicflow cdc forget-column`).

A column the roads added to their copies (the CDC road to `debezium.<table>`, recorded in
`debezium.added_columns`; the batch road to `default.<table>`) stays there when the source
drops it, and `source_drift` reports it for good: the copies cannot tell a mistake from an
intent. Forgetting it is the user's "yes, it is gone on purpose":

1. the source is read first: a column it still has is refused (drop it there first), and so
   is one of bionicflow's own columns (bionicflow/kernel/tables.py: the reports read them);
2. the CDC road forgets it: its row in `debezium.added_columns` is deleted, the change views
   are made again without it (with the writers paused, so no message passes meanwhile), and
   the column is dropped from `debezium.<table>`;
3. the batch road forgets it: the column is dropped from `default.<table>` (the next load
   would otherwise copy the table whole to leave it out).

The values the copies hold in it are lost: `plan` counts them, and the command shows them
and asks before dropping anything (docs/cdc.md, "Schema changes").
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bionicflow.cdc.evolve import IDENTIFIER, added_columns, extended, rebuild_views
from bionicflow.etl.evolve import default_added
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, TABLES, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

UNREGISTER_SQL = (f"ALTER TABLE {CDC_DB}.added_columns DELETE WHERE table_name = {{table:String}} "
                  "AND name = {name:String}")
COPY_COLUMNS_SQL = "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String}"
KAFKA_ENGINE_SQL = ("SELECT engine FROM system.tables WHERE database = {database:String} "
                    "AND name = {name:String}")


class ForgetColumnError(BionicflowError):
    """The column cannot be forgotten (still in the source, one of bionicflow's own, or copied nowhere)."""


@dataclass(frozen=True)
class ForgetPlan:
    table: Table  # bionicflow's definition of the table (without the roads' added columns)
    column: str
    registered: bool  # `debezium.added_columns` names it
    in_debezium: bool  # `debezium.<table>` has it
    in_default: bool  # `default.<table>` has it
    values: dict[str, int]  # per copy (`debezium`, `default`): rows with a value in it, lost by the drop

    def describe(self) -> list[str]:
        """What forgetting does, one line per copy, the values it loses named."""
        lines = [f"{db}.{self.table.name}: drop column {self.column} ({_holding(self.values.get(db, 0))} a value "
                 "in it; lost with it)" for db, has in ((CDC_DB, self.in_debezium), (DEFAULT_DB, self.in_default))
                 if has]
        if self.registered:
            lines.append(f"{CDC_DB}.added_columns: forget {self.table.name}.{self.column} "
                         "(the CDC road stops writing it)")
        return lines


def _holding(rows: int) -> str:
    return f"{rows:,} row holds" if rows == 1 else f"{rows:,} rows hold"


def find_table(name: str) -> Table:
    """One of the brief's tables; tables added with `tables add` follow their source's columns by themselves."""
    table = next((t for t in TABLES if t.name == name), None)
    if table is None:
        raise ForgetColumnError(f"no table {name!r} whose columns bionicflow checks; use one of "
                                f"{', '.join(t.name for t in TABLES)} (a table added with `bionicflow tables add` "
                                "is remade with its source's columns by itself)")
    return table


def check(table: Table, column: str, source_columns: list[str], copied: set[str], registered: bool) -> None:
    """Refuse what must not be forgotten (pure). ``copied``: the column names either copy has beyond the definition."""
    where = f"{table.source_database}.{table.source_table}"
    if not source_columns:
        raise ForgetColumnError(f"{where} is missing or has no columns: cannot verify that {column} is gone; "
                                "check the source (bionicflow status)")
    if any(c.source == column or c.name == column for c in table.columns):
        raise ForgetColumnError(
            f"{column} is one of bionicflow's own columns of {table.name} (bionicflow/kernel/tables.py): the reports "
            "read it, so it cannot be forgotten. Restore it in the source, or change the table definition and rebuild "
            "both schemas (docs/cdc.md, \"Schema changes\")")
    if column in source_columns:
        raise ForgetColumnError(
            f"{where} still has column {column}: forget-column only accepts a column the source no longer has. Drop "
            f"it in the source first (ALTER TABLE {table.source_table} DROP COLUMN {column}), then run this again")
    if column not in copied and not registered:
        raise ForgetColumnError(
            f"neither {DEFAULT_DB}.{table.name} nor {CDC_DB}.{table.name} copies a column {column}: nothing to forget "
            f"(columns they copy beyond bionicflow's definition: {', '.join(sorted(copied)) or 'none'})")


def _copy_columns(olap: OlapClient, database: str, table: Table) -> set[str]:
    rows = olap.query(COPY_COLUMNS_SQL, parameters={"database": database, "table": table.name}).result_rows
    return {r[0] for r in rows}


def _values(olap: OlapClient, database: str, table: Table, column: str) -> int:
    # `column` is a column of this table (read from system.columns) and a plain identifier: safe to name
    return int(olap.command(f"SELECT count() FROM {database}.{table.name} FINAL WHERE {column} IS NOT NULL"))


def plan(olap: OlapClient, table_name: str, column: str, source_columns: list[str]) -> ForgetPlan:
    """Check that ``column`` may be forgotten and count what dropping it loses (nothing is changed)."""
    table = find_table(table_name)
    if not IDENTIFIER.match(column):
        raise ForgetColumnError(f"{column!r} is not a column name bionicflow copies (lower case, digits, underscores)")
    registered = any(c.name == column for c in added_columns(olap, table))
    in_debezium = column in _copy_columns(olap, CDC_DB, table)
    in_default = column in default_added(olap, table)
    copied = {c.name for c in added_columns(olap, table)} | set(default_added(olap, table))
    check(table, column, source_columns, copied | ({column} if in_debezium else set()), registered)
    values = {db: _values(olap, db, table, column) for db, has in ((CDC_DB, in_debezium), (DEFAULT_DB, in_default))
              if has}
    return ForgetPlan(table, column, registered, in_debezium, in_default, values)


def forget(olap: OlapClient, planned: ForgetPlan, writers_paused: Callable[[], AbstractContextManager]) -> None:
    """Make both roads stop expecting the column: unregister it, remake the views, drop it from both copies.

    ``writers_paused()``: a context in which nothing writes to `debezium.<table>_kafka` (the views are
    dropped and made again inside it; a message passing meanwhile would be lost).
    """
    table, column = planned.table, planned.column
    if planned.registered:
        olap.command(UNREGISTER_SQL, parameters={"table": table.name, "name": column}, settings={"mutations_sync": 2})
    if planned.in_debezium or planned.registered:
        with writers_paused():
            rebuild_views(olap, extended(olap, table))  # the registry no longer names it
            olap.command(f"ALTER TABLE {CDC_DB}.{table.name} DROP COLUMN IF EXISTS {column}")
    if planned.in_default:
        olap.command(f"ALTER TABLE {DEFAULT_DB}.{table.name} DROP COLUMN IF EXISTS {column}")


def kafka_engine(olap: OlapClient, table: Table) -> bool:
    """Whether ClickHouse's Kafka engine feeds `debezium.<table>_kafka` (compose) rather than our consumer."""
    rows = olap.query(KAFKA_ENGINE_SQL, parameters={"database": CDC_DB, "name": f"{table.name}_kafka"}).result_rows
    return bool(rows) and rows[0][0] == "Kafka"
