"""The change-capturing incremental load (the default mode of `etl_default`).

1. Read the source's state and the table's cursor; refresh the whole table when the
   cursor cannot be trusted (bionicflow/etl/cursor.py says when).
2. Load every row written by a transaction at or above the cursor (`_xid >= cursor`),
   whatever its business timestamps say: inserts (backdated ones too) and updates.
3. Sync the keys: compare per bucket of 65,536 ids the source's key count and key sum
   (aggregated in PostgreSQL, a few rows travel) with `default`'s; in the buckets that
   differ, compare key by key, delete from `default` the keys the source no longer has and
   load the keys `default` lacks. Ids come from a sequence, so a bucket whose keys changed
   always differs (a later key is larger than every earlier one).
4. Store the new cursor: the state read in step 1.

A run that dies before step 4 leaves the old cursor: the next run reads the same rows
again, which duplicates nothing (the replacing engine keeps the newest version per key).
"""

from __future__ import annotations

import time

from bionicflow.etl.cursor import Plan, plan_incremental
from bionicflow.kernel.cursors import Cursor, read_cursor, read_source_state, write_cursor
from bionicflow.etl.load import LoadResult, full_refresh, load_sql, new_version
from bionicflow.etl.schema import default_table_ddl
from bionicflow.kernel.sources import LOAD_SETTINGS, POSTGRESQL_SOURCE, PgSource, source_params, source_select
from bionicflow.kernel.tables import DEFAULT_DB, OPS_DB, Table

BUCKET_BITS = 16  # 65,536 ids per bucket, as in <database>/views.sql


def _scratch(table: Table, what: str) -> str:
    return f"{OPS_DB}.etl_{what}_{table.name}"


def differing_buckets_sql(table: Table) -> str:
    """Buckets whose key count or key sum differs between the source and `default`."""
    return (
        "SELECT bucket FROM\n"
        f"(SELECT toInt64(bucket) AS bucket, toUInt64(keys) AS keys, toUInt64(low_bits_sum) AS low FROM "
        f"{POSTGRESQL_SOURCE}) AS s\n"
        "FULL OUTER JOIN\n"
        f"(SELECT bitShiftRight({table.key}, {BUCKET_BITS}) AS bucket, count() AS keys, "
        f"sum(bitAnd({table.key}, 65535)) AS low FROM {DEFAULT_DB}.{table.name} FINAL GROUP BY bucket) AS d\n"
        "USING bucket\nWHERE s.keys != d.keys OR s.low != d.low ORDER BY bucket"
    )


def source_keys_sql(table: Table) -> str:
    """The source's keys in [lo, hi), into a scratch table (the range is passed to PostgreSQL)."""
    return (
        f"CREATE TABLE {_scratch(table, 'source_keys')} ENGINE = Memory AS\n"
        f'SELECT CAST("{table.source_key}" AS Int64) AS k FROM {POSTGRESQL_SOURCE}\n'
        f'WHERE "{table.source_key}" >= {{lo:Int64}} AND "{table.source_key}" < {{hi:Int64}}'
    )


def default_keys_sql(table: Table) -> str:
    return (f"SELECT {table.key} FROM {DEFAULT_DB}.{table.name} FINAL "
            f"WHERE bitShiftRight({table.key}, {BUCKET_BITS}) IN {{buckets:Array(Int64)}}")


def delete_extra_sql(table: Table) -> str:
    """A lightweight delete: FINAL and every later read no longer see the keys."""
    return (f"DELETE FROM {DEFAULT_DB}.{table.name} WHERE bitShiftRight({table.key}, {BUCKET_BITS}) IN "
            f"{{buckets:Array(Int64)}} AND {table.key} NOT IN (SELECT k FROM {_scratch(table, 'source_keys')})")


def count_extra_sql(table: Table) -> str:
    return (f"SELECT count() FROM ({default_keys_sql(table)}) "
            f"WHERE {table.key} NOT IN (SELECT k FROM {_scratch(table, 'source_keys')})")


def load_missing_sql(table: Table) -> str:
    """Rows whose keys the source has in the differing buckets and `default` lacks."""
    cols = ", ".join([*table.business_columns, "_version"])
    return (
        f"INSERT INTO {DEFAULT_DB}.{table.name} ({cols})\n"
        f"SELECT * FROM ({source_select(table, '{version:UInt64} AS _version')}\n"
        f'WHERE "{table.source_key}" >= {{lo:Int64}} AND "{table.source_key}" < {{hi:Int64}})\n'
        f"WHERE {table.key} IN (SELECT k FROM {_scratch(table, 'source_keys')}) "
        f"AND {table.key} NOT IN ({default_keys_sql(table)})"
    )


def sync_keys(olap, table: Table, source: PgSource) -> tuple[int, int]:
    """Delete the keys the source no longer has, load the ones `default` lacks; (deleted, loaded)."""
    buckets = [int(b) for (b,) in olap.query(
        differing_buckets_sql(table), parameters=source_params(table, source, source_table=table.key_buckets),
    ).result_rows]
    if not buckets:
        return 0, 0
    lo, hi = min(buckets) << BUCKET_BITS, (max(buckets) + 1) << BUCKET_BITS
    scratch = _scratch(table, "source_keys")
    olap.command(f"DROP TABLE IF EXISTS {scratch}")
    olap.command(source_keys_sql(table), parameters=source_params(table, source, lo=lo, hi=hi))
    try:
        deleted = int(olap.command(count_extra_sql(table), parameters={"buckets": buckets}))
        if deleted:
            olap.command(delete_extra_sql(table), parameters={"buckets": buckets})
        summary = olap.query(load_missing_sql(table), parameters=source_params(
            table, source, lo=lo, hi=hi, buckets=buckets, version=new_version()), settings=LOAD_SETTINGS).summary
        return deleted, int((summary or {}).get("written_rows", 0))
    finally:
        olap.command(f"DROP TABLE IF EXISTS {scratch}")


def load_changes(olap, table: Table, source: PgSource, run_id: str = "") -> LoadResult:
    """One incremental load of ``table``: changed rows, deleted keys, new cursor (or a full refresh, and why)."""
    state = read_source_state(olap, table, source)
    plan = plan_incremental(read_cursor(olap, table), state)
    if not plan.full and not int(olap.command(f"EXISTS TABLE {DEFAULT_DB}.{table.name}")):
        plan = Plan(True, reason=f"{DEFAULT_DB}.{table.name} did not exist")
    if plan.full:
        return full_refresh(olap, table, source, run_id, reason=plan.reason)
    olap.command(default_table_ddl(table))
    started = time.perf_counter()
    summary = olap.query(load_sql(table, table.name, changed=True),
                         parameters=source_params(table, source, since=plan.since_xid, version=new_version()),
                         settings=LOAD_SETTINGS).summary
    changed = int((summary or {}).get("written_rows", 0))
    deleted, missing = sync_keys(olap, table, source)
    write_cursor(olap, table, Cursor.after(state, "incremental"), run_id)
    return LoadResult(table.name, "incremental", changed + missing, time.perf_counter() - started,
                      deleted=deleted, cursor_xid=state.snapshot_xmin)
