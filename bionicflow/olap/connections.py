"""The engine connection a request runs on: its session's (`session_id`), or one leased from the pool.

Either way the request's database and settings hold for that request only; a session keeps
what `SET` and `USE` leave (read back from the engine), nothing else.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from bionicflow.olap.engine import SERVER_DEFAULTS, Engine
from bionicflow.olap.pool import Lease
from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.sessions import Sessions, session_timeout
from bionicflow.olap.users import User
from bionicflow.olap.workers import in_worker

# Statements whose effect a session keeps (everything else leaves the session as it found it).
SESSION_STATE_KINDS = frozenset({"SET", "USE"})


@dataclass
class Held:
    """The connection a request runs on, and whether it may serve the next request (set on success)."""

    conn: object
    reusable: bool = False
    database: str = "default"  # the connection's current database while the request runs


# Settings the engine takes per statement only, never by SET, with their defaults. ClickHouse applies
# URL settings to the one query, so a client may send them (@clickhouse/client sends every setting
# system.settings lists); at its default such a setting changes nothing and is left out.
QUERY_ONLY_SETTINGS = {"run_query_in_background": "0"}


def _settable(settings: dict[str, str]) -> dict[str, str]:
    for name, default in QUERY_ONLY_SETTINGS.items():
        value = settings.pop(name, default)
        if value.strip().lower() not in (default, "false"):
            raise ClickHouseError(48, "NOT_IMPLEMENTED", f"{name}={value} cannot apply to a request on this server; "
                                  "put it in the statement's own SETTINGS clause")
    return settings


@contextlib.asynccontextmanager
async def request_connection(engine: Engine, sessions: Sessions, user: User, readonly: bool, opts,
                             settings: dict | None, params: dict, kind: str):
    """The request's engine connection: its session's (`session_id`), or one leased from the pool.

    Either way the request's database and settings hold for this request only.
    """
    session_id = params.get("session_id")
    # the reader's forced ones replace the client's; beneath both, a server's defaults where chdb's differ
    wanted = _settable({**SERVER_DEFAULTS, **(opts.settings if settings is None else settings)})
    if not session_id:
        pool = engine.pool
        lease, ready = pool.take_ready(readonly, opts.database, wanted)
        if not ready or lease is None:  # a new connection, or a USE / SET to run: blocking calls
            lease = await in_worker(pool.lease, readonly, opts.database, wanted, lease)
        held = Held(lease.conn, database=lease.database)
        try:
            yield held
        finally:
            if not pool.keep(lease, held.reusable):
                await in_worker(lease.conn.close)
        return
    timeout = session_timeout(params.get("session_timeout"))
    check = params.get("session_check") in ("1", "true")
    async with sessions.use(user.name, session_id, user.readonly, timeout, check) as session:
        # SET and USE change what the session keeps: they run on its kept state alone.
        persistent = kind in SESSION_STATE_KINDS
        database = session.database if persistent else (opts.database or session.database)
        state = (database, dict(session.settings) if persistent else {**session.settings, **wanted})
        if session.current != state:
            lease = Lease(session.conn, readonly, *session.current)
            session.current = ("?", {})  # unknown until the change is through
            await in_worker(engine.pool.apply, lease, *state)
            session.current = state
        held = Held(session.conn, database=state[0])
        try:
            yield held
        finally:
            if not held.reusable and not persistent and not await in_worker(engine.settled, session.conn):
                session.broken = True  # a failed or cancelled stream left output behind: the session ends
            if persistent:  # what the statement left (also when it failed half-way)
                try:
                    kept = await in_worker(engine.connection_state, session.conn)
                except ClickHouseError:
                    session.broken = True
                else:
                    session.database, session.settings = kept
                    session.current = kept
