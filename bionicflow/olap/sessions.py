"""HTTP sessions (`session_id`): one engine connection kept per user and session, as ClickHouse keeps them.

A request with `session_id` runs on its session's connection, so `SET`, `USE` and temporary
tables outlive the request — and nothing else does: a request's URL database and settings
apply to that request only (the server brings the connection back to what `SET`/`USE` left,
as ClickHouse runs each query in a copy of the session's context). The session ends
`session_timeout` seconds (default 60, at most 3600) after its last request. One query at a
time per session (`SESSION_IS_LOCKED` for a second one, as ClickHouse answers);
`session_check=1` refuses an unknown session (`SESSION_NOT_FOUND`). Sessions are keyed by
user, so one user cannot enter another's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.workers import in_worker

DEFAULT_TIMEOUT = 60
MAX_TIMEOUT = 3600  # ClickHouse's max_session_timeout default
MAX_SESSIONS = 1000  # each holds an engine connection (~0.1 MB)
# A read-only user may hold at most this share of the server's sessions, so a flood of them
# never leaves the admin's and the platform's clients (clickhouse-connect opens one) without.
READER_SHARE = 0.5


@dataclass
class Session:
    conn: object
    timeout: float
    expires: float
    busy: bool = False
    # What SET and USE left: every request of the session starts from it.
    database: str = "default"
    settings: dict[str, str] = field(default_factory=dict)
    # What the connection holds now (a request's URL database and settings on top of the above).
    current: tuple[str, dict[str, str]] = ("default", {})
    broken: bool = False  # its state is unknown (a statement failed to report it): ended after the request


def session_timeout(value: str | None) -> float:
    """The `session_timeout` parameter, checked as ClickHouse checks it."""
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= MAX_TIMEOUT:
        raise ClickHouseError(374, "INVALID_SESSION_TIMEOUT",
                              f"Invalid session timeout: {value!r}; give seconds from 0 to {MAX_TIMEOUT}")
    return seconds


class Sessions:
    """The live sessions of one server; `open_connection(readonly)` makes a session's engine connection."""

    def __init__(self, open_connection: Callable[[bool], object], clock: Callable[[], float] = time.monotonic,
                 max_sessions: int = MAX_SESSIONS, reader_share: float = READER_SHARE):
        self._open = open_connection
        self._clock = clock
        self._max = max_sessions
        self._max_reader = max(1, int(max_sessions * reader_share))
        self._live: dict[tuple[str, str], Session] = {}
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._live)

    @contextlib.asynccontextmanager
    async def use(self, user: str, session_id: str, readonly: bool, timeout: float,
                  check: bool) -> AsyncIterator[Session]:
        """The session (its connection) for one request: made on first use, locked while the request runs."""
        ended = self._take_expired()
        if ended:  # closing a connection blocks; finding none to close (most requests) does not
            await in_worker(_close, ended)
        key = (user, session_id)
        session = self._claim(key, check)
        if session is None:
            conn = await in_worker(self._open, readonly)
            session = self._add(key, conn, timeout, readonly)
        try:
            yield session
        finally:
            if session.broken:
                with self._guard:
                    self._live.pop(key, None)
                await in_worker(_close, [session.conn])
            else:
                with self._guard:
                    session.busy = False
                    session.timeout = timeout
                    session.expires = self._clock() + timeout

    def _claim(self, key: tuple[str, str], check: bool) -> Session | None:
        with self._guard:
            session = self._live.get(key)
            if session is None:
                if check:
                    raise ClickHouseError(372, "SESSION_NOT_FOUND", f"Session {key[1]} not found")
                return None
            if session.busy:
                raise ClickHouseError(373, "SESSION_IS_LOCKED",
                                      f"Session {key[1]} is locked by a concurrent client: one query at a time")
            session.busy = True
            return session

    def _add(self, key: tuple[str, str], conn, timeout: float, readonly: bool = False) -> Session:
        with self._guard:
            limit = self._max_reader if readonly else self._max
            mine = sum(1 for user, _ in self._live if user == key[0]) if readonly else len(self._live)
            if key in self._live or mine >= limit:
                busy = key in self._live
                conn.close()
                if busy:  # two first requests raced: the other one made it
                    raise ClickHouseError(373, "SESSION_IS_LOCKED",
                                          f"Session {key[1]} is locked by a concurrent client: one query at a time")
                raise ClickHouseError(202, "TOO_MANY_SIMULTANEOUS_QUERIES",
                                      f"{limit} sessions are open for {key[0] if readonly else 'the server'}; "
                                      "end some (or let them time out) first")
            session = Session(conn, timeout, self._clock() + timeout, busy=True)
            self._live[key] = session
            return session

    def expire(self) -> int:
        """Close the sessions past their timeout; returns how many."""
        ended = self._take_expired()
        _close(ended)
        return len(ended)

    def _take_expired(self) -> list:
        """The connections of the sessions past their timeout, removed from the live ones."""
        now = self._clock()
        with self._guard:
            ended = [k for k, s in self._live.items() if not s.busy and s.expires <= now]
            return [self._live.pop(k).conn for k in ended]

    def close_all(self) -> None:
        with self._guard:
            conns = [s.conn for s in self._live.values()]
            self._live.clear()
        _close(conns)


def _close(conns: list) -> None:
    for conn in conns:
        conn.close()
