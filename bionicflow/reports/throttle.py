"""Failed log-ins slow the next ones down: per account and per client address, in this process.

After ``limit`` failures of a key (an account name, a client address) within ``WINDOW_SECONDS``
of each other, the key is refused for ``FIRST_LOCK_SECONDS``, doubling with every further
failure up to ``LONGEST_LOCK_SECONDS``. A refused attempt is not checked (its password is never
compared, so it tells nothing) and not counted. A successful log-in forgets the account's
failures; the address's failures are kept until the window passes, so someone holding one
account cannot log into it now and then to keep guessing the others' passwords from the same
address. In-process: reports_api runs as one process (one uvicorn worker); docs/reports.md,
"Security", says what to do with more.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

ACCOUNT = "account"
ADDRESS = "address"
# An address may be shared (an office behind one NAT): it gets more tries than one account.
LIMITS = {ACCOUNT: 5, ADDRESS: 20}
WINDOW_SECONDS = 15 * 60
FIRST_LOCK_SECONDS = 30
LONGEST_LOCK_SECONDS = 15 * 60
KEYS_KEPT = 100_000  # a bound on memory when names are sprayed; the oldest records go first
NAME_CHARS_KEPT = 256

Key = tuple[str, str]


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed log-ins per key and says how long a key must wait."""

    def __init__(self) -> None:
        self._records: OrderedDict[Key, _Record] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str) -> list[Key]:
        """The keys one log-in attempt counts against."""
        return [(ACCOUNT, username[:NAME_CHARS_KEPT]), (ADDRESS, address)]

    def retry_after(self, keys: list[Key], now: float | None = None) -> int:
        """Whole seconds until every key may try again (0: now)."""
        now = time.time() if now is None else now
        with self._lock:
            waits = [record.locked_until - now for key in keys if (record := self._records.get(key))]
        return max([0, *(int(wait) + 1 for wait in waits if wait > 0)])

    def failed(self, keys: list[Key], now: float | None = None) -> None:
        """Count a failed log-in against ``keys``; a key past its limit is locked for longer each time."""
        now = time.time() if now is None else now
        with self._lock:
            for kind, value in keys:
                record = self._record((kind, value), now)
                record.failures += 1
                record.last_failure = now
                over = record.failures - LIMITS[kind]
                if over >= 0:
                    record.locked_until = now + min(FIRST_LOCK_SECONDS * 2 ** min(over, 32), LONGEST_LOCK_SECONDS)

    def succeeded(self, key: Key) -> None:
        """Forget a key's failures (the account that just logged in)."""
        with self._lock:
            self._records.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, key: Key, now: float) -> _Record:
        record = self._records.pop(key, None)
        if record is None or now - record.last_failure > WINDOW_SECONDS:
            record = _Record()  # failures this far apart are not an attack on this key: start again
        self._records[key] = record  # newest last: the oldest are dropped first
        while len(self._records) > KEYS_KEPT:
            self._records.popitem(last=False)
        return record
