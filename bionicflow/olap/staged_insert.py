"""INSERTs into a table whose write can fail after its rows parsed: staged, so the failure is told.

chdb's streamed insert (`send_insert`) swallows an error its table's sink raises once the data
has parsed — a violated `CONSTRAINT`, a materialized view whose query throws: `finish()` reports
the rows written, none are, and the client would get 200 for lost rows. ClickHouse answers such
an INSERT with the error (`VIOLATED_CONSTRAINT` …). So for a table with a constraint or a view
fed by it the rows are first streamed into a temporary Memory table of the insert's columns
(parsing, defaults for omitted fields as the table declares them), then moved with one
`INSERT … SELECT`, which reports the sink's error as any statement does.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

from bionicflow.olap.engine import StreamingInsert, engine_error
from bionicflow.olap.protocol import quote_identifier

_TARGET_SQL = ("SELECT database, name, create_table_query, dependencies_table FROM system.tables "
               "WHERE database = if({db:String} = '', currentDatabase(), {db:String}) AND name = {name:String}")
_COLUMNS_SQL = ("SELECT name, type, default_kind, default_expression FROM system.columns "
                "WHERE database = {db:String} AND table = {name:String} ORDER BY position")
_CONSTRAINT = re.compile(r"^\s*CONSTRAINT\s", re.MULTILINE)
_AST_NODE = re.compile(r"^( *)(\w+)(?: (.*?))?(?:\s+\(children \d+\))?$")
_SETTINGS = re.compile(r"\bSETTINGS\b(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class InsertTarget:
    database: str  # "" for the connection's current one
    table: str
    columns: tuple[str, ...]  # the INSERT's column list; empty: the table's insertable columns


def insert_target(explained_ast: str) -> InsertTarget | None:
    """The table an ``INSERT`` writes, from the engine's ``EXPLAIN AST`` of it; None for a table function."""
    names: list[str] = []
    columns: list[str] = []
    for line in explained_ast.splitlines()[1:]:
        node = _AST_NODE.match(line)
        if not node:
            continue
        depth, kind, value = len(node.group(1)), node.group(2), node.group(3) or ""
        if depth == 1 and kind == "Function":
            return None
        if depth == 1 and kind == "Identifier":
            names.append(value)
        elif depth == 2 and kind == "Identifier":
            columns.append(value)
    if not names:
        return None
    return InsertTarget(names[0] if len(names) == 2 else "", names[-1], tuple(columns))


def _guarded(create_table_query: str, dependent_views: list) -> bool:
    """Whether the table's write can fail after the data parsed: a CHECK/ASSUME constraint or a view fed by it."""
    return bool(dependent_views) or bool(_CONSTRAINT.search(create_table_query.replace(",", "\n")))


def _column_ddl(name: str, type_name: str, default_kind: str, default_expression: str) -> str:
    default = f" DEFAULT {default_expression}" if default_kind in ("DEFAULT", "EPHEMERAL") and default_expression \
        else ""
    return f"{quote_identifier(name)} {type_name}{default}"


class StagedInsert:
    """The interface of engine.StreamingInsert (append, finish, cancel), through a staging table."""

    def __init__(self, conn, statement: str, fmt: str, target: InsertTarget, database: str):
        self._conn = conn
        self._target = f"{quote_identifier(database)}.{quote_identifier(target.table)}"
        rows = _query_rows(conn, _COLUMNS_SQL, {"db": database, "name": target.table})
        # the data's columns, in its order: the INSERT's list, or the table's insertable columns
        names = target.columns or [r[0] for r in rows if r[2] not in ("MATERIALIZED", "ALIAS", "EPHEMERAL")]
        staged = [r for r in rows if r[2] not in ("MATERIALIZED", "ALIAS")]  # what defaults may read
        self._columns = ", ".join(quote_identifier(name) for name in names)
        self._stage = quote_identifier(f"bionicflow_stage_{uuid.uuid4().hex}")
        _query_rows(conn, f"CREATE TEMPORARY TABLE {self._stage} ({', '.join(_column_ddl(*r) for r in staged)}) "
                          "ENGINE = Memory")
        settings = _SETTINGS.search(statement)
        head = f"INSERT INTO {self._stage} ({self._columns})" + (f" SETTINGS{settings.group(1)}" if settings else "")
        try:
            self._inner = StreamingInsert(conn, head, fmt)
        except BaseException:
            self._drop()
            raise

    def append(self, data: bytes) -> None:
        self._inner.append(data)

    def finish(self) -> dict:
        try:
            summary = self._inner.finish()
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


def _query_rows(conn, sql: str, params: dict | None = None) -> list[tuple]:
    try:
        result = conn.query(sql, "JSONCompact", params=params or {})
    except (RuntimeError, UnicodeDecodeError) as exc:
        raise engine_error(exc) from None
    text = result.bytes()
    if not text:
        return []
    return [tuple(row) for row in json.loads(text)["data"]]


def open_insert(conn, statement: str, fmt: str) -> StreamingInsert | StagedInsert:
    """A streamed INSERT, staged when its table can fail after the data parsed (see the module's docstring)."""
    try:
        explained = conn.query(f"EXPLAIN AST {statement} FORMAT TabSeparated", "TabSeparatedRaw").bytes().decode()
    except (RuntimeError, UnicodeDecodeError):
        return StreamingInsert(conn, statement, fmt)  # the engine refuses it: the insert says why
    target = insert_target(explained)
    found = _query_rows(conn, _TARGET_SQL, {"db": target.database, "name": target.table}) if target else []
    if not target or not found or not _guarded(found[0][2], found[0][3]):
        return StreamingInsert(conn, statement, fmt)
    return StagedInsert(conn, statement, fmt, target, found[0][0])
