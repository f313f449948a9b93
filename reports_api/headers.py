"""Security headers: what a browser may do with reports_api's answers.

Every answer, whatever its status (a 303 to the login, a 401, a 422 page alike):
`X-Content-Type-Options: nosniff` (a CSV or JSON answer is never run as a page or script),
`X-Frame-Options: DENY`, `Referrer-Policy: same-origin`, and — but for the static scripts and
styles, the same for everyone — `Cache-Control: no-store`: pages, reports and redirects may hold
personal data and the forms' tokens, so "Back" after logging out asks the server again (and is
sent to the login) instead of showing the last reader's report from the browser's cache. Every
page (an HTML answer) also gets a Content-Security-Policy that runs only reports_api's own script
files — no inline script, no `eval`, nothing from elsewhere — and lets no other site frame it
(`frame-ancestors 'none'`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.datastructures import MutableHeaders


# The report pages: scripts only from files reports_api serves (/static/…). Styles may be inline:
# the templates' style attributes and the chart library's tooltip styles, which it adds at run
# time; a style cannot run code.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The API docs (Swagger UI, ReDoc) load their assets from here and nothing from elsewhere (ReDoc's
# bundle is served with its CDN logo link taken out: reports_api.main.redoc_bundle). Swagger UI's page
# starts it with an inline script FastAPI writes: allowed by its hash, and only it.
DOCS_POLICY = ("default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; worker-src 'self' blob:; font-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
# Static assets are the same for everyone and are cached by their own headers.
SHARED_PREFIXES = ("/static/", "/static-offline-docs/")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (`'sha256-…'`) of the inline scripts of a page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
            for body in INLINE_SCRIPT.findall(html)]


@lru_cache(maxsize=8)
def docs_policy(app: FastAPI, root_path: str) -> str:
    """DOCS_POLICY with the hashes of the inline scripts FastAPI writes into this app's docs pages.

    Built the way fastapi-offline builds the pages (only the scripts' inputs matter: the OpenAPI
    URL, the OAuth2 redirect and the UI parameters); never from an answer, so nothing a request
    put into a page could become allowed. tests/unit/reports/test_web_security.py checks that the
    pages served match.
    """
    swagger = get_swagger_ui_html(openapi_url=f"{root_path}{app.openapi_url}", title="", swagger_js_url="",
                                  swagger_css_url="", oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
                                  swagger_ui_parameters=app.swagger_ui_parameters)
    pages = (bytes(swagger.body).decode(), bytes(get_swagger_ui_oauth2_redirect_html().body).decode())
    return DOCS_POLICY.format(hashes=" ".join(h for page in pages for h in inline_script_hashes(page)))


class SecurityHeaders:
    """Adds the headers above to each answer.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` wraps every response of every
    route in a task and a stream, a measurable share of a report request's CPU.
    """

    def __init__(self, app, docs_app: FastAPI):
        self.app = app
        self.docs_app = docs_app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        shared = path.startswith(SHARED_PREFIXES)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), path, scope.get("root_path", ""), shared)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, path: str, root_path: str, shared: bool) -> None:
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        if headers.get("content-type", "").startswith("text/html"):
            headers["Content-Security-Policy"] = (docs_policy(self.docs_app, root_path) if path in DOCS_PATHS
                                                  else PAGE_POLICY)
        if not shared:  # the static assets keep their own caching headers (the same bytes for everyone)
            headers["Cache-Control"] = "no-store"
