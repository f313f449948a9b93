"""The journal load's tombstones for deleted and moved rows, on the real engine (chdb in-process)."""

import pytest

from bionicflow.etl import journal
from bionicflow.kernel.tables import USERS
from tests.support.chdb_engine import ChdbClient, engine_with_sources

A, B, C = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b",
           "00000000-0000-4000-8000-00000000000c")
FINAL = "SELECT user_id, toString(user_uuid), name FROM default.users FINAL ORDER BY user_id"
TOMBS = "SELECT user_id, toString(user_uuid), _version FROM default.users WHERE is_deleted ORDER BY user_id"


@pytest.fixture
def client(tmp_path):
    conn = engine_with_sources(tmp_path)
    return ChdbClient(conn)


def _insert(client, rows):
    values = ", ".join(f"({k}, '{u}', '{n}', 'e', now64(6), {v})" for k, u, n, v in rows)
    client.command(f"INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) VALUES {values}")


def _gone(client, keys):
    client.command("CREATE TABLE ops.etl_gone_users (k Int64) ENGINE = Memory")
    if keys:
        client.command(f"INSERT INTO ops.etl_gone_users VALUES {', '.join(f'({k})' for k in keys)}")


def _tombstones(client, version):
    client.command(journal.tombstones_sql(USERS, version))
    return int(client.command(journal.count_gone_sql(USERS, version)))


def test_tombstones_hide_gone_keys_and_moved_positions(client):
    _insert(client, [(1, A, "old", 1), (2, A, "old", 1), (3, B, "old", 1), (4, C, "untouched", 1)])
    # this load (version 9): key 1 updated in place, key 2 moved to another user_uuid; key 3 deleted in the source
    _insert(client, [(1, A, "new", 9), (2, B, "moved", 9)])
    _gone(client, [3, 77])  # 77: inserted and deleted between two loads, never in `default`
    assert _tombstones(client, 9) == 1  # of the two keys gone, `default` had one
    assert client.query(FINAL).result_rows == [(1, A, "new"), (2, B, "moved"), (4, C, "untouched")]
    # tombstones only where a row went stale at a position no new row replaces: key 3, key 2's old place
    assert client.query(TOMBS).result_rows == [(2, A, 9), (3, B, 9)]


def test_an_update_in_place_needs_no_tombstone(client):
    _insert(client, [(1, A, "old", 1), (2, B, "kept", 1), (1, A, "new", 5)])
    _gone(client, [])
    assert _tombstones(client, 5) == 0
    assert client.query(TOMBS).result_rows == []
    assert client.query(FINAL).result_rows == [(1, A, "new"), (2, B, "kept")]


def test_a_key_back_in_the_source_after_its_tombstone_is_seen_again(client):
    _insert(client, [(1, A, "old", 1)])
    _gone(client, [1])
    _tombstones(client, 5)
    assert client.query(FINAL).result_rows == []
    client.command("DROP TABLE ops.etl_gone_users")
    _insert(client, [(1, A, "again", 7)])  # a later load writes the key anew
    _gone(client, [])
    _tombstones(client, 7)
    assert client.query(FINAL).result_rows == [(1, A, "again")]
    # the engine's merges keep the answer: FINAL decides the same after OPTIMIZE
    client.command("OPTIMIZE TABLE default.users FINAL")
    assert client.query(FINAL).result_rows == [(1, A, "again")]


def test_a_table_made_before_tombstones_is_told_apart_for_its_one_rebuild(client):
    from bionicflow.etl.ddl import has_tombstones
    from bionicflow.kernel.tables import TELEMETRY_EVENTS

    assert has_tombstones(client, USERS) is True  # made from today's definition
    client.command("DROP TABLE IF EXISTS default.telemetry_events")
    assert has_tombstones(client, TELEMETRY_EVENTS) is None
    client.command("CREATE TABLE default.telemetry_events (id Int64, user_uuid String, _version UInt64) "
                   "ENGINE = ReplacingMergeTree(_version) ORDER BY (cityHash64(user_uuid), id)")  # the old layout
    assert has_tombstones(client, TELEMETRY_EVENTS) is False
