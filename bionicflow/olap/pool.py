"""Engine connections reused between requests without one client's settings reaching another's.

Opening a chdb connection costs ~2 ms and applying a request's settings one more round trip,
a large share of a point read. A pooled connection remembers the database and settings it
holds; the next request changes only what differs and resets (`= DEFAULT`) what it did not
ask for. Only connections whose statement could not change anything else come back: a read
or a streamed INSERT. After `SET`, `USE`, DDL (temporary tables) or a cancelled query the
connection is closed, never handed on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bionicflow.olap.protocol import quote_identifier, quote_string

IDLE_PER_KIND = 16  # as many as queries may run at once


@dataclass
class Lease:
    """One connection as a request holds it: what it is set to now."""

    conn: Any  # an engine (chdb) connection
    readonly: bool
    database: str = "default"
    settings: dict[str, str] = field(default_factory=dict)


def _changes(lease: Lease, database: str, settings: dict[str, str]) -> list[str]:
    """The statements that bring a leased connection to the request's database and settings."""
    out = []
    if database != lease.database:
        out.append(f"USE {quote_identifier(database)}")
    assignments = [f"{name} = {quote_string(value)}" for name, value in settings.items()
                   if lease.settings.get(name) != value]
    assignments += [f"{name} = DEFAULT" for name in lease.settings if name not in settings]
    if assignments:  # one SET for all: each statement costs a round trip into the engine
        out.append("SET " + ", ".join(assignments))
    return out


class ConnectionPool:
    """Idle connections by kind (read-only or not); `open(readonly)` makes a new one."""

    def __init__(self, open_connection: Callable[[bool], object], run: Callable[[object, str], object],
                 idle_per_kind: int = IDLE_PER_KIND):
        self._open = open_connection
        self._run = run
        self._size = idle_per_kind
        self._idle: dict[bool, list[Lease]] = {True: [], False: []}
        self._lock = threading.Lock()

    def take_ready(self, readonly: bool, database: str | None, settings: dict[str, str]) -> tuple[Lease | None, bool]:
        """An idle connection without blocking, and whether it is already set as asked (then nothing runs).

        The server calls it on its event loop: a request that finds a connection set as it
        needs (every read of a client that repeats its settings) skips two worker-thread hops.
        """
        with self._lock:
            lease = self._idle[readonly].pop() if self._idle[readonly] else None
        return lease, lease is not None and lease.database == (database or "default") and lease.settings == settings

    def lease(self, readonly: bool, database: str | None, settings: dict[str, str],
              taken: Lease | None = None) -> Lease:
        """A connection set to ``database`` and exactly ``settings`` (blocking: run it in a worker thread).

        ``taken``: an idle one already taken with ``take_ready``.
        """
        lease = taken
        if lease is None:
            with self._lock:
                lease = self._idle[readonly].pop() if self._idle[readonly] else None
        if lease is None:
            lease = Lease(self._open(readonly), readonly)
        try:
            self.apply(lease, database or "default", settings)
        except BaseException:
            lease.conn.close()
            raise
        return lease

    def apply(self, lease: Lease, database: str, settings: dict[str, str]) -> None:
        for statement in _changes(lease, database, settings):
            self._run(lease.conn, statement)
        lease.database, lease.settings = database, dict(settings)

    def keep(self, lease: Lease, reusable: bool) -> bool:
        """Back to the idle list if nothing but the tracked state can have changed (never blocks); False: close it."""
        if reusable:
            with self._lock:
                if len(self._idle[lease.readonly]) < self._size:
                    self._idle[lease.readonly].append(lease)
                    return True
        return False

    def release(self, lease: Lease, reusable: bool) -> None:
        """Back to the idle list if nothing but the tracked state can have changed; closed otherwise."""
        if not self.keep(lease, reusable):
            lease.conn.close()

    def close_all(self) -> None:
        with self._lock:
            idle = self._idle[True] + self._idle[False]
            self._idle = {True: [], False: []}
        for lease in idle:
            lease.conn.close()
