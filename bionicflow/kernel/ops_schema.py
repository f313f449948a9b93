"""The `ops` schema: every table in which the platform records what it did.

Batch loads (`etl_runs`) and where each resumes (`etl_cursors`), reconciliations
(`reconciliation_runs`, `reconciliation_tables`) and the keys they found wrong in `default`
(`default_repair_keys`), schema health (`schema_health`) and stored reports (`report_runs`, `user_reports`,
`report_differences`), the sources added (`sources`) and the tables
added (`tables`): one module, so every road creates the same tables and no road
reaches into another for them. Every statement is idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bionicflow.kernel.cluster_ddl import for_cluster
from bionicflow.kernel.tables import OPS_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

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
    finished_at DateTime64(6) DEFAULT now64(6),
    deleted UInt64 DEFAULT 0,
    reason String DEFAULT '',
    cursor_xid Nullable(UInt64),
    skipped String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (table, finished_at)""",
    # tables created before change detection
    f"ALTER TABLE {OPS_DB}.etl_runs ADD COLUMN IF NOT EXISTS deleted UInt64 DEFAULT 0",
    f"ALTER TABLE {OPS_DB}.etl_runs ADD COLUMN IF NOT EXISTS reason String DEFAULT ''",
    f"ALTER TABLE {OPS_DB}.etl_runs ADD COLUMN IF NOT EXISTS cursor_xid Nullable(UInt64)",
    f"ALTER TABLE {OPS_DB}.etl_runs ADD COLUMN IF NOT EXISTS skipped String DEFAULT ''",
    # Where each table's incremental load resumes (docs/airflow.md, "How changes are detected"):
    # rows written by transactions >= cursor_xid are loaded by the next run. The source's
    # identity and the table's file tell the next run whether it may trust the cursor.
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.etl_cursors
(
    table LowCardinality(String),
    system_identifier String,
    filenode UInt64,
    cursor_xid UInt64,
    next_xid UInt64,
    run_id String,
    mode LowCardinality(String),
    loaded_at DateTime64(6) DEFAULT now64(6),
    stats_epoch String DEFAULT '',
    rows_written UInt64 DEFAULT 0,
    rows_removed UInt64 DEFAULT 0
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY table""",
    # cursors written before the statistics fingerprint: an empty epoch means "not known"
    f"ALTER TABLE {OPS_DB}.etl_cursors ADD COLUMN IF NOT EXISTS stats_epoch String DEFAULT ''",
    f"ALTER TABLE {OPS_DB}.etl_cursors ADD COLUMN IF NOT EXISTS rows_written UInt64 DEFAULT 0",
    f"ALTER TABLE {OPS_DB}.etl_cursors ADD COLUMN IF NOT EXISTS rows_removed UInt64 DEFAULT 0",
    # Keys whose rows in `default` reconciliation found missing or different although written
    # before its last load: `etl_default` in mode "repair" reloads them by key, then removes them.
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.default_repair_keys
(
    table LowCardinality(String),
    key Int64,
    run_id String,
    found_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (table, key)""",
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
    match UInt8,
    stale_rows UInt64 DEFAULT 0
)
ENGINE = MergeTree
ORDER BY (table, started_at)""",
    f"ALTER TABLE {OPS_DB}.reconciliation_tables ADD COLUMN IF NOT EXISTS stale_rows UInt64 DEFAULT 0",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.schema_health
(
    schema LowCardinality(String),
    state LowCardinality(String),
    reason String,
    changed_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY schema""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.report_runs
(
    run_id String,
    period_start DateTime64(6),
    period_end DateTime64(6),
    users_reported Map(String, UInt64),
    overviews String,
    identical UInt8,
    differences UInt64,
    finished_at DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY finished_at""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.user_reports
(
    run_id String,
    schema LowCardinality(String),
    user_uuid String,
    period_start DateTime64(6),
    period_end DateTime64(6),
    events_total UInt64,
    active_days UInt64,
    amplitude_avg Float64,
    amplitude_min Float64,
    amplitude_max Float64,
    frequency_avg Float64,
    duration_avg Float64,
    duration_total Int64
)
ENGINE = MergeTree
ORDER BY (run_id, user_uuid, schema)""",
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.report_differences
(
    run_id String,
    report LowCardinality(String),
    user_uuid String,
    field String,
    default_value String,
    debezium_value String
)
ENGINE = MergeTree
ORDER BY (run_id, report, user_uuid, field)""",
    # The PostgreSQL databases added as sources (bionicflow/kernel/source_registry.py): where each
    # is, never its password; a removal is a newer row with `removed`.
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.sources
(
    name String,
    host String,
    port UInt16,
    database String,
    user String,
    changed_at DateTime64(6) DEFAULT now64(6),
    removed Bool DEFAULT false
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY name""",
    # The tables copied from the sources (bionicflow/kernel/table_catalogue.py): each one's source
    # table and, for an added one, its columns, types and key as the source's catalogue described
    # them (JSON). The brief's two are entries of the code (kernel/tables.py), never stored.
    f"""CREATE TABLE IF NOT EXISTS {OPS_DB}.tables
(
    name String,
    source String,
    source_database String,
    source_schema String,
    source_table String,
    definition String,
    state LowCardinality(String),
    changed_at DateTime64(6) DEFAULT now64(6),
    removed Bool DEFAULT false
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY name""",
)


def render(cluster: str | None = None) -> list[str]:
    """Every statement of `ops`, in order; `cluster`: their cluster form (ON CLUSTER, Replicated*)."""
    return [for_cluster(s, cluster) for s in OPS_DDL] if cluster else list(OPS_DDL)


def ensure(client: OlapClient) -> None:
    """Create whatever of `ops` is missing, through a clickhouse-connect client."""
    for statement in OPS_DDL:
        client.command(statement)
