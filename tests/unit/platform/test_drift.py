"""Outdated sorting keys are found in the real engine's system.tables, with the fix named."""

import chdb

from bionicflow.cdc import ddl as cdc_schema
from bionicflow.etl import ddl as etl_schema
from bionicflow.platform.drift import expected_sorting_keys, outdated_tables


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


def current_schemas(path):
    """A chdb engine holding today's `default` and `debezium` tables."""
    conn = chdb.connect(str(path))
    for statement in [*etl_schema.render(), *cdc_schema.render("embedded")]:
        conn.query(statement)
    return conn


def test_current_tables_are_not_reported_and_an_old_layout_is(tmp_path):
    conn = current_schemas(tmp_path)
    olap = ChdbOlap(conn)
    assert outdated_tables(olap) == []
    conn.query("DROP TABLE default.telemetry_events")
    conn.query("CREATE TABLE default.telemetry_events (id Int64, user_uuid String) ENGINE = ReplacingMergeTree ORDER BY id")
    [line] = outdated_tables(olap)
    assert line.startswith("default.telemetry_events is sorted by (id), not (cityHash64(user_uuid), id): "
                           "user reports read the whole table")
    assert "etl_default with mode=full" in line


def test_the_unhashed_user_uuid_key_of_earlier_versions_is_reported(tmp_path):
    conn = current_schemas(tmp_path)
    conn.query("DROP TABLE debezium.users")
    conn.query("CREATE TABLE debezium.users (user_id Int64, user_uuid String) ENGINE = ReplacingMergeTree "
               "ORDER BY (user_uuid, user_id)")
    [line] = outdated_tables(ChdbOlap(conn))
    assert line.startswith("debezium.users is sorted by (user_uuid, user_id), not (cityHash64(user_uuid), user_id): "
                           "reports are as fast")
    assert "docs/cdc.md 'Sorting keys'" in line


def test_expected_keys_cover_both_road_schemas():
    assert expected_sorting_keys()[("debezium", "users")] == "cityHash64(user_uuid), user_id"
    assert set(expected_sorting_keys()) == {(db, t) for db in ("default", "debezium") for t in ("users", "telemetry_events")}
