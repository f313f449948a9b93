"""The deny-list of logged-out tokens (a SQLite file in the state directory), keyed by the tokens' jti."""

import hashlib
import sqlite3

import pytest

from bionicflow.kernel.config import Settings
from bionicflow.reports import revocation


def test_a_revoked_token_is_denied_and_others_are_not(tmp_path):
    settings = Settings(state_dir=tmp_path)
    assert not revocation.is_revoked(settings, "jti-a")  # no list yet: nothing is revoked
    revocation.revoke(settings, "jti-a", expires_at=2_000_000_000, now=1_900_000_000)
    assert revocation.is_revoked(settings, "jti-a") and not revocation.is_revoked(settings, "jti-b")
    assert revocation.is_revoked(Settings(state_dir=tmp_path), "jti-a")  # another process sees it


def test_entries_past_their_tokens_expiry_are_forgotten(tmp_path):
    settings = Settings(state_dir=tmp_path)
    revocation.revoke(settings, "old", expires_at=100, now=50)
    revocation.revoke(settings, "new", expires_at=300, now=200)  # "old" expired at 100: dropped
    assert not revocation.is_revoked(settings, "old") and revocation.is_revoked(settings, "new")


def test_a_token_without_an_identity_cannot_be_listed(tmp_path):
    with pytest.raises(ValueError, match="jti"):
        revocation.revoke(Settings(state_dir=tmp_path), "", expires_at=2_000_000_000)


def test_logouts_recorded_by_text_before_the_upgrade_still_hold_until_they_expire(tmp_path):
    settings = Settings(state_dir=tmp_path)
    path = revocation.deny_list_path(settings)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as earlier:  # the list as the version keyed by the token's SHA-256 left it
        earlier.execute("CREATE TABLE revoked (token_sha256 TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)")
        earlier.execute("INSERT INTO revoked VALUES (?, ?)", (hashlib.sha256(b"old.token.text").hexdigest(), 500))
    assert revocation.is_revoked(settings, "any-jti", "old.token.text")
    assert not revocation.is_revoked(settings, "any-jti", "another.token.text")
    revocation.revoke(settings, "new", expires_at=2_000, now=1_000)  # past 500: the old entry is dropped
    assert not revocation.is_revoked(settings, "any-jti", "old.token.text")
