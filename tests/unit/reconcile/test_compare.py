"""Row-for-row comparison of source, `default` and `debezium`, on the real engine (chdb in-process).

The source is a local table with PostgreSQL's column names and types (what `postgresql()`
returns); `debezium` is filled through the real CDC views from Debezium messages.
"""

import json
from datetime import datetime, timezone

import pytest

from bionicflow.kernel.tables import USERS
from bionicflow.reconcile.compare import DefaultLoad, compare_with_snapshot, snapshot_source_sql
from tests.support.chdb_engine import ChdbClient, engine_with_sources, insert_changes

SOURCE_DDL = """CREATE TABLE src.users (id Int32, user_uuid UUID, name String, email String, age Nullable(Int32),
gender Nullable(String), country Nullable(String), address Nullable(String), phone Nullable(String),
registered_at DateTime64(6), _xid Int64 DEFAULT 100) ENGINE = Memory"""
MICROS = 1_700_000_000_123_456
# Debezium's row images (PostgreSQL column names); NULLs, empty strings and zero side by side.
ROWS = [
    {"id": 1, "user_uuid": "00000000-0000-4000-8000-000000000001", "name": "Ann", "email": "ann@example.org",
     "age": None, "gender": None, "country": "DE", "address": "", "phone": None, "registered_at": MICROS},
    {"id": 2, "user_uuid": "00000000-0000-4000-8000-000000000002", "name": "Bo", "email": "bo@example.org",
     "age": 0, "gender": "", "country": None, "address": None, "phone": "+49 1", "registered_at": MICROS + 1},
    {"id": 3, "user_uuid": "00000000-0000-4000-8000-000000000003", "name": "Céline", "email": "c@example.org",
     "age": 41, "gender": "female", "country": "FR", "address": "1 rue", "phone": "", "registered_at": MICROS + 2},
]


def _text_time(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert(conn, target: str, rows: list[dict]) -> None:
    with conn.send_insert(f"INSERT INTO {target}", "JSONEachRow") as ins:
        for row in rows:
            ins.append(json.dumps(row) + "\n")
        ins.finish()


def _as_default(row: dict, **changes) -> dict:
    out = {("user_id" if k == "id" else k): v for k, v in row.items()}
    return out | {"registered_at": _text_time(out["registered_at"]), "_version": 1} | changes


@pytest.fixture
def sides(tmp_path):
    """Source, `default` and `debezium` holding the same three users."""
    conn = engine_with_sources(tmp_path)
    conn.query(SOURCE_DDL)
    _insert(conn, "src.users", [r | {"registered_at": _text_time(r["registered_at"])} for r in ROWS])
    _insert(conn, "default.users", [_as_default(r) for r in ROWS])
    insert_changes(conn, USERS, [("r", None, r) for r in ROWS])
    return conn


def _compare(conn, default_cursor: int = 0, keys_current: bool = False) -> dict:
    client = ChdbClient(conn)
    client.command("DROP TABLE IF EXISTS ops.reconcile_source_users")
    client.command(snapshot_source_sql(USERS, source="src.users"))
    return {r.side: r for r in compare_with_snapshot(client, USERS, DefaultLoad(default_cursor, keys_current))}


def test_default_behind_is_told_from_default_wrong_by_its_load_cursor(sides):
    """Every source row was written by transaction 100: a load whose cursor is above it should have it."""
    sides.query("DELETE FROM default.users WHERE user_id = 2")
    sides.query("ALTER TABLE default.users UPDATE name = 'wrong' WHERE user_id = 3 SETTINGS mutations_sync = 1")
    behind, wrong = _compare(sides, default_cursor=100), _compare(sides, default_cursor=101)
    assert (behind["default"].missing_keys, behind["default"].differing_rows) == (1, 1)
    assert behind["default"].stale_rows == 0  # written at or after the cursor: changes since the load
    assert wrong["default"].stale_rows == 2  # written before it: the load should have brought both


def test_an_extra_key_is_an_error_only_when_no_source_row_was_deleted_since_the_load(sides):
    """A key only `default` has: a delete since the load (lag), or, when the counters show none, an error."""
    _insert(sides, "default.users", [_as_default(ROWS[0], user_id=99)])
    lag, wrong = _compare(sides, default_cursor=101), _compare(sides, default_cursor=101, keys_current=True)
    assert lag["default"].extra_keys == wrong["default"].extra_keys == 1
    assert (lag["default"].stale_rows, wrong["default"].stale_rows) == (0, 1)


def test_equal_sides_match_with_equal_checksums(sides):
    result = _compare(sides)
    assert {side: r.match for side, r in result.items()} == {"source": True, "default": True, "debezium": True}
    assert result["source"].rows == 3
    assert result["source"].checksum == result["default"].checksum == result["debezium"].checksum != 0


def test_unmerged_versions_and_deletes_count_as_their_final_state(sides):
    """An update still in two versions and a created-then-deleted row: FINAL sees the source's state."""
    ghost = ROWS[0] | {"id": 4, "user_uuid": "00000000-0000-4000-8000-000000000004"}
    renamed = ROWS[2] | {"name": "Céline M."}
    insert_changes(sides, USERS, [("u", ROWS[2], renamed), ("u", renamed, ROWS[2]), ("c", None, ghost),
                                  ("d", ghost, None)], first_offset=10)
    _insert(sides, "default.users", [_as_default(ROWS[1], name="old", _version=0)])  # older load, replaced
    result = _compare(sides)
    assert result["debezium"].match and result["default"].match


def test_null_is_told_apart_from_empty_string_and_zero(sides):
    """Row 1 with '' and 0 where the source has NULL; row 2 with NULL where the source has '' and 0."""
    _insert(sides, "default.users", [_as_default(ROWS[0], age=0, gender="", _version=2),
                                     _as_default(ROWS[1], age=None, gender=None, _version=2)])
    result = _compare(sides)
    assert (result["default"].missing_keys, result["default"].extra_keys, result["default"].differing_rows) == (0, 0, 2)
    assert result["debezium"].match


def test_missing_extra_and_duplicate_keys_are_counted(sides):
    extra = ROWS[0] | {"id": 9, "user_uuid": "00000000-0000-4000-8000-000000000009"}
    moved = ROWS[1] | {"user_uuid": "00000000-0000-4000-8000-00000000000b"}  # same key, new sorting-key position
    insert_changes(sides, USERS, [("d", ROWS[0], None), ("c", None, extra)], first_offset=10)
    _insert(sides, "debezium.users", [_as_default(moved) | {"_op": "u", "_lsn": 0, "_source_ts": "2024-01-01 00:00:00",
                                                            "is_deleted": 0}])
    result = _compare(sides)["debezium"]
    assert (result.missing_keys, result.extra_keys, result.duplicate_keys) == (1, 1, 1)
    assert not result.match


def test_a_side_without_its_table_misses_every_row(sides):
    sides.query("DROP TABLE default.users")
    result = _compare(sides)["default"]
    assert (result.rows, result.missing_keys) == (0, 3)
