"""Bearer-token authentication for reports: OIDC JWT verification and an embedded dev issuer.

Production: set ``BIONICFLOW_REPORTS_OIDC_ISSUER``; tokens are verified against the keys
the issuer publishes (discovery document -> JWKS), with issuer and audience checked.
Embedded stack (no issuer set): reports_api is its own development issuer, signing RS256
tokens with a key kept in the state directory; `bionicflow token --user customer1` and the
web login use it. Either way the token carries the reader's role and, for a customer, the
one user_uuid they may read, and a unique `jti`: logging out revokes that identity.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bionicflow.kernel.config import Settings
from bionicflow.reports import revocation
from bionicflow.reports.accounts import ACCOUNTS, ANALYST, CUSTOMER, ROLES, Account, LoginFailed, authenticate
from bionicflow.kernel.errors import ConfigurationError
from bionicflow.reports.texts import N_, TranslatableError

# What an OIDC issuer's keys may sign with; a token must name the algorithm of the very key that
# checks it (an ES256 header on an RSA key, HS256 with the public key as its secret: refused).
ALGORITHMS = ("RS256", "ES256")
DEV_ALGORITHM = "RS256"
DEV_KEY_ID = "bionicflow-dev-1"
# A compact JWS as issuers write it: three unpadded base64url segments. Anything else (padding,
# whitespace, a fourth part) is refused before any parsing.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
TOKEN_CHARS_MAX = 16_384
EXPIRES_AT_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z: an `exp` beyond is kept as this (SQLite integers)


class AuthError(TranslatableError):
    """The request carries no valid token (HTTP 401).

    ``kind`` says why, for the page to tell the reader: missing, expired, revoked or invalid.
    A page shows only the log-in's messages (marked for translation); a token's are the API's.
    """

    def __init__(self, message: str, kind: str = "invalid", **params):
        super().__init__(message, **params)
        self.kind = kind


class ForbiddenError(TranslatableError):
    """The token is valid but does not allow this (HTTP 403); the page translates its message."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    user_uuid: str | None
    expires_at: int = 0  # the token's `exp` (epoch seconds)
    token_id: str = ""  # the token's `jti`: what logging out revokes

    @property
    def may_generate(self) -> bool:
        """Whether the caller may generate demo data: any logged-in customer or analyst (docs/reports.md)."""
        return bool(self.roles & ROLES)

    @property
    def is_analyst(self) -> bool:
        return ANALYST in self.roles

    def require_user(self, user_uuid: str) -> None:
        if self.is_analyst or (CUSTOMER in self.roles and self.user_uuid == user_uuid):
            return
        if self.user_uuid:
            raise ForbiddenError(N_("%(subject)s may read only their own report (user_uuid %(user_uuid)s)"),
                                 subject=self.subject, user_uuid=self.user_uuid)
        raise ForbiddenError(N_("%(subject)s may read only their own report"), subject=self.subject)

    def require_analyst(self) -> None:
        if not self.is_analyst:
            raise ForbiddenError(N_("%(subject)s is not an analyst: only analysts read reports across users"),
                                 subject=self.subject)

    def require_generator(self) -> None:
        if not self.may_generate:
            raise ForbiddenError(N_("%(subject)s has neither role %(customer)s nor %(analyst)s: only they may "
                                    "generate demo data"), subject=self.subject, customer=CUSTOMER, analyst=ANALYST)


def dev_issuer_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.reports_api_port}/dev-issuer"


def issuer_url(settings: Settings) -> str:
    return settings.reports_oidc_issuer or dev_issuer_url(settings)


def _dev_key_path(settings: Settings) -> Path:
    return settings.secrets_dir / "dev_issuer_key.pem"


def dev_private_key(settings: Settings) -> rsa.RSAPrivateKey:
    """The development issuer's signing key, created (mode 0600) on first use.

    Loaded once per file: loading validates the RSA key, which costs ~80 ms — per request, that
    was most of a report's latency (bench/reports_latency.py).
    """
    path = _dev_key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    return _load_key(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_key(path: str, _mtime_ns: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{path}: not an RSA private key (the development issuer signs with {DEV_ALGORITHM})")
    return key


def dev_jwks(settings: Settings) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(dev_private_key(settings).public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": DEV_KEY_ID, "use": "sig", "alg": "RS256"}]}


def issue_dev_token(settings: Settings, username: str, password: str | None = None,
                    ttl_seconds: int | None = None, now: float | None = None) -> str:
    """Sign a token for a demo account; checks the password when one is given (web login, password grant).

    With a password, an unknown name and a wrong password get the same error after the same work;
    without one (`bionicflow token`, run by whoever holds the state directory) the error lists the accounts.
    """
    if settings.reports_oidc_issuer:
        raise AuthError(N_("the development issuer is off because BIONICFLOW_REPORTS_OIDC_ISSUER is set: "
                           "get tokens from that issuer"))
    account: Account | None
    if password is not None:
        try:
            account = authenticate(username, password)
        except LoginFailed as exc:
            raise AuthError(str(exc), kind="login") from None
    elif (account := ACCOUNTS.get(username)) is None:
        raise AuthError(N_("unknown user %(username)r: the demo accounts are %(accounts)s"), username=username,
                        accounts=", ".join(ACCOUNTS))
    issued = int(now if now is not None else time.time())
    # jti: two logins in the same second would otherwise get the same token (RS256 signatures are
    # deterministic), and logging one out would end the other
    claims = {"iss": dev_issuer_url(settings), "sub": username, "aud": settings.reports_oidc_audience,
              "jti": uuid.uuid4().hex, "iat": issued,
              "exp": issued + (ttl_seconds or settings.reports_token_ttl_seconds),
              settings.reports_roles_claim: [account.role]}
    if account.user_uuid:
        claims[settings.reports_uuid_claim] = account.user_uuid
    return jwt.encode(claims, dev_private_key(settings), algorithm=DEV_ALGORITHM, headers={"kid": DEV_KEY_ID})


@lru_cache(maxsize=4)
def _jwks_client(issuer: str) -> jwt.PyJWKClient:
    import requests

    discovery = requests.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10)
    discovery.raise_for_status()
    return jwt.PyJWKClient(discovery.json()["jwks_uri"], cache_keys=True, lifespan=3600)


def _header(token: str) -> dict:
    """The token's header, read before anything is checked: a compact JWS of a sane size."""
    if len(token) > TOKEN_CHARS_MAX or not TOKEN_SHAPE.fullmatch(token):
        raise AuthError("invalid token: not a compact JWT (three base64url segments without padding)")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None


def _verification_key(settings: Settings, header: dict):
    """The key that checks the token and the one algorithm the token may then be signed with."""
    if not settings.reports_oidc_issuer:
        key, algorithm = dev_private_key(settings).public_key(), DEV_ALGORITHM
    else:
        try:
            jwk = _jwks_client(settings.reports_oidc_issuer).get_signing_key(str(header.get("kid", "")))
        except (jwt.PyJWKClientError, jwt.PyJWTError, OSError, KeyError, ValueError) as exc:
            raise AuthError(f"cannot get the signing key of this token from {settings.reports_oidc_issuer}: "
                            f"{exc}") from None
        key, algorithm = jwk.key, jwk.algorithm_name
        if algorithm not in ALGORITHMS:
            raise AuthError(f"invalid token: its key signs with {algorithm}; reports_api accepts "
                            f"{', '.join(ALGORITHMS)}")
    if header.get("alg") != algorithm:
        raise AuthError(f"invalid token: signed with {header.get('alg')!r}, but its issuer's key signs with "
                        f"{algorithm}")
    return key, algorithm


LEEWAY_SECONDS = 30
VERIFIED_TOKENS_KEPT = 4096
# Tokens whose signature, issuer and audience this process has already checked, by who checked
# them: a request with one skips the signature check (the service's largest own cost per report
# after the query). Expiry and revocation are still checked on every request.
_verified: OrderedDict[tuple[str, ...], Principal] = OrderedDict()
_verified_lock = threading.Lock()


def _verified_key(settings: Settings, token: str) -> tuple[str, ...]:
    # the dev issuer's key lives in the state dir: a token checked against one key says nothing of another
    signer = settings.reports_oidc_issuer or str(_dev_key_path(settings))
    return token, signer, issuer_url(settings), settings.reports_oidc_audience


def _still_valid(settings: Settings, token: str, caller: Principal) -> Principal:
    if caller.expires_at + LEEWAY_SECONDS < time.time():
        raise AuthError("the token has expired: get a new one", kind="expired")
    if revocation.is_revoked(settings, caller.token_id, token):
        raise AuthError("the token was revoked (its session logged out): get a new one", kind="revoked")
    return caller


def verified_before(settings: Settings, token: str) -> Principal | None:
    """The principal of a token this process verified earlier (expiry and revocation checked
    again); None when it has to be verified. Never touches the network."""
    with _verified_lock:
        caller = _verified.get(_verified_key(settings, token)) if token else None
    return _still_valid(settings, token, caller) if caller else None


def verify(settings: Settings, token: str) -> Principal:
    """The principal of a bearer token; AuthError when it is missing, expired or not ours."""
    if not token:
        raise AuthError("missing bearer token: send `Authorization: Bearer <token>` "
                        "(embedded stack: `bionicflow token --user customer1`)", kind="missing")
    caller = verified_before(settings, token)
    if caller:
        return caller
    key, algorithm = _verification_key(settings, _header(token))
    caller = _still_valid(settings, token, _principal(settings, _claims(settings, token, key, algorithm)))
    with _verified_lock:
        _verified[_verified_key(settings, token)] = caller
        while len(_verified) > VERIFIED_TOKENS_KEPT:
            _verified.popitem(last=False)
    return caller


def _claims(settings: Settings, token: str, key, algorithm: str) -> dict:
    """The token's claims once its signature, expiry, issuer and audience hold; it must carry a jti."""
    try:
        return jwt.decode(token, key, algorithms=[algorithm], audience=settings.reports_oidc_audience,
                          issuer=issuer_url(settings), options={"require": ["exp", "iss", "sub", "jti"]},
                          leeway=LEEWAY_SECONDS)
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired: get a new one", kind="expired") from None
    except jwt.InvalidIssuerError:
        raise AuthError(f"the token was not issued by {issuer_url(settings)}") from None
    except jwt.MissingRequiredClaimError as exc:
        hint = ": logging out revokes a token by it, so the issuer must set one" if exc.claim == "jti" else ""
        raise AuthError(f"invalid token: it has no `{exc.claim}` claim{hint}") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None


def _principal(settings: Settings, claims: dict) -> Principal:
    """The caller the claims name; AuthError when a claim reports_api reads has the wrong shape."""
    roles = claims.get(settings.reports_roles_claim) or []
    roles = [roles] if isinstance(roles, str) else roles
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError(f"invalid token: the `{settings.reports_roles_claim}` claim must be a role name or a list "
                        "of them")
    user_uuid = claims.get(settings.reports_uuid_claim)
    if user_uuid is not None:
        try:  # canonical form: it is compared with the user_uuid a request names
            user_uuid = str(uuid.UUID(user_uuid))
        except (TypeError, ValueError, AttributeError):
            raise AuthError(f"invalid token: the `{settings.reports_uuid_claim}` claim must be a UUID") from None
    if not claims["jti"]:
        raise AuthError("invalid token: its `jti` claim is empty")
    return Principal(claims["sub"], frozenset(roles), user_uuid, min(int(claims["exp"]), EXPIRES_AT_MAX),
                     claims["jti"])


def revoke(settings: Settings, token: str) -> Principal:
    """Log a token out: refused from now on until it expires. Only a valid token can be revoked."""
    caller = verify(settings, token)
    end_session(settings, caller)
    return caller


def end_session(settings: Settings, caller: Principal) -> None:
    """Revoke the caller's token by its identity (`jti`): every spelling of the same token is refused."""
    revocation.revoke(settings, caller.token_id, caller.expires_at)
