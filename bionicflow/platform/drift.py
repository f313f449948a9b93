"""What changed under bionicflow's feet: tables sorted by an older key, source columns the roads do not copy.

`CREATE TABLE IF NOT EXISTS` never changes an existing table, so the bootstrap says which
tables still have an old layout and how to rebuild them (reports stay correct, only slower).
Source columns added, dropped or renamed are never silent: the bootstrap, `bionicflow status`
and the CDC-vs-batch page all report them from `source_drift`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TYPE_CHECKING

from bionicflow.cdc.evolve import extended
from bionicflow.etl.evolve import default_added
from bionicflow.kernel.source_columns import column_drift, read_source_columns
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, TABLES, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

SORTING_KEYS = """
SELECT database, name, sorting_key FROM system.tables
WHERE database IN {databases:Array(String)} AND name IN {names:Array(String)}"""

REBUILD_HINT = {
    DEFAULT_DB: "trigger etl_default with mode=full (it rebuilds the table)",
    CDC_DB: "rebuild it as docs/cdc.md 'Sorting keys' describes",
}


def expected_sorting_keys() -> dict[tuple[str, str], str]:
    """(database, table) → sorting key as system.tables prints it."""
    return {(db, t.name): ", ".join(t.sorting_key) for db in (DEFAULT_DB, CDC_DB) for t in TABLES}


def outdated_tables(olap: OlapClient) -> list[str]:
    """One line per existing table whose sorting key is not today's, with the fix."""
    expected = expected_sorting_keys()
    rows = olap.query(SORTING_KEYS, parameters={"databases": [DEFAULT_DB, CDC_DB],
                                                "names": [t.name for t in TABLES]}).result_rows
    return [f"{db}.{name} is sorted by ({key}), not ({expected[(db, name)]}): {_consequence(key)}; {REBUILD_HINT[db]}"
            for db, name, key in rows if (db, name) in expected and key != expected[(db, name)]]


def _consequence(key: str) -> str:
    if key.startswith("user_uuid,"):  # the unhashed key of versions before 2026-11-24
        return "reports are as fast, but every load and CDC insert sorts by the 36-character text (slower)"
    return "user reports read the whole table"


def source_drift(olap: OlapClient | None, connect: Callable[[Table], Any],
                 tables: Iterable[Table] = TABLES) -> list[str]:
    """One line per difference between a source table's columns and what the two roads copy (docs/cdc.md).

    `connect(table)` opens a DB-API connection to the table's source database (closed here);
    without `olap` (the OLAP server down) the catalogue's columns stand for what is copied.
    """
    lines: list[str] = []
    for table in tables:
        copied = extended(olap, table) if olap is not None else table  # with the columns the CDC road added
        in_default = default_added(olap, table) if olap is not None else frozenset()
        conn = connect(table)
        try:
            lines += column_drift(copied, read_source_columns(conn, table), in_default)
        finally:
            conn.close()
    return lines
