"""The ClickHouse `debezium` schema, rendered for both deployments from one definition.

* ``embedded``: ``*_kafka`` tables use the ``Null`` engine and are fed by our consumer
  (chdb's Kafka engine does not stream), with ``_topic/_partition/_offset`` as columns.
* ``kafka``: ``*_kafka`` tables use ClickHouse's Kafka engine (compose, clusters), where the
  same three names are the engine's virtual columns.

The materialized views are the same text in both, so the two deployments transform
messages identically. Each message is validated in SQL: a valid change goes to the
target table; anything else goes to ``debezium.dead_letters`` with the reason.
"""

from __future__ import annotations

from dataclasses import replace

from bionicflow.kernel.cluster_ddl import for_cluster
from bionicflow.kernel.identifiers import ch_literal as _lit, ch_name
from bionicflow.kernel import snapshot_marks
from bionicflow.kernel.tables import CDC_DB, TABLES, Column, Table

DATABASE = CDC_DB
# Kafka as ClickHouse's Kafka engine reaches it in docker-compose.yaml (the broker's internal listener).
DEFAULT_BROKER_LIST = "kafka:29092"
OPS = ("c", "u", "r", "d")
NON_FINITE_FLOATS = """('"NaN"', '"Infinity"', '"-Infinity"')"""


def extract(column: Column, row: str, fields: str | None = None) -> str:
    """A ClickHouse expression reading this column from the row JSON ``row``.

    ``fields``: the row image's raw field texts as read from the message itself (see
    `_message_parts`); floats are read from there, exactly.
    """
    if column.added and fields:
        # a message from before the column existed has no such field: the column's default
        present = extract(replace(column, added=False), row, fields)
        return f"if(mapContains({fields}, {_lit(column.source)}), {present}, {column.default or 'NULL'})"
    nullable = column.type.startswith("Nullable(")
    if column.kind == "float" and fields:
        # -0.0 survives only the first serialisation of the message ("-0"); JSON read again
        # takes "-0" for the integer 0 and loses the sign. The text parse keeps every bit;
        # the non-finite strings ("NaN", "Infinity") are left to JSONExtractFloat.
        exact = f"toFloat64OrNull({fields}[{_lit(column.source)}])"
        fallback = extract(column, row)
        return f"if(isNull({exact}), {fallback}, assumeNotNull({exact}))" if not nullable else (
            f"if(isNull({exact}), {fallback}, {exact})")
    if column.kind == "micros":
        micros = (f"JSONExtract({row}, {_lit(column.source)}, 'Nullable(Int64)')" if nullable
                  else f"JSONExtractInt({row}, {_lit(column.source)})")
        return f"fromUnixTimestamp64Micro({micros})"
    if column.kind in _CONVERTED or column.kind.startswith(("array:", "json_array:")) or (
            column.kind == "string" and _base(column.type) not in ("String", "LowCardinality(String)")):
        return _converted(column, row)
    if nullable:
        return f"JSONExtract({row}, {_lit(column.source)}, '{column.type}')"
    fn = {"int": "JSONExtractInt", "string": "JSONExtractString", "float": "JSONExtractFloat"}[column.kind]
    return f"{fn}({row}, {_lit(column.source)})"


# How Debezium sends each kind of a table copied from a source's catalogue (bionicflow/kernel/pg_types.py),
# with the connector options of docs/sources.md: (the JSON primitive read, the expression of `v` making the value).
_ZERO_DAY = "toDate32('1970-01-01')"
_CONVERTED = {
    # a string, exact; the non-numbers in PostgreSQL's spelling (a numeric without precision keeps them)
    "decimal": ("String", "transform({v}, ['NAN', 'POSITIVE_INFINITY', 'NEGATIVE_INFINITY'], "
                          "['NaN', 'Infinity', '-Infinity'], {v})"),
    "bool": ("Bool", "{v}"),
    "date": ("Int32", "addDays(" + _ZERO_DAY + ", {v})"),  # days since 1970
    "time": ("Int64", "addMicroseconds(toTime64('00:00:00', 6), {v})"),  # microseconds since midnight
    "millis": ("Int64", "fromUnixTimestamp64Milli({v})"),  # timestamp(0..3): milliseconds since 1970
    # OrNull: a NULL reaches the parser as '' (misfit has refused unreadable text before)
    "timestamptz": ("String", "parseDateTime64BestEffortOrNull({v}, 6, 'UTC')"),  # ISO 8601 in UTC, ...Z
    "json": ("String", "{v}"),
    "bytes": ("String", "base64Decode({v})"),
}
# Array elements Debezium sends as numbers the target type does not read directly.
_ELEMENTS = {"date": ("Int32", f"addDays({_ZERO_DAY}, e)"),
             "time": ("Int64", "addMicroseconds(toTime64('00:00:00', 6), e)")}


def _base(type_: str) -> str:
    return type_[len("Nullable("):-1] if type_.startswith("Nullable(") else type_


def _converted(column: Column, row: str) -> str:
    """A column of a kind Debezium sends in a form of its own: read the primitive, convert, cast."""
    if column.kind.startswith("json_array:"):  # kept as the message's own JSON text of the array
        raw = f"JSONExtractRaw({row}, {_lit(column.source)})"
        return f"CAST(if(JSONType({row}, {_lit(column.source)}) = 'Null', NULL, {raw}) AS {column.type})"
    if column.kind.startswith("array:"):
        element = column.kind.removeprefix("array:")
        if element in _ELEMENTS:
            primitive, make = _ELEMENTS[element]
            read = f"JSONExtract({row}, {_lit(column.source)}, 'Array(Nullable({primitive}))')"
            return f"CAST(arrayMap(e -> {make}, {read}) AS {column.type})"
        return f"JSONExtract({row}, {_lit(column.source)}, '{column.type}')"
    primitive, make = _CONVERTED.get(column.kind, ("String", "{v}"))
    value = make.format(v=f"JSONExtract({row}, {_lit(column.source)}, 'Nullable({primitive})')")
    return f"CAST({value} AS {column.type})"


def misfit(column: Column, fields: str) -> tuple[str, str]:
    """(condition, reason): this column's value would not be stored exactly.

    ``fields`` maps the row image's keys to their raw JSON text. The JSON extract functions
    turn what they cannot read into a default (a number beyond Int64, or text in a number
    column, becomes 0), so without this check such a change would be stored wrong instead
    of dead-lettered. Checking the raw text parses the image once, not once per column.
    """
    raw = f"{fields}[{_lit(column.source)}]"
    # Kafka's JSON converter writes NaN and ±Infinity as the strings "NaN", "Infinity" and
    # "-Infinity" (JSON has no such numbers); JSONExtractFloat reads them back exactly.
    condition = _misfit_condition(column, raw)
    if column.type.startswith(("Nullable(", "LowCardinality(Nullable(")):
        condition = f"{raw} != 'null' AND {condition}"
    if column.added:  # absent from messages written before the column existed
        condition = f"mapContains({fields}, {_lit(column.source)}) AND {condition}"
    quoted_type = column.type.replace("'", "''")  # DateTime64(6, 'UTC') inside a string literal
    reason = (f"concat({_lit(f'column {column.name}: ')}, if({raw} IN ('', 'null'), 'missing or null', "
              f"concat('value ', substring({raw}, 1, 60))), ' does not fit {quoted_type}')")
    return condition, reason


def _misfit_condition(column: Column, raw: str) -> str:
    """True when the value's JSON text ``raw`` cannot become the column's value (NULL aside)."""
    base, text = _base(column.type), f"JSONExtractString({raw})"
    number = f"isNull(toInt64OrNull({raw}))"
    quoted = f"NOT startsWith({raw}, '\"')"
    if column.kind.startswith(("array:", "json_array:")):
        return f"NOT startsWith({raw}, '[')"
    if column.kind == "decimal" and base.startswith("Decimal"):
        return f"isNull(accurateCastOrNull({text}, '{base}'))"
    if column.kind == "string" and base == "UUID":
        return f"isNull(toUUIDOrNull({text}))"
    # DateTime64 holds 1900-01-01 .. 2299-12-31 23:59:59.999...; beyond, ClickHouse would store another instant
    millis = f"({number} OR NOT (toInt64OrZero({raw}) BETWEEN -2208988800000 AND 10413791999999))"
    year = f"toInt32OrZero(substring({text}, 1, 4))"
    return {
        "int": number, "micros": number, "millis": millis, "time": number,
        "float": f"isNull(toFloat64OrNull({raw})) AND {raw} NOT IN {NON_FINITE_FLOATS}",
        # Date32 holds 1900-01-01 .. 2299-12-31: -25567 .. 120529 days since 1970
        "date": f"({number} OR NOT (toInt64OrZero({raw}) BETWEEN -25567 AND 120529))",
        "bool": f"{raw} NOT IN ('true', 'false')",
        "timestamptz": f"(isNull(parseDateTime64BestEffortOrNull({text}, 6, 'UTC')) OR "
                       f"NOT ({year} BETWEEN 1900 AND 2299) OR substring({text}, 5, 1) != '-')",
    }.get(column.kind, quoted)  # string, json, bytes, a decimal kept as text: a JSON string


# Bookkeeping columns on every target table.
META_COLUMNS = (
    ("_op", "LowCardinality(String)"),  # c, u, r (snapshot) or d
    ("_lsn", "UInt64"),  # source position (0 for incremental-snapshot reads)
    ("_version", "UInt64"),  # position in the topic (Kafka offset + 1): the newest wins; 0 = initial load
    ("_source_ts", "DateTime64(6)"),  # commit time in the source
    ("_ingested_at", "DateTime64(6)"),  # when ClickHouse received it
    ("is_deleted", "UInt8"),
)


def _message_parts() -> str:
    """The WITH clause naming the parts of a Debezium JSON message (schemas enabled)."""
    return (
        "WITH JSONExtractRaw(payload, 'payload') AS p,\n"
        "     JSONExtractString(p, 'op') AS op,\n"
        "     JSONExtractRaw(p, 'before') AS before,\n"
        "     JSONExtractRaw(p, 'after') AS after,\n"
        "     if(op = 'd', before, after) AS img,\n"
        "     JSONExtractRaw(p, 'source') AS src,\n"
        # from the message itself, not from `img`: a value serialised twice can lose bits (-0.0)
        "     JSONExtractKeysAndValuesRaw(payload, 'payload', if(op = 'd', 'before', 'after')) AS raw_fields,\n"
        "     mapFromArrays(raw_fields.1, raw_fields.2) AS fields"
    )


def _checks(table: Table) -> list[tuple[str, str]]:
    """(condition, reason) pairs, in order: a message meeting any condition is not a usable change."""
    sources = {c.name: c.source for c in table.columns}
    return [
        ("payload = ''", "'empty message (tombstone or null value)'"),
        ("NOT isValidJSON(payload)", "'not valid JSON'"),
        (f"op NOT IN ({', '.join(repr(o) for o in OPS)})", "concat('unknown or missing payload.op: ', op)"),
        (f"JSONExtractString(src, 'table') != {_lit(table.source_table)}",
         f"concat('message is for table ', JSONExtractString(src, 'table'), {_lit(', not ' + table.source_table)})"),
        *((f"NOT JSONHas(img, {_lit(sources[k])}) OR JSONType(img, {_lit(sources[k])}) = 'Null'",
           f"'row image has no {sources[k]}'") for k in table.key_columns),
        *_misfits(table),
    ]


def _usable(table: Table) -> str:
    """True for a message that is a usable change of this table.

    The checks are array elements, which ClickHouse evaluates eagerly, not and/or arguments,
    which it evaluates lazily: a lazy argument re-parses the message's JSON (the WITH parts)
    for itself, which made the views ~5x slower on a batch of good messages (bench/cdc_views.py).
    """
    flags = ",\n    ".join(f"toUInt8({condition})" for condition, _ in _checks(table))
    return f"NOT has([\n    {flags}], 1)"


def _problem(table: Table) -> str:
    """Why a message is not a usable change of this table.

    Only the dead-letter view computes it, for the messages `_usable` refused (its multiIf
    re-parses per branch, see `_usable`).
    """
    branches = "".join(f"    {condition}, {reason},\n" for condition, reason in _checks(table))
    return "multiIf(\n" + branches + "    '')"


def _misfits(table: Table) -> list[tuple[str, str]]:
    """Type checks of the row image: every column for c/u/r; for a delete only the sorting key,
    which is all its row needs (its other columns are hidden under FINAL)."""
    checks = []
    for column in table.columns:
        condition, reason = misfit(column, "fields")
        if column.name not in table.sorting_key:
            condition = f"op != 'd' AND {condition}"
        checks.append((condition, reason))
    return checks


def kafka_table_ddl(table: Table, mode: str, broker_list: str = DEFAULT_BROKER_LIST) -> str:
    name = f"{DATABASE}.{table.name}_kafka"
    if mode == "embedded":
        return (
            f"CREATE TABLE IF NOT EXISTS {name}\n(\n"
            "    payload String,\n    _topic LowCardinality(String),\n    _partition UInt64,\n    _offset UInt64\n)\n"
            "ENGINE = Null"
        )
    if mode == "kafka":
        return (
            f"CREATE TABLE IF NOT EXISTS {name}\n(\n    payload String\n)\n"
            "ENGINE = Kafka\nSETTINGS\n"
            f"    kafka_broker_list = '{broker_list}',\n"
            f"    kafka_topic_list = '{table.topic}',\n"
            f"    kafka_group_name = '{table.consumer_group}',\n"
            "    kafka_format = 'JSONAsString',\n"
            "    kafka_num_consumers = 1,\n"
            "    kafka_thread_per_consumer = 1,\n"
            # A message the format cannot read is kept (as _raw_message/_error), never skipped.
            "    kafka_handle_error_mode = 'stream',\n"
            "    kafka_max_block_size = 1048576"
        )
    raise ValueError(f"unknown schema mode {mode!r}: use 'embedded' or 'kafka'")


def target_table_ddl(table: Table) -> str:
    cols = [f"    {ch_name(c.name)} {c.type}" for c in table.columns]
    cols += [f"    {name} {typ}" + (" DEFAULT now64(6)" if name == "_ingested_at" else "")
             for name, typ in META_COLUMNS]
    return (
        f"CREATE TABLE IF NOT EXISTS {DATABASE}.{table.name}\n(\n" + ",\n".join(cols) + "\n)\n"
        # The message latest in the topic wins: Debezium's log order is its consistency
        # guarantee, also for incremental-snapshot reads, which carry no LSN (see docs/cdc.md).
        # A delete's tombstone row hides the key under FINAL.
        "ENGINE = ReplacingMergeTree(_version, is_deleted)\n"
        f"ORDER BY {table.order_by}"
    )


def moved_rows_condition(table: Table) -> str:
    """True for an update that changed a sorting-key column: the row's old position must be deleted.

    The replacing engine collapses rows by the whole sorting key, so without this delete an
    update of `user_uuid` would leave the old row alive next to the new one.
    """
    if not table.sort_prefix:
        return "0"
    by_name = {c.name: c for c in table.columns}
    changed = " OR ".join(f"{extract(by_name[n], 'before')} != {extract(by_name[n], 'after')}"
                          for n in table.sort_prefix)
    return f"op = 'u' AND JSONType(p, 'before') = 'Object' AND ({changed})"


def change_rows_select(table: Table, source: str) -> str:
    """The SELECT turning raw messages (payload, _topic, _partition, _offset) from `source` into rows.

    One message gives one row, or two when it moves a row: a delete at the old position first.
    Messages that are not usable changes give none (the dead-letter view takes them).
    """
    selects = [f"    {extract(c, 'row_img', fields='fields')} AS {ch_name(c.name)}" for c in table.columns]
    selects += [
        "    tupleElement(image, 3) AS _op",
        "    JSONExtractUInt(src, 'lsn') AS _lsn",
        # + 1: version 0 belongs to rows an initial load copied (cdc/initial_load.py), which
        # every streamed change must outrank, the one at offset 0 included.
        "    _offset + 1 AS _version",
        "    fromUnixTimestamp64Micro(JSONExtractInt(src, 'ts_us')) AS _source_ts",
        "    now64(6) AS _ingested_at",
        "    tupleElement(image, 2) AS is_deleted",
    ]
    return (
        _message_parts() + ",\n"
        "     tupleElement(image, 1) AS row_img\n"
        "SELECT\n" + ",\n".join(selects) + "\n"
        f"FROM {source}\n"
        f"ARRAY JOIN arrayConcat(if({moved_rows_condition(table)}, [(before, toUInt8(1), 'd')], []),\n"
        "                       [(img, toUInt8(op = 'd'), op)]) AS image\n"
        f"WHERE {_usable(table)}"
    )


def usable_messages_select(table: Table, source: str) -> str:
    """(_partition, _offset) of the messages in `source` that are usable changes of this table."""
    return f"{_message_parts()}\nSELECT _partition, _offset FROM {source}\nWHERE {_usable(table)}"


def view_ddl(table: Table) -> str:
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{table.name}_mv TO {DATABASE}.{table.name}\nAS\n"
        + change_rows_select(table, f"{DATABASE}.{table.name}_kafka")
    )


DEAD_LETTERS_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.dead_letters
(
    topic LowCardinality(String),
    partition UInt64,
    offset UInt64,
    raw_value String,
    error String,
    received_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (topic, partition, offset)"""


def dead_letter_view_ddl(table: Table) -> str:
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{table.name}_dead_letters_mv "
        f"TO {DATABASE}.dead_letters\nAS\n"
        + _message_parts() + "\n"
        "SELECT _topic AS topic, _partition AS partition, _offset AS offset,\n"
        f"       payload AS raw_value, {_problem(table)} AS error, now64(6) AS received_at\n"
        f"FROM {DATABASE}.{table.name}_kafka\nWHERE NOT {_usable(table)} AND NOT ({_truncate(table)})"
    )


# The columns the CDC road added to a table after its source gained them (bionicflow/cdc/evolve.py).
ADDED_COLUMNS_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.added_columns
(
    table_name LowCardinality(String),
    name String,
    type String,
    kind LowCardinality(String),
    default_sql String,
    added_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (table_name, name)"""


# One row per TRUNCATE message: every row of the table older than `_version` is gone in the
# source. The purge itself (a lightweight DELETE) is run by bionicflow/cdc/truncations.py;
# a redelivered TRUNCATE inserts its row again with `applied_at` NULL, so it is purged again
# (the redelivery brought the rows before it back too).
TRUNCATIONS_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.truncations
(
    table_name LowCardinality(String),
    _version UInt64,
    topic LowCardinality(String),
    partition UInt64,
    offset UInt64,
    _lsn UInt64,
    _source_ts DateTime64(6),
    received_at DateTime64(6) DEFAULT now64(6),
    applied_at Nullable(DateTime64(6))
)
ENGINE = ReplacingMergeTree
ORDER BY (table_name, _version)"""


def _truncate(table: Table) -> str:
    """True for Debezium's TRUNCATE message of this table (op `t`: no row image, table in `source`)."""
    return (f"isValidJSON(payload) AND op = 't' "
            f"AND JSONExtractString(src, 'table') = {_lit(table.source_table)}")


def truncation_view_ddl(table: Table) -> str:
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{table.name}_truncations_mv TO {DATABASE}.truncations\nAS\n"
        + _message_parts() + "\n"
        f"SELECT '{table.name}' AS table_name, _offset + 1 AS _version, _topic AS topic, _partition AS partition,\n"
        "       _offset AS offset, JSONExtractUInt(src, 'lsn') AS _lsn,\n"
        "       fromUnixTimestamp64Micro(JSONExtractInt(src, 'ts_us')) AS _source_ts, now64(6) AS received_at,\n"
        "       CAST(NULL AS Nullable(DateTime64(6))) AS applied_at\n"
        f"FROM {DATABASE}.{table.name}_kafka\nWHERE {_truncate(table)}"
    )


# The materialized views each table's message table feeds, by their names' suffixes.
VIEW_SUFFIXES = ("_mv", "_dead_letters_mv", "_truncations_mv")


def views_ddl(table: Table) -> list[str]:
    """The table's views (made again whenever its columns change)."""
    return [view_ddl(table), dead_letter_view_ddl(table), truncation_view_ddl(table)]


def table_ddl(table: Table, mode: str, broker_list: str = DEFAULT_BROKER_LIST) -> list[str]:
    """Everything of one table on the CDC road: its message table, its copy, its views."""
    return [kafka_table_ddl(table, mode, broker_list), target_table_ddl(table), *views_ddl(table)]


def render(mode: str, broker_list: str = DEFAULT_BROKER_LIST, cluster: str | None = None) -> list[str]:
    """Every statement of the `debezium` schema, in the order they must run (all idempotent).

    `cluster`: the same schema on a ClickHouse cluster (ON CLUSTER, Replicated* engines).
    """
    statements = [f"CREATE DATABASE IF NOT EXISTS {DATABASE}", DEAD_LETTERS_DDL, TRUNCATIONS_DDL, ADDED_COLUMNS_DDL]
    for table in TABLES:
        statements += table_ddl(table, mode, broker_list)
    statements += snapshot_marks.render(DATABASE)
    return [for_cluster(s, cluster) for s in statements] if cluster else statements
