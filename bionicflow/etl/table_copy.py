"""The batch road's copy of any source table, from its catalogue description (bionicflow/kernel/pg_catalogue.py).

ClickHouse reads a source through `postgresql()`, which guesses a type per column from the
catalogue and the text PostgreSQL sends: unconstrained numeric as Decimal(38, 19) (a larger
value fails the read), a domain as String, a timestamp in the server's time zone, NULLs inside
a NOT NULL array's elements as ''. So the source gets a view (`bionicflow.<name>_olap`) that
renders every column in a form read exactly — decimals, times and dates as their text,
timestamps as microseconds since 1970, bytes as base64, arrays as JSON — and the SELECT into
ClickHouse turns each back into the column's type (`pg_types.clickhouse_type`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bionicflow.kernel.identifiers import ch_ident, pg_ident
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable
from bionicflow.kernel.sources import LOAD_SETTINGS, CopiedTable, LoadError, PgSource
from bionicflow.kernel.tables import DEFAULT_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

# bionicflow's own schema in a source: the views the batch road reads (docs/sources.md)
SOURCE_SCHEMA = "bionicflow"
# Array elements JSON carries exactly as they are (numbers in PostgreSQL's shortest exact text).
_JSON_NATIVE = frozenset({"int", "float", "bool", "string", "json"})
# The source's view as ClickHouse reads it; every value bound (the password never enters the SQL text).
VIEW_SOURCE = ("postgresql({address:String}, {database:String}, {view:String}, {user:String}, {password:String}, "
               "{schema:String})")


# Text-form values in the text Debezium sends for them (docs/sources.md), so both roads hold the same string.
_DEBEZIUM_TEXT = {
    # the amount; ::text would add the currency sign
    "money": "{c}::numeric::text",
    # ISO 8601 with every part, as Debezium's interval.handling.mode=string writes it: P1Y2M-3DT4H5M6.000007S
    "interval": ("CASE WHEN {c} IS NULL THEN NULL ELSE format('P%sY%sM%sDT%sH%sM%sS', extract(year FROM {c}), "
                 "extract(month FROM {c}), extract(day FROM {c}), extract(hour FROM {c}), extract(minute FROM {c}), "
                 "trim_scale(extract(second FROM {c}))) END"),
    # the time in UTC with a Z, as Debezium's ZonedTime: 12:00+05:30 is 06:30:00Z
    "timetz": "regexp_replace(({c} AT TIME ZONE 'UTC')::text, '[+]00$', 'Z')",
}
_UTC_ISO = ("to_char({e} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            "coalesce('.' || nullif(rtrim(to_char({e} AT TIME ZONE 'UTC', 'US'), '0'), ''), '') || 'Z'")
# How Debezium writes each element kind in a JSON array, made in PostgreSQL from the element `e`.
_ELEMENT_JSON = {
    "decimal": "e::text", "date": "e - DATE '1970-01-01'", "time": "(extract(epoch FROM e) * 1000000)::bigint",
    "millis": "(extract(epoch FROM e) * 1000)::bigint", "micros": "(extract(epoch FROM e) * 1000000)::bigint",
    "timestamptz": _UTC_ISO.format(e="e"), "bytes": "encode(e, 'base64')",
}


def _json_array(col: str, element: str) -> str:
    """An array as the JSON text Debezium sends for it (NULL stays NULL)."""
    if element not in _ELEMENT_JSON:
        return f"array_to_json({col})::text"
    elements = f"ARRAY(SELECT {_ELEMENT_JSON[element]} FROM unnest({col}) WITH ORDINALITY AS u(e, n) ORDER BY n)"
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE array_to_json({elements})::text END"


def source_expression(column: SourceColumn) -> str:
    """How the source's view renders ``column`` so that `postgresql()` reads it exactly."""
    col, kind, mapped = pg_ident(column.name), column.clickhouse.kind, column.clickhouse
    if column.pg.name in _DEBEZIUM_TEXT:
        return _DEBEZIUM_TEXT[column.pg.name].format(c=col)
    if kind.startswith("json_array:"):
        return _json_array(col, kind.removeprefix("json_array:"))
    if mapped.text_form:
        return f"{col}::text"
    if kind.startswith("array:"):
        native = kind.removeprefix("array:") in _JSON_NATIVE
        return f"array_to_json({col})::text" if native else f"array_to_json({col}::text[])::text"
    return {
        "decimal": f"{col}::text", "time": f"{col}::text", "json": f"{col}::text",
        "date": f"to_char({col}, 'YYYY-MM-DD')",
        "micros": f"(extract(epoch FROM {col}) * 1000000)::bigint",
        "millis": f"(extract(epoch FROM {col}) * 1000000)::bigint",
        "timestamptz": f"(extract(epoch FROM {col}) * 1000000)::bigint",
        "bytes": f"encode({col}, 'base64')",
    }.get(kind, col)  # as stored: a cast to text would strip char(n)'s padding


def olap_expression(column: SourceColumn) -> str:
    """How ClickHouse turns the view's column back into the column's type."""
    col, mapped = ch_ident(column.name), column.clickhouse
    kind, target = mapped.kind, mapped.type
    if mapped.text_form:
        return col
    if kind.startswith("array:"):
        # only NOT NULL arrays get an Array (pg_types); a view's columns read as Nullable all the same
        return f"JSONExtract(assumeNotNull({col}), '{target}')"
    if kind in ("micros", "millis", "timestamptz"):
        zone = ", 'UTC'" if kind == "timestamptz" else ""
        return f"CAST(fromUnixTimestamp64Micro({col}{zone}) AS {target})"
    if kind == "bytes":
        return f"CAST(base64Decode({col}) AS {target})"
    return f"CAST({col} AS {target})"


def source_view_ddl(described: SourceTable, name: str, reader: str | None = None) -> list[str]:
    """The statements that make (or replace) the view the batch road reads ``described`` through."""
    view = f"{pg_ident(SOURCE_SCHEMA)}.{pg_ident(name + '_olap')}"
    items = ", ".join(f"{source_expression(c)} AS {pg_ident(c.name)}" for c in described.columns)
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {pg_ident(SOURCE_SCHEMA)}",
        f"CREATE OR REPLACE VIEW {view} AS SELECT {items} FROM {pg_ident(described.schema)}.{pg_ident(described.name)}",
    ]
    if reader:
        statements += [f"GRANT USAGE ON SCHEMA {pg_ident(SOURCE_SCHEMA)} TO {pg_ident(reader)}",
                       f"GRANT SELECT ON {view} TO {pg_ident(reader)}"]
    return statements


def default_table_ddl(described: SourceTable, name: str) -> str:
    """`default.<name>`: the source's columns, then the batch road's version and tombstone (as etl/ddl.py)."""
    columns = [f"    {ch_ident(c.name)} {c.clickhouse.type}" for c in described.columns]
    columns += ["    _version UInt64", "    _loaded_at DateTime64(6) DEFAULT now64(6)",
                "    is_deleted UInt8 DEFAULT 0"]
    key = ", ".join(ch_ident(k) for k in described.key)
    return (f"CREATE TABLE IF NOT EXISTS {DEFAULT_DB}.{ch_ident(name)}\n(\n" + ",\n".join(columns) + "\n)\n"
            f"ENGINE = ReplacingMergeTree(_version, is_deleted)\nORDER BY ({key})")


def view_select(described: SourceTable, meta: str) -> str:
    """The SELECT that reads the source's view and yields the table's columns, then ``meta`` (more items)."""
    items = ", ".join(f"{olap_expression(c)} AS {ch_ident(c.name)}" for c in described.columns)
    return f"SELECT {items}, {meta} FROM {VIEW_SOURCE}"


def copy_select(described: SourceTable) -> str:
    """`view_select` with the batch road's version: the copy's start in microseconds (bound as `version`)."""
    return view_select(described, "{version:UInt64} AS _version")


def view_params(source: PgSource, name: str) -> dict:
    """The bound parameters of `view_select` for the view of table ``name``."""
    return {"address": f"{source.host}:{source.port}", "database": source.database, "view": f"{name}_olap",
            "user": source.user, "password": source.password, "schema": SOURCE_SCHEMA}


class CopyRefused(LoadError):
    """The source holds values the copy's columns cannot hold; nothing was copied."""


# Per limited kind: the rows whose value ClickHouse's column cannot hold (pg_types' `limit`). ClickHouse
# would clamp a date before 1900 or flatten {{1,2},{3,4}} to [] without a word: they are refused first.
_OUT_OF_RANGE = "NOT ({c} BETWEEN '1900-01-01' AND '2299-12-31 23:59:59.999999')"
_UNHOLDABLE = {"decimal": "{c} = 'NaN'", "date": _OUT_OF_RANGE, "millis": _OUT_OF_RANGE, "micros": _OUT_OF_RANGE,
               "timestamptz": _OUT_OF_RANGE.replace("'2299-12-31 23:59:59.999999'", "'2299-12-31 23:59:59.999999+00'")}
_BAD_SHAPE = "array_ndims({c}) > 1 OR array_lower({c}, 1) <> 1"


def unholdable_values(conn, described: SourceTable) -> dict[str, int]:
    """Column → how many of the source's rows hold a value its ClickHouse column cannot (only those with any)."""
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
        cur.execute(f"SELECT {counts} FROM {pg_ident(described.schema)}.{pg_ident(described.name)}")
        found = cur.fetchone()
    return {name: n for name, n in zip(checks, found, strict=True) if n}


def refuse_unholdable(source: PgSource, described: SourceTable) -> None:
    """`CopyRefused` when a source row holds a value its ClickHouse column cannot hold (copying would change it)."""
    conn = source.connect()
    try:
        unholdable = unholdable_values(conn, described)
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


def first_copy(olap: OlapClient, source: PgSource, described: SourceTable, name: str) -> CopiedTable:
    """Create `default.<name>` and copy the source table into it whole (the view must exist in the source).

    `CopyRefused`, before anything is written, when a value cannot be held (NaN in numeric(p,s), a
    date outside 1900-2299, an array of two dimensions): copying it would change it.
    """
    refuse_unholdable(source, described)
    olap.command(default_table_ddl(described, name))
    return refresh_copy(olap, source, described, name)


def refresh_copy(olap: OlapClient, source: PgSource, described: SourceTable, name: str) -> CopiedTable:
    """Copy the source table into `default.<name>` again, whole: each row a new version, each vanished key a tombstone.

    Exact whatever happened in between (updates, deletes, key changes, TRUNCATE): under FINAL the
    table is the source as the copy read it. The cost is the table's size, changed or not.
    """
    started = time.monotonic()
    table = f"{DEFAULT_DB}.{ch_ident(name)}"
    names = ", ".join(ch_ident(c.name) for c in described.columns)
    version = int(olap.command("SELECT toUInt64(toUnixTimestamp64Micro(now64(6)))"))
    olap.command(f"INSERT INTO {table} ({names}, _version) {copy_select(described)}",
                 parameters={**view_params(source, name), "version": version}, settings=LOAD_SETTINGS)
    olap.command(_TOMBSTONES.format(table=table, names=names), parameters={"version": version})
    rows = olap.command(f"SELECT count() FROM {table} FINAL WHERE NOT is_deleted")
    return CopiedTable(name, int(rows), time.monotonic() - started)
