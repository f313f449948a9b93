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

from dataclasses import dataclass

from bionicflow.cluster_ddl import for_cluster

DATABASE = "debezium"
# Kafka as ClickHouse's Kafka engine reaches it in docker-compose.yaml (the broker's internal listener).
DEFAULT_BROKER_LIST = "kafka:29092"
OPS = ("c", "u", "r", "d")
NON_FINITE_FLOATS = """('"NaN"', '"Infinity"', '"-Infinity"')"""


@dataclass(frozen=True)
class Column:
    name: str  # column name in ClickHouse (the brief's)
    type: str  # ClickHouse type
    source: str  # column name in the PostgreSQL table
    kind: str  # how to read it from the Debezium row JSON: int, string, float, micros

    def extract(self, row: str) -> str:
        """A ClickHouse expression reading this column from the row JSON ``row``."""
        nullable = self.type.startswith("Nullable(")
        if self.kind == "micros":
            return f"fromUnixTimestamp64Micro(JSONExtractInt({row}, '{self.source}'))"
        if nullable:
            return f"JSONExtract({row}, '{self.source}', '{self.type}')"
        fn = {"int": "JSONExtractInt", "string": "JSONExtractString", "float": "JSONExtractFloat"}[self.kind]
        return f"{fn}({row}, '{self.source}')"

    def misfit(self, fields: str) -> tuple[str, str]:
        """(condition, reason): this column's value would not be stored exactly.

        ``fields`` maps the row image's keys to their raw JSON text. The JSON extract functions
        turn what they cannot read into a default (a number beyond Int64, or text in a number
        column, becomes 0), so without this check such a change would be stored wrong instead
        of dead-lettered. Checking the raw text parses the image once, not once per column.
        """
        raw = f"{fields}['{self.source}']"
        # Kafka's JSON converter writes NaN and ±Infinity as the strings "NaN", "Infinity" and
        # "-Infinity" (JSON has no such numbers); JSONExtractFloat reads them back exactly.
        condition = {"int": f"isNull(toInt64OrNull({raw}))", "micros": f"isNull(toInt64OrNull({raw}))",
                     "float": f"isNull(toFloat64OrNull({raw})) AND {raw} NOT IN {NON_FINITE_FLOATS}",
                     "string": f"NOT startsWith({raw}, '\"')"}[self.kind]
        if self.type.startswith("Nullable("):
            condition = f"{raw} != 'null' AND {condition}"
        reason = (f"concat('column {self.name}: ', if({raw} IN ('', 'null'), 'missing or null', "
                  f"concat('value ', substring({raw}, 1, 60))), ' does not fit {self.type}')")
        return condition, reason


@dataclass(frozen=True)
class CdcTable:
    name: str  # debezium.<name>
    topic: str
    source_table: str  # PostgreSQL table (schema public)
    key: str  # ClickHouse key column
    columns: tuple[Column, ...]
    consumer_group: str
    olap_source: str = ""  # the relation ClickHouse reads for batch loads (default: the table)
    # Columns whose hash leads the sorting key, before `key`: a user's rows sit together, so a
    # report reads a few granules instead of scanning (see docs/reports.md; it replaced a
    # bloom-filter skip index, which still scanned 5-40x more and cost ~1 ms per read once the
    # key covered it). Rows whose value changes are moved by the view (a delete of the old
    # position); see `moved_rows_condition`.
    sort_prefix: tuple[str, ...] = ("user_uuid",)

    @property
    def sorting_key(self) -> tuple[str, ...]:
        # Hashed because every insert sorts its block: sorting by the 36-character text took
        # ~3.4 s of a 14.3 s load of 5M events, with the hash the load is as fast as an unsorted
        # one (docs/benchmarks.md), and the index still serves `user_uuid = x` through the hash.
        return (*(f"cityHash64({c})" for c in self.sort_prefix), self.key)

    @property
    def order_by(self) -> str:
        columns = self.sorting_key
        return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"

    @property
    def olap_relation(self) -> str:
        return self.olap_source or self.source_table

    @property
    def business_columns(self) -> list[str]:
        return [c.name for c in self.columns]


USERS = CdcTable(
    name="users", topic="crm.public.users", source_table="users", key="user_id",
    consumer_group="clickhouse_crm_consumer",
    columns=(
        Column("user_id", "Int64", "id", "int"),
        Column("user_uuid", "String", "user_uuid", "string"),
        Column("name", "String", "name", "string"),
        Column("email", "String", "email", "string"),
        Column("age", "Nullable(Int64)", "age", "int"),
        Column("gender", "Nullable(String)", "gender", "string"),
        Column("country", "Nullable(String)", "country", "string"),
        Column("address", "Nullable(String)", "address", "string"),
        Column("phone", "Nullable(String)", "phone", "string"),
        Column("registered_at", "DateTime64(6)", "registered_at", "micros"),
    ),
)
TELEMETRY_EVENTS = CdcTable(
    name="telemetry_events", topic="telemetry.public.telemetry_events", source_table="telemetry_events",
    key="id", consumer_group="clickhouse_telemetry_consumer", olap_source="telemetry_events_olap",
    columns=(
        Column("id", "Int64", "id", "int"),
        Column("event_uuid", "String", "event_uuid", "string"),
        Column("user_uuid", "String", "user_uuid", "string"),
        Column("prosthesis_type", "String", "prosthesis_type", "string"),
        Column("muscle_group", "String", "muscle_group", "string"),
        Column("signal_frequency", "Int64", "signal_frequency", "int"),
        Column("signal_duration", "Int64", "signal_duration", "int"),
        Column("signal_amplitude", "Float64", "signal_amplitude", "float"),
        Column("created_ts", "DateTime64(6)", "created_ts", "micros"),
        Column("saved_ts", "DateTime64(6)", "saved_ts", "micros"),
    ),
)
TABLES = (USERS, TELEMETRY_EVENTS)
TABLES_BY_TOPIC = {t.topic: t for t in TABLES}

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
        "     JSONExtractKeysAndValuesRaw(img) AS raw_fields,\n"
        "     mapFromArrays(raw_fields.1, raw_fields.2) AS fields"
    )


def _checks(table: CdcTable) -> list[tuple[str, str]]:
    """(condition, reason) pairs, in order: a message meeting any condition is not a usable change."""
    key_source = next(c.source for c in table.columns if c.name == table.key)
    return [
        ("payload = ''", "'empty message (tombstone or null value)'"),
        ("NOT isValidJSON(payload)", "'not valid JSON'"),
        (f"op NOT IN ({', '.join(repr(o) for o in OPS)})", "concat('unknown or missing payload.op: ', op)"),
        (f"JSONExtractString(src, 'table') != '{table.source_table}'",
         f"concat('message is for table ', JSONExtractString(src, 'table'), ', not {table.source_table}')"),
        (f"NOT JSONHas(img, '{key_source}') OR JSONType(img, '{key_source}') = 'Null'", f"'row image has no {key_source}'"),
        *_misfits(table),
    ]


def _usable(table: CdcTable) -> str:
    """True for a message that is a usable change of this table.

    The checks are array elements, which ClickHouse evaluates eagerly, not and/or arguments,
    which it evaluates lazily: a lazy argument re-parses the message's JSON (the WITH parts)
    for itself, which made the views ~5x slower on a batch of good messages (bench/cdc_views.py).
    """
    flags = ",\n    ".join(f"toUInt8({condition})" for condition, _ in _checks(table))
    return f"NOT has([\n    {flags}], 1)"


def _problem(table: CdcTable) -> str:
    """Why a message is not a usable change of this table.

    Only the dead-letter view computes it, for the messages `_usable` refused (its multiIf
    re-parses per branch, see `_usable`).
    """
    branches = "".join(f"    {condition}, {reason},\n" for condition, reason in _checks(table))
    return "multiIf(\n" + branches + "    '')"


def _misfits(table: CdcTable) -> list[tuple[str, str]]:
    """Type checks of the row image: every column for c/u/r; for a delete only the sorting key,
    which is all its row needs (its other columns are hidden under FINAL)."""
    checks = []
    for column in table.columns:
        condition, reason = column.misfit("fields")
        if column.name not in table.sorting_key:
            condition = f"op != 'd' AND {condition}"
        checks.append((condition, reason))
    return checks


def kafka_table_ddl(table: CdcTable, mode: str, broker_list: str = DEFAULT_BROKER_LIST) -> str:
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


def target_table_ddl(table: CdcTable) -> str:
    cols = [f"    {c.name} {c.type}" for c in table.columns]
    cols += [f"    {name} {typ}" + (" DEFAULT now64(6)" if name == "_ingested_at" else "") for name, typ in META_COLUMNS]
    return (
        f"CREATE TABLE IF NOT EXISTS {DATABASE}.{table.name}\n(\n" + ",\n".join(cols) + "\n)\n"
        # The message latest in the topic wins: Debezium's log order is its consistency
        # guarantee, also for incremental-snapshot reads, which carry no LSN (see docs/cdc.md).
        # A delete's tombstone row hides the key under FINAL.
        "ENGINE = ReplacingMergeTree(_version, is_deleted)\n"
        f"ORDER BY {table.order_by}"
    )


def moved_rows_condition(table: CdcTable) -> str:
    """True for an update that changed a sorting-key column: the row's old position must be deleted.

    The replacing engine collapses rows by the whole sorting key, so without this delete an
    update of `user_uuid` would leave the old row alive next to the new one.
    """
    if not table.sort_prefix:
        return "0"
    by_name = {c.name: c for c in table.columns}
    changed = " OR ".join(f"{by_name[n].extract('before')} != {by_name[n].extract('after')}" for n in table.sort_prefix)
    return f"op = 'u' AND JSONType(p, 'before') = 'Object' AND ({changed})"


def change_rows_select(table: CdcTable, source: str) -> str:
    """The SELECT turning raw messages (payload, _topic, _partition, _offset) from `source` into rows.

    One message gives one row, or two when it moves a row: a delete at the old position first.
    Messages that are not usable changes give none (the dead-letter view takes them).
    """
    selects = [f"    {c.extract('row_img')} AS {c.name}" for c in table.columns]
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


def usable_messages_select(table: CdcTable, source: str) -> str:
    """(_partition, _offset) of the messages in `source` that are usable changes of this table."""
    return f"{_message_parts()}\nSELECT _partition, _offset FROM {source}\nWHERE {_usable(table)}"


def view_ddl(table: CdcTable) -> str:
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


def dead_letter_view_ddl(table: CdcTable) -> str:
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{table.name}_dead_letters_mv TO {DATABASE}.dead_letters\nAS\n"
        + _message_parts() + "\n"
        "SELECT _topic AS topic, _partition AS partition, _offset AS offset,\n"
        f"       payload AS raw_value, {_problem(table)} AS error, now64(6) AS received_at\n"
        f"FROM {DATABASE}.{table.name}_kafka\nWHERE NOT {_usable(table)}"
    )


def render(mode: str, broker_list: str = DEFAULT_BROKER_LIST, cluster: str | None = None) -> list[str]:
    """Every statement of the `debezium` schema, in the order they must run (all idempotent).

    `cluster`: the same schema on a ClickHouse cluster (ON CLUSTER, Replicated* engines).
    """
    statements = [f"CREATE DATABASE IF NOT EXISTS {DATABASE}", DEAD_LETTERS_DDL]
    for table in TABLES:
        statements += [kafka_table_ddl(table, mode, broker_list), target_table_ddl(table),
                       view_ddl(table), dead_letter_view_ddl(table)]
    return [for_cluster(s, cluster) for s in statements] if cluster else statements
