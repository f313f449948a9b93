"""The table catalogue: the two source tables, as every road and the reports see them.

One definition of each table's columns (ClickHouse name and type, PostgreSQL name), key,
business-time column, source database and Kafka topic. The CDC views, the batch loads,
reconciliation and reports all render their SQL from it; identifiers in SQL come from
here, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bionicflow.kernel.identifiers import ch_name

# ClickHouse databases: the batch road's copy, the CDC road's copy, the platform's own records.
DEFAULT_DB = "default"
CDC_DB = "debezium"
OPS_DB = "ops"


@dataclass(frozen=True)
class Column:
    name: str  # column name in ClickHouse (the brief's)
    type: str  # ClickHouse type
    source: str  # column name in the PostgreSQL table
    kind: str  # how to read it from the Debezium row JSON: int, string, float, micros
    # A column the CDC road added after the source gained it (bionicflow/cdc/evolve.py): messages
    # from before it existed lack the field and get `default` (a ClickHouse literal; "" = NULL).
    added: bool = False
    default: str = ""


@dataclass(frozen=True)
class Table:
    name: str  # the table's name in ClickHouse, in `default` and `debezium` alike
    source_database: str  # the PostgreSQL database holding it: crm_db or telemetry_db
    source_table: str  # PostgreSQL table (schema public)
    key: str  # ClickHouse key column (the source's primary key)
    business_time: str  # the brief's time column: batch windows and backfills run on it
    columns: tuple[Column, ...]
    topic: str  # the Kafka topic Debezium writes its changes to
    consumer_group: str  # the group the CDC consumer (or ClickHouse's Kafka engine) reads it in
    # the relation ClickHouse reads for batch loads (default: the table); the views of
    # <database>/views.sql add `_xid`, the transaction that last wrote the row
    olap_source: str = ""
    # Columns whose hash leads the sorting key, before `key`: a user's rows sit together, so a
    # report reads a few granules instead of scanning (see docs/reports.md; it replaced a
    # bloom-filter skip index, which still scanned 5-40x more and cost ~1 ms per read once the
    # key covered it). Rows whose value changes are moved by the view (a delete of the old
    # position); see `moved_rows_condition`.
    sort_prefix: tuple[str, ...] = ("user_uuid",)
    # A composite primary key's columns after `key`, in the key's order (a table described from a
    # source's catalogue, bionicflow/kernel/pg_catalogue.py; the brief's two have one-column keys).
    more_key: tuple[str, ...] = ()
    source_schema: str = "public"  # the PostgreSQL schema holding source_table

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Every column of the primary key, in order."""
        return (self.key, *self.more_key)

    @property
    def sorting_key(self) -> tuple[str, ...]:
        # Hashed because every insert sorts its block: sorting by the 36-character text took
        # ~3.4 s of a 14.3 s load of 5M events, with the hash the load is as fast as an unsorted
        # one (docs/benchmarks.md), and the index still serves `user_uuid = x` through the hash.
        return (*(f"cityHash64({ch_name(c)})" for c in self.sort_prefix), *(ch_name(c) for c in self.key_columns))

    @property
    def order_by(self) -> str:
        columns = self.sorting_key
        return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"

    @property
    def olap_relation(self) -> str:
        return self.olap_source or self.source_table

    @property
    def key_masks(self) -> str:
        """The source's view of its keys as one bitmap per 64 ids (sources/batch_views.sql)."""
        return f"{self.source_table}_key_masks"

    @property
    def changes_view(self) -> str:
        """The source's view of the rows its change journal names, with `_change_xid` (sources/batch_views.sql)."""
        return f"{self.source_table}_olap_changes"

    @property
    def gone_view(self) -> str:
        """The source's view of the keys its change journal names and the table no longer has."""
        return f"{self.source_table}_gone"

    @property
    def source_key(self) -> str:
        """The key column's name in the source."""
        return next(c.source for c in self.columns if c.name == self.key)

    @property
    def business_columns(self) -> list[str]:
        return [c.name for c in self.columns]

    def with_columns(self, extra: tuple[Column, ...]) -> Table:
        """This table with columns added since the catalogue was written (the CDC road's schema evolution)."""
        known = {c.name for c in self.columns}
        return replace(self, columns=self.columns + tuple(c for c in extra if c.name not in known))


USERS = Table(
    name="users", source_database="crm_db", source_table="users", key="user_id", business_time="registered_at",
    topic="crm.public.users", consumer_group="clickhouse_crm_consumer", olap_source="users_olap",
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
TELEMETRY_EVENTS = Table(
    name="telemetry_events", source_database="telemetry_db", source_table="telemetry_events", key="id",
    business_time="created_ts", topic="telemetry.public.telemetry_events",
    consumer_group="clickhouse_telemetry_consumer", olap_source="telemetry_events_olap",
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
# the view in each source database that tells a load whether to trust its cursor (<database>/views.sql)
SOURCE_STATE_VIEW = "bionicflow_source_state"
TABLES_BY_NAME = {t.name: t for t in TABLES}
TABLES_BY_TOPIC = {t.topic: t for t in TABLES}
