"""TRUNCATE on the CDC road, in the real engine (chdb): recorded by the views, purged in topic order."""

import json

from bionicflow.cdc import truncations
from bionicflow.kernel import tables
from tests.support.chdb_engine import ChdbClient, engine, insert_changes

USERS = tables.USERS


def _user(uid: int, name: str = "a") -> dict:
    return {"id": uid, "user_uuid": f"u{uid}", "name": name, "email": "e", "age": None, "gender": None,
            "country": "DE", "address": "", "phone": None, "registered_at": 1_700_000_000_000_000}


def _live(conn) -> list[tuple]:
    rows = conn.query("SELECT user_id, name FROM debezium.users FINAL ORDER BY user_id", "CSV").bytes().decode()
    return [tuple(line.split(",")) for line in rows.splitlines()]


# before the TRUNCATE: 1, 2 and an update of 2; after it: 3, and key 1 again with another name
STREAM = [("c", None, _user(1)), ("c", None, _user(2)), ("u", _user(2), _user(2, "b")), ("t", None, None),
          ("c", None, _user(3)), ("c", None, _user(1, "again"))]


def test_a_truncate_removes_exactly_the_rows_before_it(tmp_path):
    conn = engine(tmp_path)
    insert_changes(conn, USERS, STREAM)
    assert conn.query("SELECT count() FROM debezium.dead_letters", "CSV").bytes().decode().strip() == "0"
    pending = conn.query("SELECT table_name, _version, applied_at FROM debezium.truncations", "CSV").bytes().decode()
    assert pending.strip() == '"users",4,\\N'  # offset 3, version = offset + 1, not applied yet

    purges = truncations.apply_pending(ChdbClient(conn))

    assert purges == [truncations.Purge("users", 4, 1)]
    assert _live(conn) == [("1", '"again"'), ("3", '"a"')]
    assert truncations.apply_pending(ChdbClient(conn)) == []  # applied once; nothing pending
    assert _live(conn) == [("1", '"again"'), ("3", '"a"')]


def test_redelivery_of_the_same_messages_changes_nothing(tmp_path):
    conn = engine(tmp_path)
    insert_changes(conn, USERS, STREAM)
    truncations.apply_pending(ChdbClient(conn))
    insert_changes(conn, USERS, STREAM)  # the consumer died before committing: everything again, same offsets
    assert truncations.apply_pending(ChdbClient(conn)) == [truncations.Purge("users", 4, 1)]
    assert _live(conn) == [("1", '"again"'), ("3", '"a"')]


def test_a_second_truncate_purges_up_to_the_newest(tmp_path):
    conn = engine(tmp_path)
    insert_changes(conn, USERS, STREAM + [("t", None, None), ("c", None, _user(4))])
    assert truncations.apply_pending(ChdbClient(conn), "telemetry_events") == []  # another table: untouched
    assert truncations.apply_pending(ChdbClient(conn), "users") == [truncations.Purge("users", 7, 2)]
    assert _live(conn) == [("4", '"a"')]


def test_a_truncate_of_another_table_is_a_dead_letter_not_a_purge(tmp_path):
    conn = engine(tmp_path)
    insert_changes(conn, USERS, [("c", None, _user(1))])
    value = json.dumps({"payload": {"before": None, "after": None, "op": "t", "source": {"table": "orders", "ts_us": 1}}})
    conn.query("INSERT INTO debezium.users_kafka FORMAT JSONEachRow "
               + json.dumps({"payload": value, "_topic": USERS.topic, "_partition": 0, "_offset": 5}))
    assert truncations.apply_pending(ChdbClient(conn)) == []
    assert _live(conn) == [("1", '"a"')]
    assert conn.query("SELECT offset FROM debezium.dead_letters", "CSV").bytes().decode().strip() == "5"


def test_the_consumer_looks_for_truncations_only_when_a_message_may_be_one():
    compact = b'{"schema":{},"payload":{"before":null,"after":null,"op":"t","source":{}}}'
    assert truncations.has_truncate_hint([b"", compact])
    assert truncations.has_truncate_hint([b'{"payload": {"op": "t"}}'])
    assert not truncations.has_truncate_hint([b'{"payload":{"op":"c","after":{"name":"\\"op\\":\\"t\\""}}}', b""])


def test_an_added_tables_truncate_is_purged_too_and_a_name_outside_the_catalogue_never_reaches_sql(tmp_path):
    import pytest

    from bionicflow.cdc import ddl
    from tests.support.catalogue import ADDED

    conn = engine(tmp_path)
    table = ADDED.table
    for statement in (ddl.kafka_table_ddl(table, "embedded"), ddl.target_table_ddl(table), ddl.view_ddl(table),
                      ddl.dead_letter_view_ddl(table), ddl.truncation_view_ddl(table)):
        conn.query(statement)
    line = {"order_id": "5f0c3f2e-2f6f-4b8e-9f0e-1d2c3b4a5e6f", "line_no": 1, "price": "1.50", "tags": ["a"],
            "span": "P1D"}
    insert_changes(conn, table, [("c", None, line), ("t", None, None), ("c", None, {**line, "line_no": 2})])
    assert truncations.apply_pending(ChdbClient(conn)) == [truncations.Purge("lines", 2, 1)]
    left = conn.query("SELECT line_no FROM debezium.lines FINAL", "CSV").bytes().decode().split()
    assert left == ["2"]
    with pytest.raises(ValueError, match="not a catalogue table's name"):
        truncations.purge_sql("lines; DROP TABLE x")
