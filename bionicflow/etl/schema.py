"""ClickHouse schemas `default` (batch road) and `ops` (the platform's own records).

`default.users` / `default.telemetry_events` have the same business columns as the
`debezium` tables. Loads are idempotent: every load writes rows with a new `_version`
and the replacing engine keeps the newest per key, so re-running a window never
duplicates under FINAL; a full refresh swaps in a freshly built table, so rows deleted
in the source disappear.
"""

from __future__ import annotations

from bionicflow.cdc.schema import TABLES, CdcTable
from bionicflow.cluster_ddl import for_cluster

DEFAULT_DB = "default"
OPS_DB = "ops"


def default_table_ddl(table: CdcTable, name: str | None = None) -> str:
    cols = [f"    {c.name} {c.type}" for c in table.columns]
    cols += ["    _version UInt64", "    _loaded_at DateTime64(6) DEFAULT now64(6)"]
    return (
        f"CREATE TABLE IF NOT EXISTS {DEFAULT_DB}.{name or table.name}\n(\n" + ",\n".join(cols) + "\n)\n"
        f"ENGINE = ReplacingMergeTree(_version)\nORDER BY {table.order_by}"
    )


OPS_DDL = (
    f"CREATE DATABASE IF NOT EXISTS {OPS_DB}",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.etl_runs
(
    run_id String,
    table LowCardinality(String),
    mode LowCardinality(String),
    window_start Nullable(DateTime64(6)),
    window_end Nullable(DateTime64(6)),
    rows UInt64,
    seconds Float64,
    finished_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (table, finished_at)""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.reconciliation_runs
(
    run_id String,
    started_at DateTime64(6),
    verdict LowCardinality(String),
    debezium_degraded UInt8,
    fallback_triggered UInt8,
    details String
)
ENGINE = MergeTree
ORDER BY started_at""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.reconciliation_tables
(
    run_id String,
    started_at DateTime64(6),
    table LowCardinality(String),
    side LowCardinality(String),
    rows UInt64,
    checksum UInt64,
    missing_keys UInt64,
    extra_keys UInt64,
    differing_rows UInt64,
    match UInt8
)
ENGINE = MergeTree
ORDER BY (table, started_at)""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.schema_health
(
    schema LowCardinality(String),
    state LowCardinality(String),
    reason String,
    changed_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY schema""",
)


def render(cluster: str | None = None) -> list[str]:
    """Every statement of `default` and `ops`, in order (all idempotent); `cluster`: their cluster form."""
    tables = [default_table_ddl(t) for t in TABLES]
    statements = [f"CREATE DATABASE IF NOT EXISTS {DEFAULT_DB}", *tables, *OPS_DDL]
    return [for_cluster(s, cluster) for s in statements] if cluster else statements
