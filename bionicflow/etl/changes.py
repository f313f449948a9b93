"""The change-capturing incremental load (the default mode of `etl_default`).

1. Read the source's state and the table's cursor; refresh the whole table when the
   cursor cannot be trusted (bionicflow/etl/cursor_trust.py says when).
2. Unless PostgreSQL's row counters show no row written since the cursor, load every row
   written by a transaction at or above the cursor (`_xid >= cursor`), whatever its
   business timestamps say: inserts (backdated ones too) and updates.
3. Unless the counters show no row updated or deleted, sync the keys, and remove the old
   position of every row an update moved (a changed `user_uuid` changes the sorting key): the source's keys
   arrive as one 64-bit bitmap per 64 ids (aggregated in PostgreSQL: 1/64 of the rows
   travel), `default` builds the same bitmaps; where they differ, the keys only `default`
   has are deleted from it and the keys only the source has are loaded by key (or the
   whole table is refreshed when there are too many to read by key).
   Where the source's change journal covers the cursor (bionicflow/etl/journal.py), steps
   2 and 3 read only what it names: the current rows of the keys written since the cursor,
   and the keys among them the source no longer has (no table scan, no key bitmaps).
4. Store the new cursor: the state read in step 1, for the steps that ran; then let the
   source forget the journal's keys below it.

A run that dies before step 4 leaves the old cursor: the next run reads the same rows
again, which duplicates nothing (the replacing engine keeps the newest version per key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import time
from dataclasses import dataclass

from bionicflow.etl.cursor_trust import Plan, plan_incremental
from bionicflow.etl.journal import forget_read_changes, hide_stale_rows
from bionicflow.etl.load import LoadResult, drop_moved_versions, full_refresh, load_sql, loaded_rows, new_version
from bionicflow.etl.ddl import default_table_ddl, has_tombstones
from bionicflow.kernel import snapshot_marks
from bionicflow.kernel.cursors import RELOAD_BY_KEY_LIMIT, read_cursor, read_source_state, write_cursor
from bionicflow.kernel.sources import LOAD_SETTINGS, POSTGRESQL_SOURCE, PgSource, source_params, source_select
from bionicflow.kernel.tables import DEFAULT_DB, OPS_DB, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

MASK_BITS = 6  # 64 ids per bitmap, as in sources/batch_views.sql
KEYS_PER_READ = 5_000  # keys per pushed-down `IN` list
# Over the scratch table of differing bitmaps: the keys only `default` has, only the source has.
EXTRA_BITS = "bitAnd(default_mask, bitNot(source_mask))"
MISSING_BITS = "bitAnd(source_mask, bitNot(default_mask))"


@dataclass(frozen=True)
class KeyDiff:
    extra: int  # keys `default` has and the source no longer has
    missing: int  # keys the source has and `default` lacks


def _scratch(table: Table) -> str:
    return f"{OPS_DB}.etl_key_diff_{table.name}"


def key_diff_sql(table: Table, source: str = POSTGRESQL_SOURCE) -> str:
    """The bitmaps that differ between the source and `default`, into a scratch table."""
    # Both sides as plain UInt64 (PostgreSQL's bigint arrives Nullable and signed, groupBitOr
    # may answer Int64): a mask with bit 63 set must compare equal on both sides. No FINAL on
    # `default`: OR-ing a key's bit is the same for one version or several, and a lightweight
    # DELETE hides every version of a key. A bucket only one side has is all-zero on the other.
    return (
        f"CREATE TABLE {_scratch(table)} ENGINE = Memory AS\n"
        "SELECT ifNull(s.bucket, d.bucket) AS bucket, ifNull(s.mask, 0) AS source_mask, "
        "ifNull(d.mask, 0) AS default_mask FROM\n"
        "(SELECT assumeNotNull(toInt64(bucket)) AS bucket, reinterpretAsUInt64(assumeNotNull(toInt64(key_mask))) "
        f"AS mask FROM {source}) AS s\n"
        "FULL OUTER JOIN\n"
        f"(SELECT bitShiftRight({table.key}, {MASK_BITS}) AS bucket, "
        f"reinterpretAsUInt64(groupBitOr(bitShiftLeft(toUInt64(1), toUInt8(bitAnd({table.key}, 63))))) AS mask "
        f"FROM {DEFAULT_DB}.{table.name} GROUP BY bucket) AS d\n"
        "ON s.bucket = d.bucket\nWHERE source_mask != default_mask SETTINGS join_use_nulls = 1"
    )


def _keys(table: Table, bits: str) -> str:
    """The keys whose bits are set in ``bits`` (an expression over the scratch table's masks)."""
    return (f"SELECT bitShiftLeft(bucket, {MASK_BITS}) + arrayJoin(bitPositionsToArray({bits})) AS k "
            f"FROM {_scratch(table)}")


def count_diff_sql(table: Table) -> str:
    return f"SELECT sum(bitCount({EXTRA_BITS})), sum(bitCount({MISSING_BITS})) FROM {_scratch(table)}"


def _extra_rows(table: Table) -> str:
    return f"{table.key} IN ({_keys(table, EXTRA_BITS)})"


def delete_extra_sql(table: Table) -> str:
    """A lightweight delete: FINAL and every later read no longer see the keys."""
    return f"DELETE FROM {DEFAULT_DB}.{table.name} WHERE {_extra_rows(table)}"


def missing_keys_sql(table: Table) -> str:
    return f"{_keys(table, MISSING_BITS)} ORDER BY k"


def load_keys_sql(table: Table, keys: list[int]) -> str:
    """The source's rows with these keys, into `default`.

    The keys are written into the SQL as integer literals, not bound: ClickHouse passes a
    literal `IN (...)` list down to PostgreSQL, a bound array it does not (the whole table
    would travel). Every key is an `int` the load computed itself.
    """
    ids = ", ".join(str(int(k)) for k in keys)
    cols = ", ".join([*table.business_columns, "_version"])
    where = f'"{table.source_key}" IN ({ids})'
    return (f"INSERT INTO {DEFAULT_DB}.{table.name} ({cols})\n"
            f"{source_select(table, '{version:UInt64} AS _version', where)}")


def read_key_diff(olap: OlapClient, table: Table, source: PgSource) -> KeyDiff:
    """Compare the key sets; the differing bitmaps stay in the scratch table for the repair."""
    olap.command(f"DROP TABLE IF EXISTS {_scratch(table)}")
    olap.command(key_diff_sql(table), parameters=source_params(table, source, source_table=table.key_masks))
    return count_key_diff(olap, table)


def count_key_diff(olap: OlapClient, table: Table) -> KeyDiff:
    extra, missing = olap.query(count_diff_sql(table)).result_rows[0]
    return KeyDiff(int(extra or 0), int(missing or 0))


def load_keys(olap: OlapClient, table: Table, source: PgSource, keys: list[int]) -> int:
    loaded = 0
    for start in range(0, len(keys), KEYS_PER_READ):
        version = new_version()
        loaded += loaded_rows(olap, table, version, olap.query(
            load_keys_sql(table, keys[start:start + KEYS_PER_READ]),
            parameters=source_params(table, source, version=version), settings=LOAD_SETTINGS).summary)
    return loaded


def load_changed_rows(olap: OlapClient, table: Table, source: PgSource, since_xid: int, version: int,
                      journaled: bool = False) -> int:
    """Every row written since the cursor: by `_xid` (a scan of the table), or the keys the journal names."""
    params = source_params(table, source, since=since_xid, version=version)
    if journaled:
        params["source_table"] = table.changes_view
    sql = load_sql(table, table.name, since_column="_change_xid" if journaled else "_xid")
    return loaded_rows(olap, table, version, olap.query(sql, parameters=params, settings=LOAD_SETTINGS).summary)


def _skipped(plan: Plan) -> str:
    parts = [what for what, done in (("row scan", plan.read_rows), ("key sync", plan.sync_keys)) if not done]
    if plan.journal and plan.read_rows:
        parts = ["table scans (the change journal named the keys)"]
    return " and ".join(parts)


def sync_keys(olap: OlapClient, table: Table, source: PgSource) -> tuple[int, int] | None:
    """Delete the keys only `default` has, load the ones only the source has; None when too many are missing."""
    try:
        diff = read_key_diff(olap, table, source)
        if diff.missing > RELOAD_BY_KEY_LIMIT:
            return None
        if diff.extra:
            with snapshot_marks.marking(olap, DEFAULT_DB, table.name, _extra_rows(table)):
                olap.command(delete_extra_sql(table))
        loaded = 0
        if diff.missing:
            keys = [int(k) for (k,) in olap.query(missing_keys_sql(table)).result_rows]
            loaded = load_keys(olap, table, source, keys)
        return diff.extra, loaded
    finally:
        olap.command(f"DROP TABLE IF EXISTS {_scratch(table)}")


def load_changes(olap: OlapClient, table: Table, source: PgSource, run_id: str = "",
                 verify_keys: bool = False) -> LoadResult:
    """One incremental load of ``table``: changed rows, deleted keys, new cursor (or a full refresh, and why).

    ``verify_keys``: compare the key sets even when the counters say no key went (a repair).
    """
    state = read_source_state(olap, table, source)
    previous = read_cursor(olap, table)
    plan = plan_incremental(previous, state, verify_keys)
    if not plan.full:
        layout = has_tombstones(olap, table)
        if layout is None:
            plan = Plan(True, reason=f"{DEFAULT_DB}.{table.name} did not exist")
        elif not layout:
            plan = Plan(True, reason=(f"{DEFAULT_DB}.{table.name} was made by an older bionicflow, without tombstones "
                                      "(is_deleted): rebuilt once in today's layout"))
    if plan.full:
        return full_refresh(olap, table, source, run_id, reason=plan.reason)
    assert previous is not None and plan.since_xid is not None  # an incremental plan starts at a cursor
    olap.command(default_table_ddl(table))
    started = time.perf_counter()
    version = new_version()
    loaded = load_changed_rows(olap, table, source, plan.since_xid, version, plan.journal) if plan.read_rows else 0
    deleted = 0
    if plan.journal and plan.sync_keys:
        deleted = hide_stale_rows(olap, table, source, plan.since_xid, version)
    elif plan.sync_keys:
        synced = sync_keys(olap, table, source)
        if synced is None:
            return full_refresh(olap, table, source, run_id, reason=(
                f"over {RELOAD_BY_KEY_LIMIT} keys of the source are missing from {DEFAULT_DB}.{table.name}: "
                "one full read is cheaper than reading them by key"))
        deleted, by_key = synced
        loaded += by_key
        drop_moved_versions(olap, table)
    cursor = previous.advanced(state, plan.read_rows, plan.sync_keys, "incremental")
    write_cursor(olap, table, cursor, run_id)
    forget_read_changes(source, table, state, cursor.cursor_xid)
    return LoadResult(table.name, "incremental", loaded, time.perf_counter() - started, deleted=deleted,
                      cursor_xid=cursor.cursor_xid, skipped=_skipped(plan))
