"""Session bookkeeping of the OLAP server with a fake connection and clock: reuse, locking, expiry, checks."""

from __future__ import annotations

import anyio
import pytest

from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.sessions import MAX_TIMEOUT, Sessions, session_timeout


class FakeConn:
    made = 0

    def __init__(self, readonly: bool):
        FakeConn.made += 1
        self.readonly, self.closed = readonly, False

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _use(sessions: Sessions, user="u", sid="s", timeout=60.0, check=False):
    async def run():
        async with sessions.use(user, sid, False, timeout, check) as session:
            return session.conn
    return anyio.run(run)


def test_a_session_keeps_its_connection_and_users_do_not_share_one():
    sessions = Sessions(FakeConn, Clock())
    first = _use(sessions)
    assert _use(sessions) is first
    assert _use(sessions, user="other") is not first  # the same id under another user is another session
    assert len(sessions) == 2


def test_a_second_query_while_one_runs_is_refused_as_locked():
    sessions, outcome = Sessions(FakeConn, Clock()), {}

    async def main():
        async with sessions.use("u", "s", False, 60, False):
            with pytest.raises(ClickHouseError) as locked:
                async with sessions.use("u", "s", False, 60, False):
                    pass
            outcome["error"] = locked.value
        async with sessions.use("u", "s", False, 60, False):  # free again afterwards
            outcome["again"] = True

    anyio.run(main)
    assert (outcome["error"].code, outcome["error"].name) == (373, "SESSION_IS_LOCKED") and outcome["again"]


def test_sessions_end_their_timeout_after_the_last_request():
    clock = Clock()
    sessions = Sessions(FakeConn, clock)
    conn = _use(sessions, timeout=30)
    clock.now += 29
    assert sessions.expire() == 0 and _use(sessions, timeout=30) is conn  # the request renewed it
    clock.now += 31
    assert sessions.expire() == 1 and conn.closed
    assert _use(sessions) is not conn


def test_session_check_refuses_an_unknown_session():
    with pytest.raises(ClickHouseError) as missing:
        _use(Sessions(FakeConn, Clock()), check=True)
    assert (missing.value.code, missing.value.http_status) == (372, 500)


def test_session_timeout_is_checked():
    assert session_timeout(None) == 60 and session_timeout("5") == 5
    for bad in ("-1", str(MAX_TIMEOUT + 1), "soon"):
        with pytest.raises(ClickHouseError, match="Invalid session timeout"):
            session_timeout(bad)


def test_the_number_of_sessions_is_bounded():
    sessions = Sessions(FakeConn, Clock(), max_sessions=2)
    _use(sessions, sid="a"), _use(sessions, sid="b")
    with pytest.raises(ClickHouseError, match="2 sessions are open"):
        _use(sessions, sid="c")
    sessions.close_all()
    assert len(sessions) == 0
