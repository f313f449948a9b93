"""Whether a source table still has the columns bionicflow copies, and no others (pure logic + one query).

Neither road changes ClickHouse's tables when a source table changes: a dropped or renamed
column, or a new one, must never be a silent divergence. `bionicflow status` and
`cdc_reconcile` report each difference with what it does to the two roads and the fix
(docs/cdc.md, "Schema changes").
"""

from __future__ import annotations

from bionicflow.kernel.tables import Table

# The catalogue is readable by every role (the read-only ETL role included), unlike
# information_schema, which shows only columns the role has a privilege on.
# What a drift line says of a column one road copies and the other copies soon (not a fault: `is_pending`).
PENDING = "does not yet"

SOURCE_COLUMNS_SQL = """
SELECT a.attname::text FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""


def column_drift(table: Table, actual: list[str], in_default: frozenset[str] = frozenset()) -> list[str]:
    """One line per difference between the source table's columns and the ones bionicflow copies.

    ``table`` may carry columns the CDC road added (``Column.added``): `debezium` copies those;
    ``in_default``: the added columns `default` has (the batch road adds them at its next load).
    """
    if not actual:
        return [f"{table.source_database}.{table.source_table} is missing or has no columns"]
    expected = [c.source for c in table.columns]
    where = f"{table.source_database}.{table.source_table}"
    lines = [
        f"{where} has no column {name} any more (dropped or renamed): CDC changes lack it, so `debezium` stores "
        f"them without it (or dead-letters them when it may not be empty); batch loads read {table.olap_relation}, "
        "which a rename follows and a DROP ... CASCADE removed. Restore the column, or change bionicflow's table "
        "definition (bionicflow/kernel/tables.py) and rebuild both schemas"
        for name in expected if name not in actual and not _added(table, name)
    ]
    lines += [
        f"{where} has a column {name} that neither `default` nor `debezium` copies yet: the CDC road adds a column "
        "it can type at the first change carrying it, the batch road at the next etl_default load (which copies "
        "the table whole once); a column of another type is never copied (docs/cdc.md, \"Schema changes\"): add "
        "it to bionicflow/kernel/tables.py and rebuild both schemas to copy it"
        for name in actual if name not in expected and name not in in_default
    ]
    lines += [
        f"{where} has a column {c.source} that `debezium` copies (added by the CDC road) and `default` {PENDING}"
        ": the next etl_default load copies it (the table whole, once); until then the two schemas compare on "
        "the other columns"
        for c in table.columns if c.added and c.source in actual and c.source not in in_default
    ]
    lines += [
        f"{where} has a column {name} that `default` copies (added by the batch road) and `debezium` {PENDING}"
        ": the CDC road adds it at the first change carrying it"
        for name in sorted(in_default) if name in actual and name not in expected
    ]
    lines += [
        f"{where} has no column {name} any more (dropped or renamed): the copies of it stay as they were, new and "
        f"changed rows get NULL there; dropped on purpose: `bionicflow cdc forget-column {table.name} {name}` drops "
        "it from the copies too (docs/cdc.md, \"Schema changes\")"
        for name in [c.source for c in table.columns if c.added] + sorted(in_default - set(expected))
        if name not in actual
    ]
    return lines


def is_pending(line: str) -> bool:
    """Whether a drift line is a column on its way: one road copies it and the other will at its next change or load."""
    return PENDING in line


def _added(table: Table, name: str) -> bool:
    return any(c.added and c.source == name for c in table.columns)


def read_source_columns(conn, table: Table) -> list[str]:
    """The table's current column names, over a psycopg2-style connection to its database."""
    with conn.cursor() as cur:
        cur.execute(SOURCE_COLUMNS_SQL, (f"public.{table.source_table}",))
        return [row[0] for row in cur.fetchall()]
