"""The journal load's one superseding delete, on the real engine (chdb in-process)."""

import pytest

from bionicflow.etl import journal
from bionicflow.kernel.tables import USERS
from tests.unit.cdc.engine import ChdbClient, engine_with_sources

A, B, C = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b",
           "00000000-0000-4000-8000-00000000000c")
FINAL = "SELECT user_id, toString(user_uuid), name FROM default.users FINAL ORDER BY user_id"
ALL = "SELECT user_id, _version FROM default.users ORDER BY user_id, _version"


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


def test_one_delete_removes_gone_keys_moved_positions_and_replaced_versions(client):
    _insert(client, [(1, A, "old", 1), (2, A, "old", 1), (3, B, "old", 1), (4, C, "untouched", 1)])
    # this load (version 9): key 1 updated in place, key 2 moved to another user_uuid; key 3 deleted in the source
    _insert(client, [(1, A, "new", 9), (2, B, "moved", 9)])
    _gone(client, [3, 77])  # 77: inserted and deleted between two loads, never in `default`
    client.command(journal.superseded_sql(USERS, 9))
    assert client.query(FINAL).result_rows == [(1, A, "new"), (2, B, "moved"), (4, C, "untouched")]
    # one version per key left: nothing for FINAL to hide, nothing twice without it
    assert client.query(ALL).result_rows == [(1, 9), (2, 9), (4, 1)]


def test_with_nothing_gone_only_replaced_versions_go(client):
    _insert(client, [(1, A, "old", 1), (2, B, "kept", 1), (1, A, "new", 5)])
    _gone(client, [])
    client.command(journal.superseded_sql(USERS, 5))
    assert client.query(ALL).result_rows == [(1, 5), (2, 1)]
