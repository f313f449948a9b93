"""Schema evolution on the CDC road, in the real engine (chdb): a source column added appears in `debezium`."""

import json

from bionicflow.cdc import evolve
from bionicflow.kernel import tables
from tests.support.chdb_engine import ChdbClient, engine, insert_changes

USERS = tables.USERS
ROW = {"id": 1, "user_uuid": "u1", "name": "a", "email": "e", "age": None, "gender": None, "country": "DE",
       "address": "", "phone": None, "registered_at": 1_700_000_000_000_000}
BASE_FIELDS = [{"type": "int64", "optional": False, "field": "id"}, {"type": "string", "optional": False, "field": "name"}]
NEW_FIELDS = [
    {"type": "string", "optional": True, "field": "note"},
    {"type": "int32", "optional": True, "default": 7, "field": "score"},
    {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp", "version": 1, "field": "seen_at"},
    {"type": "boolean", "optional": True, "field": "vip"},
    {"type": "string", "optional": True, "field": "Mixed Case"},
]


def _message(fields: list[dict]) -> bytes:
    """The start of a Debezium message as Kafka's JSON converter writes it (compact, schema first)."""
    schema = {"type": "struct", "fields": [{"type": "struct", "fields": fields, "optional": True, "field": "before"},
                                           {"type": "struct", "fields": fields, "optional": True, "field": "after"}]}
    return json.dumps({"schema": schema, "payload": {"op": "c"}}, separators=(",", ":")).encode()


def test_the_row_schema_is_read_from_the_message_envelope():
    part = evolve.schema_part(_message(BASE_FIELDS + NEW_FIELDS[:1]))
    assert part is not None and part.endswith(b"}") and b"payload" not in part
    assert [f["field"] for f in evolve.after_fields(part)] == ["id", "name", "note"]
    assert evolve.schema_part(b'{"payload":{}}') is None and evolve.schema_part(b"") is None  # no schemas: nothing


def test_new_fields_are_typed_from_debeziums_schema_and_odd_ones_refused():
    change = evolve.plan(USERS, evolve.after_fields(evolve.schema_part(_message(BASE_FIELDS + NEW_FIELDS))))
    assert [(c.name, c.type, c.kind, c.default) for c in change.columns] == [
        ("note", "Nullable(String)", "string", ""),
        ("score", "Nullable(Int64)", "int", "7"),
        ("seen_at", "Nullable(DateTime64(6))", "micros", ""),
    ]
    assert len(change.refused) == 2 and "vip" in change.refused[0] and "quoting" in change.refused[1]
    assert evolve.plan(USERS, BASE_FIELDS) == evolve.Plan((), ())  # nothing new


def test_an_added_column_fills_from_then_on_and_old_rows_read_the_default(tmp_path):
    conn = engine(tmp_path)
    olap = ChdbClient(conn)
    insert_changes(conn, USERS, [("c", None, ROW), ("c", None, dict(ROW, id=2, user_uuid="u2"))])
    columns = evolve.plan(USERS, NEW_FIELDS[:3]).columns
    grown = evolve.evolve(olap, USERS, columns)
    assert evolve.extended(olap, USERS) == grown  # recorded: a restart knows the columns
    assert not evolve.views_lack(olap, grown)
    insert_changes(conn, USERS, [
        ("c", None, dict(ROW, id=3, user_uuid="u3", note="hi", score=1, seen_at=1_700_000_000_000_001)),
        ("u", dict(ROW, note=None, score=7, seen_at=None), dict(ROW, name="b", note="upd", score=None, seen_at=None)),
        ("c", None, dict(ROW, id=4, user_uuid="u4")),  # written before the column existed, arriving late
    ], first_offset=10)
    rows = conn.query("SELECT user_id, name, note, score, seen_at FROM debezium.users FINAL ORDER BY user_id",
                      "TSV").bytes().decode().splitlines()
    assert rows == ["1\tb\tupd\t\\N\t\\N", "2\ta\t\\N\t7\t\\N", "3\ta\thi\t1\t2023-11-14 22:13:20.000001",
                    "4\ta\t\\N\t7\t\\N"]
    assert conn.query("SELECT count() FROM debezium.dead_letters", "CSV").bytes().decode().strip() == "0"


def test_views_made_again_without_the_added_columns_are_noticed(tmp_path):
    conn = engine(tmp_path)
    olap = ChdbClient(conn)
    grown = evolve.evolve(olap, USERS, evolve.plan(USERS, NEW_FIELDS[:1]).columns)
    evolve.rebuild_views(olap, USERS)  # e.g. the manual view replacement followed by an older bootstrap
    assert evolve.views_lack(olap, grown)
    evolve.rebuild_views(olap, grown)
    assert not evolve.views_lack(olap, grown)
