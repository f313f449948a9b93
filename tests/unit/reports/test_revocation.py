"""The deny-list of logged-out tokens (a SQLite file in the state directory)."""

from bionicflow.config import Settings
from bionicflow.reports import revocation


def test_a_revoked_token_is_denied_and_others_are_not(tmp_path):
    settings = Settings(state_dir=tmp_path)
    assert not revocation.is_revoked(settings, "a")  # no list yet: nothing is revoked
    revocation.revoke(settings, "a", expires_at=2_000_000_000, now=1_900_000_000)
    assert revocation.is_revoked(settings, "a") and not revocation.is_revoked(settings, "b")
    assert revocation.is_revoked(Settings(state_dir=tmp_path), "a")  # another process sees it


def test_entries_past_their_tokens_expiry_are_forgotten(tmp_path):
    settings = Settings(state_dir=tmp_path)
    revocation.revoke(settings, "old", expires_at=100, now=50)
    revocation.revoke(settings, "new", expires_at=300, now=200)  # "old" expired at 100: dropped
    assert not revocation.is_revoked(settings, "old") and revocation.is_revoked(settings, "new")
