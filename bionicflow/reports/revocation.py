"""Tokens revoked before they expire: logging out ends the session on the server, not only in the browser.

A deny-list keyed by the SHA-256 of the token (so it works for any issuer's tokens, with or
without a `jti`), kept until the token would have expired anyway. It lives in a SQLite file
in the state directory: every reports_api process on the host sees a logout at once, and it
survives a restart. SQLite (standard library) because the list is tiny, written once per
logout and read once per request (a primary-key lookup, microseconds).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from bionicflow.config import Settings

SCHEMA = "CREATE TABLE IF NOT EXISTS revoked (token_sha256 TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)"
REVOKE_SQL = "INSERT OR REPLACE INTO revoked (token_sha256, expires_at) VALUES (?, ?)"
IS_REVOKED_SQL = "SELECT 1 FROM revoked WHERE token_sha256 = ?"
FORGET_EXPIRED_SQL = "DELETE FROM revoked WHERE expires_at < ?"


def deny_list_path(settings: Settings) -> Path:
    return settings.state_dir / "reports" / "revoked_tokens.sqlite"


def _connect(settings: Settings) -> sqlite3.Connection:
    path = deny_list_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)  # autocommit; waits out a concurrent writer
    conn.execute(SCHEMA)
    return conn


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke(settings: Settings, token: str, expires_at: int, now: float | None = None) -> None:
    """Deny ``token`` until ``expires_at`` (epoch seconds); entries already past expiry are dropped."""
    conn = _connect(settings)
    try:
        conn.execute(REVOKE_SQL, (_digest(token), int(expires_at)))
        conn.execute(FORGET_EXPIRED_SQL, (int(now if now is not None else time.time()),))
    finally:
        conn.close()


def is_revoked(settings: Settings, token: str) -> bool:
    if not deny_list_path(settings).exists():
        return False
    conn = _connect(settings)
    try:
        return conn.execute(IS_REVOKED_SQL, (_digest(token),)).fetchone() is not None
    finally:
        conn.close()
