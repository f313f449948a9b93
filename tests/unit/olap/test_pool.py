"""Pooled engine connections: only the differences are applied, nothing of one request reaches the next."""

from __future__ import annotations

import chdb

from bionicflow.olap.pool import ConnectionPool, _changes, Lease


class FakeConn:
    def __init__(self, readonly: bool):
        self.readonly, self.statements, self.closed = readonly, [], False

    def close(self):
        self.closed = True


def _pool(size: int = 16) -> ConnectionPool:
    return ConnectionPool(FakeConn, lambda conn, sql: conn.statements.append(sql), size)


def test_a_reused_connection_gets_only_what_differs_and_loses_what_was_not_asked():
    pool = _pool()
    first = pool.lease(True, "debezium", {"max_threads": "2", "max_execution_time": "10"})
    assert first.conn.statements == ["USE `debezium`", "SET max_threads = '2', max_execution_time = '10'"]
    pool.release(first, reusable=True)
    second = pool.lease(True, None, {"max_execution_time": "10"})
    assert second.conn is first.conn
    assert second.conn.statements[2:] == ["USE `default`", "SET max_threads = DEFAULT"]
    pool.release(second, reusable=True)
    third = pool.lease(True, None, {"max_execution_time": "10"})
    assert third.conn.statements[4:] == []  # the same request shape costs nothing


def test_connections_that_may_hold_state_are_closed_and_kinds_never_mix():
    pool = _pool()
    lease = pool.lease(False, None, {})
    pool.release(lease, reusable=False)  # after SET, USE, DDL or a cancelled query
    assert lease.conn.closed
    writer = pool.lease(False, None, {})
    pool.release(writer, reusable=True)
    reader = pool.lease(True, None, {})
    assert reader.conn is not writer.conn and reader.conn.readonly


def test_the_idle_list_is_bounded():
    pool = _pool(size=1)
    a, b = pool.lease(True, None, {}), pool.lease(True, None, {})
    pool.release(a, reusable=True)
    pool.release(b, reusable=True)
    assert not a.conn.closed and b.conn.closed
    pool.close_all()
    assert a.conn.closed


def test_reset_to_default_really_restores_the_engines_value():
    conn = chdb.connect(":memory:")
    try:
        default = conn.query("SELECT getSetting('max_threads')", "TabSeparated").bytes()
        lease = Lease(conn, False, settings={})
        for statement in _changes(lease, "default", {"max_threads": "1"}):
            conn.query(statement)
        lease.settings = {"max_threads": "1"}
        for statement in _changes(lease, "default", {}):
            conn.query(statement)
        assert conn.query("SELECT getSetting('max_threads')", "TabSeparated").bytes() == default
    finally:
        conn.close()


def test_take_ready_hands_over_a_connection_set_as_asked_without_running_anything():
    pool = _pool(size=1)
    assert pool.take_ready(True, None, {}) == (None, False)  # nothing idle: the caller opens one (blocking)
    first = pool.lease(True, None, {"max_threads": "2"})
    assert pool.keep(first, reusable=True)
    taken, ready = pool.take_ready(True, None, {"max_threads": "2"})
    assert taken is first and ready and first.conn.statements == ["SET max_threads = '2'"]
    assert pool.keep(taken, reusable=True)
    taken, ready = pool.take_ready(True, "debezium", {"max_threads": "2"})  # another database: not ready
    assert taken is first and not ready
    again = pool.lease(True, "debezium", {"max_threads": "2"}, taken)  # the one taken, brought to the request
    assert again is first and first.conn.statements[-1] == "USE `debezium`"
    assert not pool.keep(again, reusable=False)  # state may have changed: the caller closes it
    spare = pool.lease(True, None, {})
    assert pool.keep(spare, reusable=True) and not pool.keep(again, reusable=True)  # the idle list is full
