"""A described source table as the roads' Table: its key (composite too), business time and columns."""

import json

import chdb

from bionicflow.cdc import ddl
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable, roads_table
from bionicflow.kernel.pg_types import PgType, clickhouse_type


def _column(name: str, type_name: str, nullable: bool = False) -> SourceColumn:
    pg = PgType(type_name, "b")
    return SourceColumn(name, pg, type_name, not nullable, clickhouse_type(pg, nullable))


LINES = SourceTable("public", "order_lines", (
    _column("order_id", "int8"), _column("line_no", "int4"), _column("sku", "text", nullable=True),
    _column("placed_at", "timestamptz", nullable=True)), key=("order_id", "line_no"), replica_identity="d")


def test_a_composite_key_is_the_whole_sorting_key_and_the_first_timestamp_the_business_time():
    table = roads_table(LINES, "shop_lines", "shop", "shop.public.order_lines")
    assert table.key_columns == ("order_id", "line_no") and table.sorting_key == ("order_id", "line_no")
    assert table.order_by == "(order_id, line_no)"
    assert table.business_time == "placed_at" and table.source_table == "order_lines"
    assert [c.type for c in table.columns] == ["Int64", "Int32", "Nullable(String)", "Nullable(DateTime64(6, 'UTC'))"]


def test_rows_sharing_a_key_column_stay_apart_and_a_change_without_every_key_column_is_dead_lettered(tmp_path):
    table = roads_table(LINES, "shop_lines", "shop", "shop.public.order_lines")

    def message(op: str, row: dict) -> str:
        images = {"before": row if op == "d" else None, "after": None if op == "d" else row}
        return json.dumps({"payload": {**images, "op": op, "source": {"table": "order_lines", "lsn": 1, "ts_us": 1}}})

    line = {"order_id": 7, "line_no": 1, "sku": "a", "placed_at": "2026-12-07T10:00:00Z"}
    messages = [message("c", line), message("c", {**line, "line_no": 2, "sku": "b"}),
                message("u", {**line, "sku": "c"}), message("c", {"order_id": 8, "sku": "no line"}),
                message("d", {**line, "line_no": 2})]
    conn = chdb.connect(str(tmp_path))
    try:
        for statement in (f"CREATE DATABASE {ddl.DATABASE}", ddl.kafka_table_ddl(table, "embedded"),
                          ddl.target_table_ddl(table), ddl.view_ddl(table), ddl.DEAD_LETTERS_DDL,
                          ddl.dead_letter_view_ddl(table)):
            conn.query(statement)
        rows = "\n".join(json.dumps({"payload": m, "_topic": table.topic, "_partition": 0, "_offset": n})
                         for n, m in enumerate(messages))
        conn.query(f"INSERT INTO {ddl.DATABASE}.shop_lines_kafka FORMAT JSONEachRow\n{rows}")
        kept = conn.query(f"SELECT order_id, line_no, sku FROM {ddl.DATABASE}.shop_lines FINAL ORDER BY line_no",
                          "CSV").bytes().decode()
        letters = conn.query(f"SELECT offset, error FROM {ddl.DATABASE}.dead_letters", "CSV").bytes().decode()
    finally:
        conn.close()
    assert kept == '7,1,"c"\n'  # line 1 updated in place, line 2 created then deleted: neither touched the other
    assert letters == '3,"row image has no line_no"\n'


def test_column_names_the_copies_cannot_take_are_refused_with_the_fix():
    from bionicflow.kernel.pg_catalogue import _name_refusals

    assert _name_refusals(["id", "Key", "note"]) == []
    refused = _name_refusals(["id", "is_deleted", "op", "Key", "key"])
    assert len(refused) == 3
    assert refused[0].startswith('column "is_deleted" has a name the copies use') and "RENAME COLUMN" in refused[0]
    assert refused[1].startswith('column "op"')
    assert refused[2] == 'columns "Key" and "key" differ only by case, which Debezium cannot stream: rename one'
