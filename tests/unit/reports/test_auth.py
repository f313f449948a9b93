"""Token verification: a token checked once is not signature-checked again, but expiry and
revocation are checked on every use, and a check by one key says nothing of another; a token is
revoked by its identity; an OIDC issuer's token must be signed with the algorithm of its key."""

import hashlib
import hmac
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bionicflow.kernel.config import Settings
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


def test_logging_out_revokes_the_tokens_identity_not_its_text(settings):
    token = auth.issue_dev_token(settings, "customer1")
    claims = jwt.decode(token, options={"verify_signature": False})
    auth.revoke(settings, token)
    same_identity = jwt.encode({**claims, "iat": claims["iat"] + 1}, auth.dev_private_key(settings), algorithm="RS256")
    for spelling, kind in ((token, "revoked"), (token + "==", "invalid"), (same_identity, "revoked")):
        with pytest.raises(auth.AuthError) as refused:
            auth.verify(settings, spelling)
        assert refused.value.kind == kind, spelling[-6:]


def test_a_password_is_checked_the_same_way_for_every_name(settings):
    messages = set()
    for username, password in (("customer1", "wrong"), ("nobody", "wrong"), ("nobody", "customer1_password")):
        with pytest.raises(auth.AuthError) as refused:
            auth.issue_dev_token(settings, username, password)
        messages.add((str(refused.value), refused.value.kind))
    assert messages == {("wrong user name or password", "login")}
    with pytest.raises(auth.AuthError, match="the demo accounts are customer1"):  # the CLI, run by the operator
        auth.issue_dev_token(settings, "nobody")


# --- an OIDC issuer: the token must be signed with the algorithm of the key its `kid` names ------------

class Issuer(BaseHTTPRequestHandler):
    """An OIDC issuer's discovery document and JWKS, over HTTP on a local port."""

    documents: dict[str, dict] = {}

    def do_GET(self):  # noqa: N802 (http.server's names)
        body = json.dumps(self.documents.get(self.path, {})).encode()
        self.send_response(200 if self.path in self.documents else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def oidc(tmp_path):
    """An issuer publishing an RSA (RS256), an EC (ES256), an RS512 and a shared-secret key; its settings and keys."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    keys = {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec": ec.generate_private_key(ec.SECP256R1()), "rs512": rsa.generate_private_key(public_exponent=65537,
                                                                                          key_size=2048)}
    jwks = [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["rsa"].public_key())), "kid": "rsa", "alg": "RS256"},
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["ec"].public_key())), "kid": "ec", "alg": "ES256"},
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["rs512"].public_key())), "kid": "rs512",
             "alg": "RS512"},
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "hmac"}]
    Issuer.documents = {"/.well-known/openid-configuration": {"issuer": base, "jwks_uri": f"{base}/jwks.json"},
                        "/jwks.json": {"keys": jwks}}
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    settings = Settings(state_dir=tmp_path, reports_oidc_issuer=base)
    claims = {"iss": base, "sub": "someone", "aud": settings.reports_oidc_audience, "exp": int(time.time()) + 600,
              "jti": "oidc-1", "roles": ["analyst"]}
    yield settings, keys, claims
    server.shutdown()
    server.server_close()


def test_an_oidc_token_signed_as_its_key_says_is_accepted(oidc):
    settings, keys, claims = oidc
    for kid, algorithm in (("rsa", "RS256"), ("ec", "ES256")):
        token = jwt.encode({**claims, "jti": kid}, keys[kid], algorithm=algorithm, headers={"kid": kid})
        assert auth.verify(settings, token).is_analyst


def test_an_oidc_token_with_another_algorithm_than_its_keys_is_refused(oidc):
    settings, keys, claims = oidc
    rsa_pem = keys["rsa"].public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = {
        "ES256 naming the RSA key": (jwt.encode(claims, keys["ec"], algorithm="ES256", headers={"kid": "rsa"}),
                                     "signed with 'ES256'"),
        "RS256 naming the EC key": (jwt.encode(claims, keys["rsa"], algorithm="RS256", headers={"kid": "ec"}),
                                    "signed with 'RS256'"),
        "HS256 keyed with the RSA key": (_hs256(claims, rsa_pem, kid="rsa"), "signed with 'HS256'"),
        "the shared-secret key": (jwt.encode(claims, b"secret-secret-secret-secret-secret", algorithm="HS256",
                                             headers={"kid": "hmac"}), "its key signs with HS256"),
        "a key for RS512": (jwt.encode(claims, keys["rs512"], algorithm="RS512", headers={"kid": "rs512"}),
                            "its key signs with RS512"),
        "an unknown kid": (jwt.encode(claims, keys["rsa"], algorithm="RS256", headers={"kid": "other"}),
                           "cannot get the signing key"),
        "no kid": (jwt.encode(claims, keys["rsa"], algorithm="RS256"), "cannot get the signing key"),
        "no jti": (jwt.encode({k: v for k, v in claims.items() if k != "jti"}, keys["rsa"], algorithm="RS256",
                              headers={"kid": "rsa"}), "no `jti` claim"),
    }
    for name, (token, message) in forged.items():
        with pytest.raises(auth.AuthError, match=re.escape(message)):
            auth.verify(settings, token)


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    """An HS256 token keyed with ``secret`` (PyJWT refuses a PEM key as an HMAC secret: written by hand)."""
    def b64(data: bytes) -> str:
        return jwt.api_jws.base64url_encode(data).decode()

    signing_input = b64(json.dumps({"alg": "HS256", "kid": kid}).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
