"""The ClickHouse engine in-process (chdb) with the `debezium` schema, and Debezium messages for it."""

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import chdb

from bionicflow.cdc import ddl as schema
from bionicflow.olap.engine import SERVER_DEFAULTS

_TEMPLATES: dict[str, Path] = {}  # kind -> a data path made once per process by the product's DDL, then closed


def _debezium_statements() -> list[str]:
    return schema.render("embedded")


def _with_sources_statements() -> list[str]:
    from bionicflow.etl import ddl as etl_schema

    return [*schema.render("embedded"), *etl_schema.render(), "CREATE DATABASE src"]


def _copy_of(kind: str, statements, tmp_path):
    """An engine at ``tmp_path`` holding what ``statements`` make: a copy of a data path they made once.

    The DDL of both schemas takes ~0.3 s of CPU, copying its result ~0.01 s and opening it ~0.1 s;
    the copy is the very state the statements left (ClickHouse links a table's files relatively).
    Call it with no other chdb path open, as `chdb.connect` itself needs (one path per process).
    """
    if kind not in _TEMPLATES:
        made = Path(tempfile.mkdtemp(prefix=f"chdb-{kind}-"))
        atexit.register(shutil.rmtree, made, True)
        conn = chdb.connect(str(made / "data"))
        for statement in statements():
            conn.query(statement)
        conn.close()
        _TEMPLATES[kind] = made / "data"
    shutil.copytree(_TEMPLATES[kind], tmp_path, symlinks=True, dirs_exist_ok=True)
    return as_served(chdb.connect(str(tmp_path)))


def as_served(conn):
    """``conn`` running statements with the settings the OLAP server (and a clickhouse-server) gives them."""
    for name, value in SERVER_DEFAULTS.items():
        conn.query(f"SET {name} = '{value}'")
    return conn


def engine(tmp_path):
    """A ClickHouse engine with the `debezium` schema (embedded flavour)."""
    return _copy_of("debezium", _debezium_statements, tmp_path)


def engine_with_sources(tmp_path):
    """An engine with `debezium`, `default` and `ops`, and an empty database `src` standing in for the sources."""
    return _copy_of("with-sources", _with_sources_statements, tmp_path)


def insert_changes(conn, table: schema.Table, changes: list[tuple], first_offset: int = 0) -> None:
    """Debezium messages for (op, before, after) changes, one offset (and LSN) each."""
    with conn.send_insert(f"INSERT INTO debezium.{table.name}_kafka", "JSONEachRow") as ins:
        for n, (op, before, after) in enumerate(changes):
            offset = first_offset + n
            value = json.dumps({"payload": {"before": before, "after": after, "op": op,
                                            "source": {"lsn": offset, "ts_us": 1, "table": table.source_table}}})
            ins.append(json.dumps({"payload": value, "_topic": table.topic, "_partition": 0, "_offset": offset}) + "\n")
        ins.finish()


class ChdbClient:
    """clickhouse-connect's `query` and `command`, over an in-process chdb connection."""

    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def _params(parameters):
        return {k: v if isinstance(v, str) else str(v) for k, v in (parameters or {}).items()}

    def query(self, sql, parameters=None):
        table = self.conn.query(sql, "ArrowTable", params=self._params(parameters))
        return SimpleNamespace(result_rows=[tuple(row.values()) for row in table.to_pylist()], summary=None)

    def command(self, sql, parameters=None):
        """The first value of the result, as clickhouse-connect's `command` gives it (None without a result)."""
        rows = self.query(sql, parameters).result_rows
        return rows[0][0] if rows else None

    def insert(self, table, data, column_names):
        """clickhouse-connect's `insert` of ``data`` (rows) into ``column_names``, as JSON rows."""
        rows = "\n".join(json.dumps(dict(zip(column_names, row, strict=True)), default=str) for row in data)
        self.conn.query(f"INSERT INTO {table} ({', '.join(column_names)}) FORMAT JSONEachRow\n{rows}")

    def close(self):
        pass
