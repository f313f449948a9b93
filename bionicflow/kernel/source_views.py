"""The view each added table gets in its source, which both roads' copies read (`bionicflow.<name>_olap`).

ClickHouse reads a source through `postgresql()`, which guesses a type per column from the
catalogue and the text PostgreSQL sends: unconstrained numeric as Decimal(38, 19) (a larger
value fails the read), a domain as String, a timestamp in the server's time zone, NULLs inside
a NOT NULL array's elements as ''. So the source gets a view that renders every column in a
form read exactly — decimals, times and dates as their text, timestamps as microseconds since
1970, bytes as base64, arrays as JSON, text forms as Debezium sends them — and the SELECT into
ClickHouse turns each back into the column's type (`pg_types.clickhouse_type`). The batch
road's copies and the CDC road's first copy (and its copy after a schema change) read it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bionicflow.kernel.identifiers import ch_ident, pg_ident
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable
from bionicflow.kernel.sources import PgSource

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
    # PostgreSQL's output of the value (::text would add a host's full netmask: ::1 as ::1/128), as Debezium sends it
    "inet": "CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END",
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


def source_expression(column: SourceColumn, alias: str = "") -> str:
    """How the source's view renders ``column`` (of the relation ``alias``, if given) so that `postgresql()` reads it
    exactly."""
    col, kind, mapped = pg_ident(column.name), column.clickhouse.kind, column.clickhouse
    col = f"{alias}.{col}" if alias else col
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


def view_name(name: str) -> str:
    """The quoted name of the view in the source that table ``name``'s copies read."""
    return f"{pg_ident(SOURCE_SCHEMA)}.{pg_ident(name + '_olap')}"


def source_view_ddl(described: SourceTable, name: str, reader: str | None = None) -> list[str]:
    """The statements that make (or replace) the view the batch road reads ``described`` through."""
    view = view_name(name)
    items = ", ".join(f"{source_expression(c)} AS {pg_ident(c.name)}" for c in described.columns)
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {pg_ident(SOURCE_SCHEMA)}",
        f"CREATE OR REPLACE VIEW {view} AS SELECT {items} FROM {described.qualified}",
    ]
    if reader:
        statements += [f"GRANT USAGE ON SCHEMA {pg_ident(SOURCE_SCHEMA)} TO {pg_ident(reader)}",
                       f"GRANT SELECT ON {view} TO {pg_ident(reader)}"]
    return statements


def recreate_view_ddl(described: SourceTable, name: str) -> list[str]:
    """The statements that make the view again for a table whose columns changed (a view cannot lose columns)."""
    return [f"DROP VIEW IF EXISTS {view_name(name)}",
            *source_view_ddl(described, name)]


def view_select(described: SourceTable, meta: str, columns: Sequence[SourceColumn] = ()) -> str:
    """The SELECT that reads a source view and yields the table's columns (or only ``columns``), then ``meta``."""
    items = ", ".join(f"{olap_expression(c)} AS {ch_ident(c.name)}" for c in (columns or described.columns))
    return f"SELECT {items}, {meta} FROM {VIEW_SOURCE}"


def view_params(source: PgSource, name: str, view: str = "") -> dict:
    """The bound parameters of `view_select` for the view of table ``name`` (or its other view ``view``)."""
    return {"address": f"{source.host}:{source.port}", "database": source.database, "view": view or f"{name}_olap",
            "user": source.user, "password": source.password, "schema": SOURCE_SCHEMA}
