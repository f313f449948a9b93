"""INSERTs into a table whose write can fail after its rows parsed: staged, so the failure is told.

chdb's streamed insert (`send_insert`) swallows every error the table's side of an INSERT raises
once the data has parsed — a violated `CONSTRAINT`, a materialized view whose query throws, a
`MATERIALIZED` or partition-key expression that throws, `TOO_MANY_PARTS` from an insert spanning
too many partitions: `finish()` reports the rows written, none are, and the client would get 200
for lost rows. ClickHouse answers such an INSERT with the error. So an INSERT into a table that
has any of these (a view fed by it, a constraint, a partition key, a part limit, a column with an
expression, or a temporary table) is staged: its rows are streamed into a temporary Memory table
of the insert's columns (parsed, and defaults for omitted fields made, as the table declares
them), counted — a default that threw there loses rows, which the count shows —, then moved
with one `INSERT … SELECT`, which reports the table's error as any statement does. Other tables
(plain MergeTree without a partition key, Memory, Log …) take the stream directly.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bionicflow.olap.engine import StreamingInsert, run_query
from bionicflow.olap.protocol import ClickHouseError, quote_identifier
from bionicflow.olap.sql_lexing import masked

# A temporary table of the connection first (an unqualified name means it, as in ClickHouse), then the database's.
_TABLE_SQL = ("SELECT database, name, is_temporary, create_table_query, dependencies_table, engine_full, "
              "partition_key FROM system.tables "
              "WHERE name = {name:String} AND database IN ({db:String}, {temp:String}) "
              "ORDER BY is_temporary DESC LIMIT 1")
_COLUMNS_SQL = ("SELECT name, type, default_kind, default_expression FROM system.columns "
                "WHERE database = {db:String} AND table = {name:String} ORDER BY position")
_CONSTRAINT = re.compile(r"(?:\(|,)\s*CONSTRAINT\s")
_PART_LIMITS = ("parts_to_throw_insert", "max_parts_in_total")
_AST_NODE = re.compile(r"^( *)(\w+)(?: (.*?))?(?:\s+\(children \d+\))?$")
_SETTINGS_WORD = re.compile(r"\bSETTINGS\b", re.IGNORECASE)


@dataclass(frozen=True)
class InsertTarget:
    database: str  # "" for the connection's current one
    table: str
    columns: tuple[str, ...]  # the INSERT's column list; empty: the table's insertable columns
    has_settings: bool = False  # the INSERT carries a SETTINGS clause


@dataclass(frozen=True)
class TargetTable:
    database: str  # "" for a temporary table
    name: str
    columns: tuple[tuple[str, str, str, str], ...]  # name, type, default kind, default expression
    staged: bool  # its write can fail after the data parsed


def insert_target(explained_ast: str) -> InsertTarget | None:
    """The table an ``INSERT`` writes, from the engine's ``EXPLAIN AST`` of it; None for a table function."""
    names: list[str] = []
    columns: list[str] = []
    has_settings = False
    for line in explained_ast.splitlines()[1:]:
        node = _AST_NODE.match(line)
        if not node:
            continue
        depth, kind, value = len(node.group(1)), node.group(2), node.group(3) or ""
        if depth == 1 and kind == "Function":
            return None
        if depth == 1 and kind == "Identifier":
            names.append(value)
        elif depth == 1 and kind == "Set":
            has_settings = True
        elif depth == 2 and kind == "Identifier":
            columns.append(value)
    if not names:
        return None
    return InsertTarget(names[0] if len(names) == 2 else "", names[-1], tuple(columns), has_settings)


def can_fail_after_parsing(row: tuple, columns: tuple[tuple[str, str, str, str], ...]) -> bool:
    """A system.tables row (as _TABLE_SQL reads it) and its columns: may its write fail once the data parsed?"""
    _, _, is_temporary, create_query, dependent_views, engine_full, partition_key = row
    return bool(is_temporary or dependent_views or partition_key or _CONSTRAINT.search(masked(create_query))
                or any(limit in engine_full for limit in _PART_LIMITS) or any(c[2] for c in columns))


class TargetTables:
    """What the server knows of the tables INSERTs stream into, until the next statement that may change them."""

    def __init__(self, generation: Callable[[], int]):
        self._generation = generation
        self._known: dict[tuple[str, str], tuple[int, TargetTable | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, conn, target: InsertTarget, current_database: str) -> TargetTable | None:
        """The table, remembered only for a qualified name: an unqualified one may mean a temporary table, which
        is one connection's own."""
        if not target.database:
            return _read_table(conn, target, current_database)
        generation = self._generation()
        key = (target.database, target.table)
        with self._lock:
            known = self._known.get(key)
        if known and known[0] == generation:
            return known[1]
        table = _read_table(conn, target, target.database)
        with self._lock:
            self._known[key] = (generation, table)
        return table


def _read_table(conn, target: InsertTarget, database: str) -> TargetTable | None:
    temporary = "" if not target.database else database  # only an unqualified name may mean a temporary table
    found = _query_rows(conn, _TABLE_SQL, {"db": database, "temp": temporary, "name": target.table})
    if not found:
        return None
    row = found[0]
    columns = tuple(tuple(c) for c in _query_rows(conn, _COLUMNS_SQL, {"db": row[0], "name": row[1]}))
    return TargetTable(row[0], row[1], columns, can_fail_after_parsing(tuple(row), columns))


def _column_ddl(name: str, type_name: str, default_kind: str, default_expression: str) -> str:
    default = f" DEFAULT {default_expression}" if default_kind in ("DEFAULT", "EPHEMERAL") and default_expression \
        else ""
    return f"{quote_identifier(name)} {type_name}{default}"


def _settings_clause(statement: str) -> str:
    """The INSERT's own `SETTINGS …` (its last top-level SETTINGS word on): a column may be named settings."""
    code = masked(statement)
    found = [m for m in _SETTINGS_WORD.finditer(code) if code.count("(", 0, m.start()) == code.count(")", 0, m.start())]
    return statement[found[-1].start():] if found else ""


class StagedInsert:
    """The interface of engine.StreamingInsert (append, finish, cancel), through a staging table."""

    def __init__(self, conn, statement: str, fmt: str, target: InsertTarget, table: TargetTable):
        self._conn = conn
        self._target = quote_identifier(table.name) if not table.database else \
            f"{quote_identifier(table.database)}.{quote_identifier(table.name)}"
        # the data's columns, in its order: the INSERT's list, or the table's insertable columns
        names = target.columns or [c[0] for c in table.columns if c[2] not in ("MATERIALIZED", "ALIAS", "EPHEMERAL")]
        staged = [c for c in table.columns if c[2] not in ("MATERIALIZED", "ALIAS")]  # what defaults may read
        self._columns = ", ".join(quote_identifier(name) for name in names)
        self._stage = quote_identifier(f"bionicflow_stage_{uuid.uuid4().hex}")
        _query_rows(conn, f"CREATE TEMPORARY TABLE {self._stage} ({', '.join(_column_ddl(*c) for c in staged)}) "
                          "ENGINE = Memory")
        settings = _settings_clause(statement) if target.has_settings else ""
        try:
            self._inner = StreamingInsert(conn, f"INSERT INTO {self._stage} ({self._columns}) {settings}".rstrip(), fmt)
        except BaseException:
            self._drop()
            raise

    def append(self, data: bytes) -> None:
        self._inner.append(data)

    def finish(self) -> dict:
        try:
            summary = self._inner.finish()
            arrived = int(_query_rows(self._conn, f"SELECT count() FROM {self._stage}")[0][0])
            parsed = int(summary["written_rows"])
            if arrived != parsed:  # the stage's own write failed: a default made for an omitted field threw
                raise ClickHouseError(
                    117, "INCORRECT_DATA",
                    f"of the {parsed} rows parsed, {arrived} could be made into rows of {self._target}: a DEFAULT "
                    "expression of it failed for a field the data omits; nothing was written")
            _query_rows(self._conn, f"INSERT INTO {self._target} ({self._columns}) "
                                    f"SELECT {self._columns} FROM {self._stage}")
            return summary
        finally:
            self._drop()

    def cancel(self) -> None:
        self._inner.cancel()
        self._drop()

    def _drop(self) -> None:
        try:
            self._conn.query(f"DROP TEMPORARY TABLE IF EXISTS {self._stage}")
        except RuntimeError:
            pass  # gone with the connection's session if not now


def _query_rows(conn, sql: str, params: dict | None = None) -> list[list]:
    text = run_query(conn, sql, "JSONCompact", params or {}).data
    return json.loads(text)["data"] if text else []


def open_insert(conn, statement: str, fmt: str, tables: TargetTables,
                current_database: str) -> StreamingInsert | StagedInsert:
    """A streamed INSERT, staged when its table can fail after the data parsed (see the module's docstring)."""
    try:
        explained = conn.query(f"EXPLAIN AST {statement} FORMAT TabSeparated", "TabSeparatedRaw").bytes()
    except RuntimeError:
        return StreamingInsert(conn, statement, fmt)  # the engine refuses it: the insert says why
    target = insert_target(explained.decode(errors="replace"))
    table = tables.lookup(conn, target, current_database) if target else None
    if target is None or table is None or not table.staged:
        return StreamingInsert(conn, statement, fmt)
    return StagedInsert(conn, statement, fmt, target, table)
