"""Cross-site request forgery: a state-changing request a browser sends with the login cookie must
come from reports_api's own pages, and a form must carry the token its page was given.

Two layers, because either alone has gaps: the origin check (``SameOriginOnly``) refuses what a
browser marks as sent from elsewhere (`Origin`, else `Referer`, and `Sec-Fetch-Site`), but
older browsers and some privacy settings send none of them; the token (signed with a key of
this installation, bound to the session's `jti`, or before log-in to a random cookie) cannot be
read by another site at all. Requests with `Authorization: Bearer` are not checked: a browser
never adds that header to a request another site makes it send.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse

from bionicflow.kernel.config import Settings, get_settings
from bionicflow.reports.auth import Principal
from bionicflow.reports.texts import N_, TranslatableError

FIELD = "csrf_token"  # the hidden field of every form that posts
HEADER = "X-CSRF-Token"  # the same token for a script's request (POST /auth/logout with the cookie)
LOGIN_COOKIE = "bionicflow_login"  # the random value the login form's token is bound to
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})  # same-site: another port or subdomain
DEFAULT_PORTS = {"http": 80, "https": 443}


class CsrfError(TranslatableError):
    """A form post without the token of its page (HTTP 403); the page translates its message."""


def _key(settings: Settings) -> bytes:
    """This installation's CSRF key, created (mode 0600) in the secrets directory on first use."""
    path = settings.secrets_dir / "csrf_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".csrf_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        try:  # a link appears whole or not at all: a process starting at the same time reads one key
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return _read_key(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read_key(path: str, _mtime_ns: int) -> bytes:
    return Path(path).read_bytes()


def _sign(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(_key(settings), f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()


def session_token(settings: Settings, caller: Principal) -> str:
    """The token the forms of a logged-in page carry: bound to the session (its jti), so it ends with it."""
    return _sign(settings, "session", caller.token_id)


def login_token(settings: Settings, nonce: str) -> str:
    """The login form's token, bound to the random ``LOGIN_COOKIE`` its page set."""
    return _sign(settings, "login", nonce)


def new_login_nonce() -> str:
    return secrets.token_urlsafe(32)


def check(expected: str, sent: str | None) -> None:
    """CsrfError unless ``sent`` is the expected token (compared in constant time)."""
    if not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfError(N_("the form was not sent by this page (its security token is missing or stale): "
                           "reload the page and try again"))


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, the default port left out; None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    shown = "" if port in (None, DEFAULT_PORTS.get(parts.scheme.lower())) else f":{port}"
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{shown}"


def own_origins(request: Request, public_url: str | None) -> set[str]:
    """The origins of reports_api's own pages: the address the request was sent to, and the public one."""
    origins = {_origin(f"{request.url.scheme}://{request.url.netloc}")}
    if public_url:
        origins.add(_origin(public_url))
    return {origin for origin in origins if origin is not None}


def foreign_source(headers: Headers, own: set[str]) -> str | None:
    """Where a request comes from when the browser says it is not one of ``own``; None when it may be ours."""
    site = headers.get("sec-fetch-site", "").lower()
    if site in FOREIGN_FETCH_SITES:
        return f"a {site} page (Sec-Fetch-Site: {site})"
    sender = headers.get("origin") or headers.get("referer")
    if sender is None:
        return None  # no browser said otherwise (a script, an old browser): the form token decides
    origin = _origin(sender) or sender.strip()[:100]  # `Origin: null` (sandboxed frames, file:) is foreign
    return None if origin in own else origin


class SameOriginOnly:
    """Refuses (403) a state-changing request without a bearer token that a browser says comes from another site.

    A plain ASGI middleware: it looks only at unsafe methods, so the report routes pay nothing.
    """

    def __init__(self, app, public_url=lambda: get_settings().reports_public_url):
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            return await self.app(scope, receive, send)
        request = Request(scope)
        if "authorization" not in request.headers:
            source = foreign_source(request.headers, own_origins(request, self.public_url()))
            if source:
                refused = JSONResponse({"detail": f"cross-site request refused: it was sent from {source}, not from "
                                                  "reports_api's own pages; open the page and send the form from "
                                                  "there", "errors": []}, status_code=403)
                return await refused(scope, receive, send)
        await self.app(scope, receive, send)
