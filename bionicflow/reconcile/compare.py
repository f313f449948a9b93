"""Compare source, `default` and `debezium` row for row, inside ClickHouse.

Each side is reduced to (key, per-row hash over every business column); the source also
keeps each row's writing transaction (`_xid`), which tells `default`'s lag (rows written
since its last load) from its errors (rows written before it). ClickHouse reads
the source itself through `postgresql()` with the same casts as the batch load, so all
three sides go through identical type conversions, and the three sides' columns have the
same types (one module defines them). The hash is taken over the row tuple's values as
stored, which keeps NULL apart from '' and 0 and costs a quarter of hashing the row's text
form (docs/benchmarks.md). Totals (row count and the sum of hashes, wrapping) are
order-independent; only when they differ is a full outer join run to count missing, extra
and differing keys. The source is read once, into a `Memory` table of (key, hash) pairs:
no sort and no disk write, and the join of a mismatch reads it again for free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

from bionicflow.kernel.identifiers import ch_name
from bionicflow.kernel.source_views import view_params, view_select
from bionicflow.kernel.sources import POSTGRESQL_SOURCE, PgSource, source_columns, source_params
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, OPS_DB, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient
    from bionicflow.kernel.table_catalogue import Entry

SIDES = (DEFAULT_DB, CDC_DB)


@dataclass(frozen=True)
class SideResult:
    table: str
    side: str  # source, default or debezium
    rows: int
    checksum: int
    duplicate_keys: int = 0
    missing_keys: int = 0  # in the source, not on this side
    extra_keys: int = 0  # on this side, not in the source
    differing_rows: int = 0
    # `default` only: missing or differing rows written before its last load's cursor, which
    # that load should have brought, and extra keys when no row was deleted since that load.
    # Zero means `default` is only behind (changes since the load, deletes included), not wrong.
    stale_rows: int = 0

    @property
    def match(self) -> bool:
        return (self.missing_keys, self.extra_keys, self.differing_rows, self.duplicate_keys) == (0, 0, 0, 0)


@dataclass(frozen=True)
class DefaultLoad:
    """What `default`'s last load of a table promises (none when it was never loaded)."""

    cursor_xid: int = 0  # every row written before this transaction is there, as in the source
    keys_current: bool = False  # no source row was deleted since: a key only `default` has is an error


def _row_hash(table: Table) -> str:
    return f"cityHash64(tuple({', '.join(ch_name(c) for c in table.business_columns)}))"


def _key(table: Table) -> str:
    """The key as one value: the column, or a tuple of a composite key's columns."""
    columns = [ch_name(c) for c in table.key_columns]
    return columns[0] if len(columns) == 1 else f"tuple({', '.join(columns)})"


def _snapshot_table(table: Table) -> str:
    return f"{OPS_DB}.reconcile_source_{table.name}"


def snapshot_source_sql(table: Table, source: str = POSTGRESQL_SOURCE) -> str:
    """Read the source once into (key, hash) pairs; both sides are compared against it.

    ``source``: the relation to read, the source table through `postgresql()` unless a test
    gives another one with the PostgreSQL column names.
    """
    return (
        f"CREATE TABLE {_snapshot_table(table)} ENGINE = Memory AS\n"
        f"SELECT {_key(table)} AS k, {_row_hash(table)} AS h, x FROM (SELECT {source_columns(table)}, "
        f'toInt64("_xid") AS x\nFROM {source})'
    )


def side_totals_sql(table: Table, side: str) -> str:
    if side == "source":
        return f"SELECT count(), sum(h), count() - uniqExact(k) FROM {_snapshot_table(table)}"
    return f"SELECT count(), sum({_row_hash(table)}), count() - uniqExact({_key(table)}) FROM {side}.{table.name} FINAL"


def diff_sql(table: Table, side: str) -> str:
    """Missing, extra, differing; then stale: missing or differing rows written before ``cursor``, and extra
    keys when ``extra_stale`` (both bound)."""
    return (
        "SELECT countIf(d.k IS NULL), countIf(s.k IS NULL),"
        " countIf(s.k IS NOT NULL AND d.k IS NOT NULL AND s.h != d.h),"
        "\n countIf(s.k IS NOT NULL AND s.x < {cursor:Int64} AND (d.k IS NULL OR s.h != d.h))"
        " + countIf(s.k IS NULL AND {extra_stale:Bool})\n"
        f"FROM {_snapshot_table(table)} AS s\n"
        f"FULL OUTER JOIN (SELECT {_key(table)} AS k, {_row_hash(table)} AS h FROM {side}.{table.name} FINAL) AS d\n"
        "ON s.k = d.k SETTINGS join_use_nulls = 1"
    )


def record_stale_keys_sql(table: Table) -> str:
    """Keys whose `default` rows are missing or different although written before ``cursor``: for the repair."""
    return (
        f"INSERT INTO {OPS_DB}.default_repair_keys (table, key, run_id)\n"
        f"SELECT {{table:String}}, s.k, {{run_id:String}} FROM {_snapshot_table(table)} AS s\n"
        f"LEFT JOIN (SELECT {_key(table)} AS k, {_row_hash(table)} AS h FROM {DEFAULT_DB}.{table.name} FINAL) AS d\n"
        "ON s.k = d.k WHERE s.x < {cursor:Int64} AND (d.k IS NULL OR s.h != d.h) SETTINGS join_use_nulls = 1"
    )


def _totals(olap: OlapClient, sql: str) -> tuple[int, int, int]:
    rows, checksum, dupes = olap.query(sql).result_rows[0]
    return int(rows), int(checksum or 0), int(dupes)


def compare_with_snapshot(olap: OlapClient, table: Table, load: DefaultLoad = DefaultLoad(),
                          sides: tuple[str, ...] = SIDES, run_id: str | None = None) -> list[SideResult]:
    """Source (already read by `snapshot_source_sql`), then each of ``sides`` against it.

    ``load``: what `default`'s last load promises (what it lacks beyond that is lag).
    ``run_id``: record the keys of `default`'s stale rows in `ops.default_repair_keys` under it.
    """
    src_rows, src_sum, src_dupes = _totals(olap, side_totals_sql(table, "source"))
    results = [SideResult(table.name, "source", src_rows, src_sum, src_dupes)]
    for side in sides:
        if not int(olap.command(f"EXISTS TABLE {side}.{table.name}")):
            results.append(SideResult(table.name, side, 0, 0, 0, missing_keys=src_rows))
            continue
        rows, checksum, dupes = _totals(olap, side_totals_sql(table, side))
        if (rows, checksum) == (src_rows, src_sum):
            results.append(SideResult(table.name, side, rows, checksum, dupes))
            continue
        promise = load if side == DEFAULT_DB else DefaultLoad()
        missing, extra, differing, stale = (int(v) for v in olap.query(diff_sql(table, side), parameters={
            "cursor": promise.cursor_xid, "extra_stale": promise.keys_current}).result_rows[0])
        results.append(SideResult(table.name, side, rows, checksum, dupes, missing, extra, differing, stale))
        if side == DEFAULT_DB and stale and run_id:
            olap.command(record_stale_keys_sql(table),
                         parameters={"table": table.name, "run_id": run_id, "cursor": load.cursor_xid})
    return results


def compare_table(olap: OlapClient, table: Table, source: PgSource, load: DefaultLoad = DefaultLoad(),
                  sides: tuple[str, ...] = SIDES, run_id: str | None = None) -> list[SideResult]:
    """Read the source table once, then compare ``sides`` (`default` and `debezium`) with it."""
    olap.command(f"DROP TABLE IF EXISTS {_snapshot_table(table)}")
    olap.command(snapshot_source_sql(table), parameters=source_params(table, source))
    try:
        return compare_with_snapshot(olap, table, load, sides, run_id)
    finally:
        olap.command(f"DROP TABLE IF EXISTS {_snapshot_table(table)}")


def compare_added(olap: OlapClient, entry: Entry, source: PgSource, sides: tuple[str, ...] = SIDES) -> list[SideResult]:
    """An added table (`tables add`): the source read through its source-side view, as its copies were."""
    table, described = entry.table, entry.described
    if described is None:
        raise ValueError(f"{table.name} is one of the brief's tables: compare it with compare_table")
    olap.command(f"DROP TABLE IF EXISTS {_snapshot_table(table)}")
    olap.command(f"CREATE TABLE {_snapshot_table(table)} ENGINE = Memory AS\n"
                 f"SELECT {_key(table)} AS k, {_row_hash(table)} AS h, x FROM ("
                 f"{view_select(described, 'toInt64(0) AS x')})", parameters=view_params(source, table.name))
    try:
        return compare_with_snapshot(olap, table, DefaultLoad(), sides)
    finally:
        olap.command(f"DROP TABLE IF EXISTS {_snapshot_table(table)}")
