"""Schema evolution on the CDC road: a column added to a source table appears in `debezium`.

Every Debezium message carries its row schema (JSON with schemas, as in the brief). When a
message's `after` schema names a field the table does not have yet, the column is added
before the message is stored: `ALTER TABLE debezium.<table> ADD COLUMN`, typed from that
schema, with the source's default when the schema gives one (rows stored earlier read it,
as PostgreSQL's own old rows do); the views are made again with it, and the column is
recorded in `debezium.added_columns` so every later start knows it.

The embedded consumer does this itself between two batches: it is the only writer of
`<table>_kafka`, so no message can pass while the views are replaced, and the batch that
brought the new field is stored after the column exists (nothing to replay). On compose,
ClickHouse's Kafka engine stores such messages without the column until `bionicflow cdc
evolve` runs (it pauses the Kafka table meanwhile); the values that passed before are then
re-read with the `backfill` DAG (docs/cdc.md, "Schema changes").

Typed: integers (Int64), floating point (Float64), text/uuid/json/enum (String),
`timestamp` (DateTime64(6)); always Nullable. Anything else, or a name that would need
quoting, is not added: the consumer logs why and `bionicflow status` keeps reporting it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import logging
import re
from dataclasses import dataclass

from bionicflow.cdc import ddl
from bionicflow.cdc.ddl import ADDED_COLUMNS_DDL
from bionicflow.kernel.tables import CDC_DB, Column, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.cdc.evolve")

ADDED_SQL = (f"SELECT name, type, kind, default_sql FROM {CDC_DB}.added_columns FINAL "
             "WHERE table_name = {table:String} ORDER BY added_at, name")
REGISTER_SQL = (f"INSERT INTO {CDC_DB}.added_columns (table_name, name, type, kind, default_sql) VALUES "
                "({table:String}, {name:String}, {type:String}, {kind:String}, {default:String})")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # a PostgreSQL name that needs no quoting
PAYLOAD_MARK = b',"payload":'
# Debezium's (type, logical name) -> (ClickHouse type, how the views read it)
TYPES = {
    ("int16", None): ("Nullable(Int64)", "int"),
    ("int32", None): ("Nullable(Int64)", "int"),
    ("int64", None): ("Nullable(Int64)", "int"),
    ("float32", None): ("Nullable(Float64)", "float"),
    ("float64", None): ("Nullable(Float64)", "float"),
    ("string", None): ("Nullable(String)", "string"),
    ("string", "io.debezium.data.Uuid"): ("Nullable(String)", "string"),
    ("string", "io.debezium.data.Json"): ("Nullable(String)", "string"),
    ("string", "io.debezium.data.Enum"): ("Nullable(String)", "string"),
    ("int64", "io.debezium.time.MicroTimestamp"): ("Nullable(DateTime64(6))", "micros"),
}


@dataclass(frozen=True)
class Plan:
    columns: tuple[Column, ...]  # to add now
    refused: tuple[str, ...]  # fields that cannot be added, with why


def schema_part(value: bytes | None) -> bytes | None:
    """The `schema` envelope of a raw message (the text before `"payload"`), or None when there is none."""
    if not value or not value.startswith(b'{"schema":'):
        return None
    end = value.find(PAYLOAD_MARK)
    return value[:end] if end > 0 else None


def after_fields(part: bytes) -> list[dict]:
    """The row fields a message's schema declares (`after`, same as `before`)."""
    try:
        doc = json.loads(part + b"}")
    except ValueError:
        return []
    return next((f.get("fields") or [] for f in (doc.get("schema") or {}).get("fields") or []
                 if f.get("field") == "after"), [])


def _literal(value, kind: str) -> str:
    if value is None:
        return ""
    if kind in ("int", "micros"):
        return str(int(value))
    if kind == "float":
        return repr(float(value))
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def column_for(field: dict) -> Column | str:
    """The ClickHouse column for a Debezium field, or why there is none."""
    name = str(field.get("field", ""))
    if not IDENTIFIER.match(name):
        return f"{name!r}: a name that needs quoting is not added automatically"
    typed = TYPES.get((field.get("type", ""), field.get("name")))
    if typed is None:
        return f"{name}: Debezium type {field.get('type')}/{field.get('name') or '-'} has no automatic mapping"
    ch_type, kind = typed
    try:
        default = _literal(field.get("default"), kind)
    except (TypeError, ValueError):
        default = ""
    return Column(name, ch_type, name, kind, added=True, default=default)


def plan(table: Table, fields: list[dict]) -> Plan:
    """Which of a message's fields the table lacks, as columns to add (and the ones that cannot be)."""
    known = {c.source for c in table.columns}
    new: list[Column] = []
    refused: list[str] = []
    for field in fields:
        if field.get("field") in known:
            continue
        column = column_for(field)
        if isinstance(column, Column):
            new.append(column)
        else:
            refused.append(column)
    return Plan(tuple(new), tuple(refused))


def added_columns(olap: OlapClient, table: Table) -> tuple[Column, ...]:
    # a read: the table is made by the bootstrap (ddl.render) or by the first `evolve`, not here
    if not int(olap.command(f"EXISTS TABLE {CDC_DB}.added_columns")):
        return ()
    rows = olap.query(ADDED_SQL, parameters={"table": table.name}).result_rows
    return tuple(Column(name, ch_type, name, kind, added=True, default=default)
                 for name, ch_type, kind, default in rows)


def extended(olap: OlapClient, table: Table) -> Table:
    """``table`` with every column the CDC road added to it."""
    return table.with_columns(added_columns(olap, table))


def _column_ddl(column: Column) -> str:
    return f"{column.name} {column.type}" + (f" DEFAULT {column.default}" if column.default else "")


def rebuild_views(olap: OlapClient, table: Table) -> None:
    """Make the change and dead-letter views again from ``table`` (the caller keeps messages from passing)."""
    for view, statement in ((f"{table.name}_mv", ddl.view_ddl(table)),
                            (f"{table.name}_dead_letters_mv", ddl.dead_letter_view_ddl(table))):
        olap.command(f"DROP VIEW IF EXISTS {CDC_DB}.{view}")
        olap.command(statement)


def evolve(olap: OlapClient, table: Table, columns: tuple[Column, ...]) -> Table:
    """Add ``columns`` to `debezium.<table>`, record them and rebuild the views; returns the extended table."""
    for column in columns:
        olap.command(f"ALTER TABLE {CDC_DB}.{table.name} ADD COLUMN IF NOT EXISTS {_column_ddl(column)}")
    olap.command(ADDED_COLUMNS_DDL)
    for c in columns:
        olap.command(REGISTER_SQL, parameters={"table": table.name, "name": c.name, "type": c.type, "kind": c.kind,
                                               "default": c.default})
    grown = table.with_columns(columns)
    rebuild_views(olap, grown)
    log.info("%s: added %s to %s.%s and its views", table.name,
             ", ".join(_column_ddl(c) for c in columns), CDC_DB, table.name)
    return grown


def views_lack(olap: OlapClient, table: Table) -> bool:
    """True when the change view does not write every column of ``table`` (views made again by an older bootstrap)."""
    query = olap.query(f"SELECT create_table_query FROM system.tables WHERE database = '{CDC_DB}' "
                       "AND name = {view:String}", parameters={"view": f"{table.name}_mv"}).result_rows
    text = query[0][0] if query else ""
    return bool(text) and any(f" AS {c.name}" not in text for c in table.columns if c.added)
