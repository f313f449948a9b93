"""A source table whose names need quoting (spaces, quotes, capitals) through the CDC views, in chdb."""

from bionicflow.cdc import ddl
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable, roads_table
from bionicflow.kernel.pg_types import PgType, clickhouse_type
from tests.support.chdb_engine import engine, insert_changes


def _column(name: str, type_name: str, nullable: bool = True) -> SourceColumn:
    pg = PgType(type_name, "b")
    return SourceColumn(name, pg, type_name, not nullable, clickhouse_type(pg, nullable))


ODD = SourceTable("Sales", "it's \"orders\"", (
    _column("Order Id", "int8", nullable=False), _column("line-no", "int4", nullable=False),
    _column("it's", "text"), _column("Placed At", "timestamptz")), key=("Order Id", "line-no"), replica_identity="d")


def test_names_that_need_quoting_make_working_views_and_rows(tmp_path):
    table = roads_table(ODD, "odd", "shop", "shop.Sales.it's \"orders\"")
    conn = engine(tmp_path)
    for statement in (ddl.kafka_table_ddl(table, "embedded"), ddl.target_table_ddl(table), ddl.view_ddl(table),
                      ddl.dead_letter_view_ddl(table), ddl.truncation_view_ddl(table)):
        conn.query(statement)
    row = {"Order Id": 1, "line-no": 2, "it's": "a 'quoted' value", "Placed At": "2026-12-07T10:00:00.000001Z"}
    insert_changes(conn, table, [("c", None, row), ("c", None, {**row, "line-no": 3}),
                                 ("d", {**row, "line-no": 3}, None), ("c", None, {"Order Id": 9, "it's": "no line"})])
    got = conn.query("SELECT `Order Id`, `line-no`, `it's`, `Placed At` FROM debezium.odd FINAL WHERE NOT is_deleted",
                     "CSV").bytes().decode().strip()
    assert got == '1,2,"a \'quoted\' value","2026-12-07 10:00:00.000001"'
    letters = conn.query("SELECT error FROM debezium.dead_letters", "CSV").bytes().decode()
    assert "row image has no line-no" in letters, "a change without every key column was not dead-lettered"
