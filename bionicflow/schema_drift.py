"""Tables created by an older bionicflow whose sorting key differs from today's definition.

`CREATE TABLE IF NOT EXISTS` never changes an existing table, so the bootstrap says which
tables still have an old layout and how to rebuild them (reports stay correct, only slower).
"""

from __future__ import annotations

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, TABLES

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


def outdated_tables(olap) -> list[str]:
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
