"""The ClickHouse engine in-process (chdb) with the `debezium` schema, and Debezium messages for it."""

import json
from types import SimpleNamespace

import chdb

from bionicflow.cdc import schema


def engine(tmp_path):
    """A ClickHouse engine with the `debezium` schema (embedded flavour)."""
    conn = chdb.connect(str(tmp_path))
    for statement in schema.render("embedded"):
        conn.query(statement)
    return conn


def engine_with_sources(tmp_path):
    """An engine with `debezium`, `default` and `ops`, and an empty database `src` standing in for the sources."""
    from bionicflow.etl import schema as etl_schema

    conn = engine(tmp_path)
    for statement in etl_schema.render():
        conn.query(statement)
    conn.query("CREATE DATABASE src")
    return conn


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
