"""ClickHouse schema `default` (the batch road), rendered with `ops` (bionicflow/kernel/ops_schema.py).

`default.users` / `default.telemetry_events` have the same business columns as the
`debezium` tables. Loads are idempotent: every load writes rows with a new `_version`
and the replacing engine keeps the newest per key, so re-running a window never
duplicates under FINAL; a full refresh swaps in a freshly built table, so rows deleted
in the source disappear. An incremental load hides a deleted row with a tombstone: a copy
of it with a newer `_version` and `is_deleted = 1`, which FINAL (and the engine's merges)
collapse the row with, as in `debezium`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bionicflow.kernel.cluster_ddl import for_cluster
from bionicflow.kernel import ops_schema, snapshot_marks
from bionicflow.kernel.cursors import BATCH_LOADS_DDL
from bionicflow.kernel.tables import DEFAULT_DB, TABLES, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

TOMBSTONE = "is_deleted"
ENGINE_SQL = "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}"


def default_table_ddl(table: Table, name: str | None = None) -> str:
    cols = [f"    {c.name} {c.type}" for c in table.columns]
    cols += ["    _version UInt64", "    _loaded_at DateTime64(6) DEFAULT now64(6)", f"    {TOMBSTONE} UInt8 DEFAULT 0"]
    return (
        f"CREATE TABLE IF NOT EXISTS {DEFAULT_DB}.{name or table.name}\n(\n" + ",\n".join(cols) + "\n)\n"
        f"ENGINE = ReplacingMergeTree(_version, {TOMBSTONE})\nORDER BY {table.order_by}"
    )


def has_tombstones(olap: OlapClient, table: Table) -> bool | None:
    """Whether `default.<table>` takes tombstone rows; None when the table does not exist.

    Tables made before 2026-12-02 have no `is_deleted` column, and an engine's parameters
    cannot be altered: such a table is rebuilt by its next full refresh.
    """
    engine = olap.query(ENGINE_SQL, parameters={"db": DEFAULT_DB, "t": table.name}).result_rows
    return None if not engine else f", {TOMBSTONE})" in engine[0][0]


def render(cluster: str | None = None) -> list[str]:
    """Every statement of `default` and `ops`, in order (all idempotent); `cluster`: their cluster form."""
    tables = [default_table_ddl(t) for t in TABLES] + [BATCH_LOADS_DDL, *snapshot_marks.render(DEFAULT_DB)]
    statements = [f"CREATE DATABASE IF NOT EXISTS {DEFAULT_DB}", *tables]
    if cluster:
        statements = [for_cluster(s, cluster) for s in statements]
    return statements + ops_schema.render(cluster)


def apply(olap: OlapClient) -> None:
    """Create what is missing of `default` and `ops` (after an upgrade, before the first load writes)."""
    for statement in render():
        olap.command(statement)
