"""Token verification: a token checked once is not signature-checked again, but expiry and
revocation are checked on every use, and a check by one key says nothing of another."""

import time

import jwt
import pytest

from bionicflow.config import Settings
from bionicflow.reports import auth


@pytest.fixture
def settings(tmp_path):
    return Settings(state_dir=tmp_path)


def _no_signature_check(*_args, **_kwargs):
    raise AssertionError("the signature was checked again")


def test_a_token_verified_once_is_not_signature_checked_again(settings, monkeypatch):
    token = auth.issue_dev_token(settings, "customer1")
    first = auth.verify(settings, token)
    monkeypatch.setattr(jwt, "decode", _no_signature_check)
    assert auth.verify(settings, token) == first == auth.verified_before(settings, token)
    assert auth.verified_before(settings, auth.issue_dev_token(settings, "analyst")) is None


def test_a_remembered_token_still_expires(settings, monkeypatch):
    token = auth.issue_dev_token(settings, "analyst", ttl_seconds=60)
    caller = auth.verify(settings, token)
    later = caller.expires_at + auth.LEEWAY_SECONDS + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(auth.AuthError) as refused:
        auth.verify(settings, token)
    assert refused.value.kind == "expired"


def test_a_remembered_token_is_refused_once_revoked(settings):
    token = auth.issue_dev_token(settings, "customer1")
    auth.verify(settings, token)
    auth.revoke(settings, token)
    with pytest.raises(auth.AuthError) as refused:
        auth.verify(settings, token)
    assert refused.value.kind == "revoked"


def test_a_token_checked_against_one_dev_key_is_checked_again_against_another(tmp_path):
    first, second = Settings(state_dir=tmp_path / "a"), Settings(state_dir=tmp_path / "b")
    token = auth.issue_dev_token(first, "analyst")
    auth.verify(first, token)
    assert auth.verified_before(second, token) is None
    with pytest.raises(auth.AuthError, match="invalid token"):
        auth.verify(second, token)


def test_the_remembered_tokens_are_bounded(settings, monkeypatch):
    monkeypatch.setattr(auth, "VERIFIED_TOKENS_KEPT", 3)
    tokens = [auth.issue_dev_token(settings, "analyst", now=time.time() + i) for i in range(5)]
    for token in tokens:
        auth.verify(settings, token)
    assert [auth.verified_before(settings, t) is not None for t in tokens] == [False, False, True, True, True]
