"""Tokens revoked before they expire: logging out ends the session on the server, not only in the browser.

A deny-list keyed by the token's identity, its `jti` claim, kept until the token would have
expired anyway. Not by the token's text: the same signed token has many spellings (base64url
padding, the unused low bits of the signature's last character) that all verify, so a list of
texts is walked around by appending `=`. It lives in a SQLite file in the state directory:
every reports_api process on the host sees a logout at once, and it survives a restart. SQLite
(standard library) because the list is tiny, written once per logout and read once per request
(a primary-key lookup, microseconds).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from bionicflow.kernel.config import Settings

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS revoked_ids (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
    # Written by versions that keyed the list by the token's text: still read until its entries
    # expire (they are dropped then), so an upgrade does not bring logged-out sessions back.
    "CREATE TABLE IF NOT EXISTS revoked (token_sha256 TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
)
REVOKE_SQL = "INSERT OR REPLACE INTO revoked_ids (jti, expires_at) VALUES (?, ?)"
IS_REVOKED_SQL = ("SELECT 1 FROM revoked_ids WHERE jti = ? "
                  "UNION ALL SELECT 1 FROM revoked WHERE token_sha256 = ? LIMIT 1")
FORGET_EXPIRED_SQL = ("DELETE FROM revoked_ids WHERE expires_at < ?", "DELETE FROM revoked WHERE expires_at < ?")


def deny_list_path(settings: Settings) -> Path:
    return settings.state_dir / "reports" / "revoked_tokens.sqlite"


def _connect(settings: Settings) -> sqlite3.Connection:
    path = deny_list_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)  # autocommit; waits out a concurrent writer
    for statement in SCHEMA:
        conn.execute(statement)
    return conn


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke(settings: Settings, jti: str, expires_at: int, now: float | None = None) -> None:
    """Deny the token ``jti`` until ``expires_at`` (epoch seconds); entries already past expiry are dropped."""
    if not jti:
        raise ValueError("a token is revoked by its jti claim, and this one has none")
    conn = _connect(settings)
    try:
        conn.execute(REVOKE_SQL, (jti, int(expires_at)))
        for statement in FORGET_EXPIRED_SQL:
            conn.execute(statement, (int(now if now is not None else time.time()),))
    finally:
        conn.close()


def is_revoked(settings: Settings, jti: str, token: str = "") -> bool:
    """Whether the token ``jti`` was logged out (``token``, its text, only for entries of earlier versions)."""
    if not deny_list_path(settings).exists():
        return False
    conn = _connect(settings)
    try:
        return conn.execute(IS_REVOKED_SQL, (jti, _digest(token))).fetchone() is not None
    finally:
        conn.close()
