"""reports_api: the user report, the overview and their comparison from `default` or `debezium`.

Every data route needs a bearer JWT (see bionicflow.reports.auth); customers read only their
own user_uuid, analysts read everything. The web pages live in reports_api.web.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import Depends, FastAPI, Form, Header, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.exceptions import RequestValidationError
import fastapi_offline
from fastapi.openapi.docs import get_redoc_html
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from bionicflow import __version__
from bionicflow.kernel.config import Settings
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.reports import Period, PeriodError, UnknownUserError, auth, charts, overview, user_report
from bionicflow.reports.chart_assets import chart_scripts
from bionicflow.reports.export import to_csv
from reports_api import csrf, deps, errors, schemas, web
from reports_api.headers import SecurityHeaders

log = logging.getLogger("reports_api")


class Schema(StrEnum):
    default = DEFAULT_DB
    debezium = CDC_DB


class Format(StrEnum):
    json = "json"
    csv = "csv"


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # Creating schemas is cdc_bootstrap's job; here we only say what is missing and how to fix it.
    try:
        missing = deps.missing_tables()
        if missing:
            log.warning(deps.schema_advice(missing))
    except ClickHouseError as exc:
        log.warning("OLAP server not answering at start (%s); reports will answer 503 until it does", exc)
    # Building the chart library's bundle takes ~2 s: done now, not on the first reader's page.
    threading.Thread(target=charts.vega_bundle_gzip, name="vega-bundle", daemon=True).start()
    yield


# FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from assets shipped in the
# fastapi-offline package, so the API docs render on a machine without internet (FastAPI's
# own pages fetch them from a CDN).
app = FastAPIOffline(
    title="bionicflow reports_api",
    version=__version__,
    description="Reports from ClickHouse schema `default` (batch) or `debezium` (CDC), side by side. "
                "Authenticate with a bearer JWT (embedded stack: `bionicflow token --user analyst`).",
    lifespan=lifespan,
    redoc_url=None,  # served below: ReDoc's bundle without its CDN logo
)
app.include_router(web.router)
# ReDoc's bundle draws "API docs by Redocly" with a logo from cdn.redoc.ly: blocked by the docs'
# Content-Security-Policy, a console error on every visit. Served here with that link taken out.
REDOC_LOGO = '"https://cdn.redoc.ly/redoc/logo-mini.svg"'
REDOC_BUNDLE = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
REDOC_URL = "/static/redoc-nologo.js"  # before chart_scripts' /static/{name}; cached like the other scripts


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    """ReDoc's bundle with an empty image in place of its CDN logo (the link text stays)."""
    text = REDOC_BUNDLE.read_text(encoding="utf-8")
    if REDOC_LOGO not in text:  # a new fastapi-offline may ship another ReDoc: re-check the logo, then this
        raise RuntimeError(f"ReDoc's logo link {REDOC_LOGO} is not in {REDOC_BUNDLE}: update reports_api.main")
    return text.replace(REDOC_LOGO, '"data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E"').encode()


@app.get(REDOC_URL, include_in_schema=False)
def redoc_script() -> Response:
    return Response(redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@app.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    """What a browser asks every site for (the API docs' pages name none): the docs' own icon, not a 404."""
    return RedirectResponse("/static-offline-docs/favicon.png", status_code=301)


@app.get("/redoc", include_in_schema=False)
def redoc_page(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                          redoc_js_url=f"{root}{REDOC_URL}", with_google_fonts=False,
                          redoc_favicon_url=f"{root}/static-offline-docs/favicon.png")


# The API's addresses answer JSON whoever asks; any other unknown address a browser asks for is a page.
API_PATHS = ("/reports", "/auth", "/health", "/openapi.json", "/static", "/ui/generate/status", "/dev-issuer")


async def http_error(request: Request, exc: StarletteHTTPException):
    if (exc.status_code == 404 and "text/html" in request.headers.get("accept", "")
            and not request.url.path.startswith(API_PATHS)):
        return web.not_found_page(request)
    return await errors.http_error(request, exc)


app.include_router(chart_scripts())
# Starlette types a handler as taking any Exception; each of these gets only the one it is registered for
app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
app.add_exception_handler(RequestValidationError, errors.validation_error)  # type: ignore[arg-type]
# Cross-site form posts refused; security headers on every answer (pages: CSP, no framing, no
# caching). The middleware added last runs outermost: SameOriginOnly's refusals get the headers too.
app.add_middleware(csrf.SameOriginOnly)
app.add_middleware(SecurityHeaders, docs_app=app)

FromQ = Annotated[str | None, Query(alias="from", description="ISO date or date-time (UTC), inclusive; "
                                                               "default: 30 days before `to`", examples=["2026-11-01"])]
ToQ = Annotated[str | None, Query(alias="to", description="ISO date (whole day included) or date-time (exclusive); "
                                                          "default: now", examples=["2026-11-30"])]
UserQ = Annotated[UUID | None, Query(description="The user; customers may omit it (their own)")]
FormatQ = Annotated[Format, Query(description="json, or csv (field,value rows)")]


async def period(start: FromQ = None, end: ToQ = None, settings: Settings = Depends(deps.settings)) -> Period:
    try:
        return Period.parse(start, end, max_days=settings.reports_max_period_days)
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from None


def _respond(report: dict, fmt: Format, name: str) -> Response:
    if fmt is Format.csv:
        return PlainTextResponse(to_csv(report), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return JSONResponse(report)


def _target_user(caller: auth.Principal, user_uuid: UUID | None) -> str:
    if user_uuid is None:
        if caller.user_uuid:
            return caller.user_uuid
        raise HTTPException(422, "user_uuid is required (only a customer's own report is implied)")
    target = str(user_uuid)
    try:
        caller.require_user(target)
    except auth.ForbiddenError as exc:
        raise HTTPException(403, str(exc)) from None
    return target



@app.get("/health", tags=["ops"], responses={200: {"model": schemas.Health}})
def health() -> dict[str, str]:
    """Liveness of the service itself (no authentication, no data)."""
    return {"status": "ok", "version": __version__}


@app.get("/reports", tags=["reports"], summary="User report from one schema (the brief's endpoint)",
         responses={**schemas.report_responses(schemas.UserReport),
                    **errors.error_responses(401, 403, 404, 422, 503, 504)})
def get_report(schema: Annotated[Schema, Query(description="default (batch) or debezium (CDC)")],
               user_uuid: UserQ = None, fmt: FormatQ = Format.json, the_period: Period = Depends(period),
               caller: auth.Principal = Depends(deps.principal)) -> Response:
    target = _target_user(caller, user_uuid)
    try:
        report = deps.olap_call(user_report, schema.value, target, the_period)
    except UnknownUserError as exc:
        raise HTTPException(404, str(exc)) from None
    return _respond(report, fmt, f"report-{schema.value}-{target}")


@app.get("/reports/overview", tags=["reports"], summary="Overview of a period (analysts)",
         responses={**schemas.report_responses(schemas.Overview), **errors.error_responses(401, 403, 422, 503, 504)})
def get_overview(schema: Annotated[Schema, Query()], fmt: FormatQ = Format.json, the_period: Period = Depends(period),
                 caller: auth.Principal = Depends(deps.principal)) -> Response:
    try:
        caller.require_analyst()
    except auth.ForbiddenError as exc:
        raise HTTPException(403, str(exc)) from None
    return _respond(deps.olap_call(overview, schema.value, the_period), fmt, f"overview-{schema.value}")


@app.get("/reports/compare", tags=["reports"], summary="The same report from both schemas, field by field",
         responses={200: {"model": schemas.Comparison}, **errors.error_responses(401, 403, 404, 422, 503, 504)})
def get_compare(report: Annotated[Literal["user", "overview"], Query(description="which report")] = "user",
                user_uuid: UserQ = None, the_period: Period = Depends(period),
                caller: auth.Principal = Depends(deps.principal)) -> dict:
    if report == "overview":
        try:
            caller.require_analyst()
        except auth.ForbiddenError as exc:
            raise HTTPException(403, str(exc)) from None
        return deps.build_comparison("overview", None, the_period)
    return deps.build_comparison("user", _target_user(caller, user_uuid), the_period)


# --- the embedded development issuer (off when BIONICFLOW_REPORTS_OIDC_ISSUER is set) -------------

def _dev_issuer_on(settings: Settings = Depends(deps.settings)) -> Settings:
    if settings.reports_oidc_issuer:
        raise HTTPException(404, "the development issuer is off: tokens come from " + settings.reports_oidc_issuer)
    return settings


@app.post("/auth/logout", status_code=204, tags=["auth"], summary="Revoke the caller's token",
          responses=errors.error_responses(401, 403))
def logout_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(deps.bearer),
                 csrf_token: Annotated[str | None, Header(alias=csrf.HEADER, include_in_schema=False)] = None,
                 settings: Settings = Depends(deps.settings)) -> Response:
    """End the session of this token on the server: every later request with it gets 401, until and
    after it expires. Works for the development issuer's tokens and an OIDC issuer's alike (by the
    token's `jti`). With the page's cookie instead of a bearer token, send the page's CSRF token
    in `X-CSRF-Token`."""
    try:
        caller = auth.verify(settings, deps.request_token(request, credentials))
    except auth.AuthError as exc:
        raise deps.unauthorized(str(exc)) from None
    if credentials is None:  # authenticated by the browser's cookie: a page of ours must have sent it
        try:
            csrf.check(csrf.session_token(settings, caller), csrf_token)
        except csrf.CsrfError as exc:
            raise HTTPException(403, str(exc)) from None
    auth.end_session(settings, caller)
    return Response(status_code=204)


@app.get("/dev-issuer/.well-known/openid-configuration", tags=["dev issuer"])
def dev_discovery(settings: Settings = Depends(_dev_issuer_on)) -> dict:
    base = auth.dev_issuer_url(settings)
    return {"issuer": base, "jwks_uri": f"{base}/jwks.json", "token_endpoint": f"{base}/token",
            "grant_types_supported": ["password"], "id_token_signing_alg_values_supported": ["RS256"]}


@app.get("/dev-issuer/jwks.json", tags=["dev issuer"])
def dev_jwks(settings: Settings = Depends(_dev_issuer_on)) -> dict:
    return auth.dev_jwks(settings)


@app.post("/dev-issuer/token", tags=["dev issuer"], summary="Password grant for the demo accounts",
          responses={200: {"model": schemas.Token}, **errors.error_responses(401, 429)})
def dev_token(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
              settings: Settings = Depends(_dev_issuer_on)) -> dict:
    """A token for a demo account. An unknown name and a wrong password get the same 401; after
    repeated failures the account or client address waits (429 with `Retry-After`)."""
    try:
        token = deps.log_in(settings, username, password, deps.client_address(request))
    except deps.TooManyLogins as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except auth.AuthError as exc:
        raise deps.unauthorized(str(exc)) from None
    return {"access_token": token, "token_type": "bearer", "expires_in": settings.reports_token_ttl_seconds}
