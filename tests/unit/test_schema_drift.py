"""Outdated sorting keys are found in the real engine's system.tables, with the fix named."""

import chdb

from bionicflow.cdc import schema as cdc_schema
from bionicflow.etl import schema as etl_schema
from bionicflow.schema_drift import expected_sorting_keys, outdated_tables


class ChdbOlap:
    """The two calls outdated_tables makes, on an in-process chdb connection."""

    def __init__(self, conn):
        self.conn = conn

    def query(self, sql, parameters):
        class Result:
            result_rows = [tuple(line.split("\t")) for line in
                           self.conn.query(sql, "TSV", params={k: "[" + ",".join(f"'{v}'" for v in vs) + "]"
                                                                       for k, vs in parameters.items()}).bytes().decode().splitlines()]
        return Result()


def test_current_tables_are_not_reported_and_an_old_layout_is(tmp_path):
    conn = chdb.connect(str(tmp_path))
    for statement in [*etl_schema.render(), *cdc_schema.render("embedded")]:
        conn.query(statement)
    olap = ChdbOlap(conn)
    assert outdated_tables(olap) == []
    conn.query("DROP TABLE default.telemetry_events")
    conn.query("CREATE TABLE default.telemetry_events (id Int64, user_uuid String) ENGINE = ReplacingMergeTree ORDER BY id")
    [line] = outdated_tables(olap)
    assert line.startswith("default.telemetry_events is sorted by (id), not (user_uuid, id)")
    assert "etl_default with mode=full" in line


def test_expected_keys_cover_both_road_schemas():
    assert expected_sorting_keys()[("debezium", "users")] == "user_uuid, user_id"
    assert set(expected_sorting_keys()) == {(db, t) for db in ("default", "debezium") for t in ("users", "telemetry_events")}
