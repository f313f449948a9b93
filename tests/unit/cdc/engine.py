"""The ClickHouse engine in-process (chdb) with the `debezium` schema, and Debezium messages for it."""

import json

import chdb

from bionicflow.cdc import schema


def engine(tmp_path):
    """A ClickHouse engine with the `debezium` schema (embedded flavour)."""
    conn = chdb.connect(str(tmp_path))
    for statement in schema.render("embedded"):
        conn.query(statement)
    return conn


def insert_changes(conn, table: schema.CdcTable, changes: list[tuple], first_offset: int = 0) -> None:
    """Debezium messages for (op, before, after) changes, one offset (and LSN) each."""
    with conn.send_insert(f"INSERT INTO debezium.{table.name}_kafka", "JSONEachRow") as ins:
        for n, (op, before, after) in enumerate(changes):
            offset = first_offset + n
            value = json.dumps({"payload": {"before": before, "after": after, "op": op,
                                            "source": {"lsn": offset, "ts_us": 1, "table": table.source_table}}})
            ins.append(json.dumps({"payload": value, "_topic": table.topic, "_partition": 0, "_offset": offset}) + "\n")
        ins.finish()
