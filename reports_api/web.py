"""Server-rendered pages: login, the buttons of the brief, reports with charts side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.kernel.config import Settings
from bionicflow.reports.accounts import CUSTOMERS
from bionicflow.reports import Period, PeriodError, auth, charts, compare_reports
from reports_api import csrf, deps, i18n

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["chart_specs"] = charts.page_specs
templates.env.globals["vega_version"] = charts.vega_version
DEMO_RUN = {"users": 1000, "events": 10000, "updates": 0, "deletes": 0}  # the brief's demo volume
VIEWS = {DEFAULT_DB: [DEFAULT_DB], CDC_DB: [CDC_DB], "compare": [DEFAULT_DB, CDC_DB]}


def _page(request: Request, settings: Settings, name: str, status: int = 200, **context) -> HTMLResponse:
    """A page; a logged-in one carries its session's CSRF token for its forms (log out, generate)."""
    context.setdefault("airflow_url", settings.airflow_url)
    if context.get("caller"):
        context["csrf_token"] = csrf.session_token(settings, context["caller"])
    lang = i18n.choose(request)
    response = templates.TemplateResponse(request, name, {**i18n.context(lang), **context}, status_code=status)
    if request.query_params.get("lang") == lang:  # the page's language switch: remembered
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _login_page(request: Request, settings: Settings, status: int = 200, **context) -> HTMLResponse:
    """The login form, its CSRF token bound to a random cookie (kept while it lasts: several tabs work)."""
    nonce = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_login_nonce()
    response = _page(request, settings, "login.html", status=status,
                     csrf_token=csrf.login_token(settings, nonce), **context)
    response.set_cookie(csrf.LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=86400)
    return response


# Why the login form shows again (the reader's session ended): the page says so.
SESSION_NOTICES = {
    "expired": "Your session expired. Log in again.",
    "revoked": "This session was logged out. Log in again.",
    "invalid": "Your session is not valid any more (the server's key changed, or the cookie was altered). "
               "Log in again.",
    "logged_out": "You logged out. The session is closed on the server too.",
}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, caller: auth.Principal | None = Depends(deps.cookie_principal),
         settings: Settings = Depends(deps.settings)) -> HTMLResponse:
    if caller is None:
        problem = getattr(request.state, "session_problem", None) or request.query_params.get("session")
        response = _login_page(request, settings, notice=SESSION_NOTICES.get(problem or ""))
        if problem:
            response.delete_cookie(deps.COOKIE)
        return response
    # the form keeps what the last report asked for ("← back" passes it along)
    chosen = {k: request.query_params.get(k, "") for k in ("user_uuid", "start", "end")}
    run = request.query_params.get("run")
    message = i18n.translations(i18n.choose(request)).gettext(
        "demo_data run %(run)s started: %(users)s users and %(events)s events; CDC brings them to debezium within "
        "seconds, the next etl_default run to default") % {"run": run, **DEMO_RUN} if run else None
    return _page(request, settings, "home.html", caller=caller, customers=CUSTOMERS, message=message,
                 chosen=chosen)


CsrfField = Annotated[str, Form(alias=csrf.FIELD)]


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf_token: CsrfField = "", settings: Settings = Depends(deps.settings)) -> Response:
    try:
        csrf.check(csrf.login_token(settings, request.cookies.get(csrf.LOGIN_COOKIE, "")), csrf_token)
        token = deps.log_in(settings, username, password, deps.client_address(request))
    except csrf.CsrfError as exc:
        return _login_page(request, settings, status=403, error=str(exc))
    except deps.TooManyLogins as exc:
        response: Response = _login_page(request, settings, status=429, retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except auth.AuthError as exc:
        return _login_page(request, settings, status=401, error=str(exc))
    response = RedirectResponse("/", status_code=303)
    # HttpOnly + SameSite=Strict: scripts cannot read it and other sites cannot post with it.
    response.set_cookie(deps.COOKIE, token, httponly=True, samesite="strict",
                        max_age=settings.reports_token_ttl_seconds)
    response.delete_cookie(csrf.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: CsrfField = "", caller: auth.Principal | None = Depends(deps.cookie_principal),
           settings: Settings = Depends(deps.settings)) -> Response:
    """Revoke the session's token on the server (not only forget the cookie), then show the login."""
    if caller is not None:  # else already expired, revoked or foreign: nothing left to end
        try:
            csrf.check(csrf.session_token(settings, caller), csrf_token)
        except csrf.CsrfError as exc:
            return _home_with_error(request, settings, caller, 403, str(exc))
        auth.end_session(settings, caller)
    response = RedirectResponse("/?session=logged_out", status_code=303)
    response.delete_cookie(deps.COOKIE)
    return response


@router.post("/ui/generate")
def generate(request: Request, csrf_token: CsrfField = "",
             caller: auth.Principal | None = Depends(deps.cookie_principal),
             settings: Settings = Depends(deps.settings)) -> Response:
    """Trigger demo_data: a logged-in customer or analyst (docs/reports.md), from this page's own form."""
    if caller is None:
        return RedirectResponse("/", status_code=303)
    try:
        csrf.check(csrf.session_token(settings, caller), csrf_token)
        caller.require_generator()
    except (csrf.CsrfError, auth.ForbiddenError) as exc:
        return _home_with_error(request, settings, caller, 403, str(exc))
    if not settings.reports_demo_actions:
        raise HTTPException(403, "demo actions are off (BIONICFLOW_REPORTS_DEMO_ACTIONS=false)")
    from bionicflow.kernel.airflow_api import airflow_client

    run = airflow_client(settings).trigger("demo_data", DEMO_RUN)
    return RedirectResponse("/?" + urlencode({"run": run["dag_run_id"]}), status_code=303)


def _home_with_error(request: Request, settings: Settings, caller: auth.Principal, status: int,
                     error: str) -> HTMLResponse:
    """The form again, saying what was wrong with the request (the page translates the message)."""
    return _page(request, settings, "home.html", status=status, caller=caller, customers=CUSTOMERS, error=error)


@router.get("/ui/report", response_class=HTMLResponse)
def report_page(request: Request, view: str = "compare", user_uuid: str = "", start: str = "", end: str = "",
                caller: auth.Principal | None = Depends(deps.cookie_principal),
                settings: Settings = Depends(deps.settings)) -> Response:
    if caller is None:
        return RedirectResponse("/", status_code=303)
    try:
        target = str(UUID(user_uuid)) if user_uuid else caller.user_uuid
        if not target:
            raise ValueError("enter a user_uuid")
        caller.require_user(target)
        period = Period.parse(start or None, end or None, max_days=settings.reports_max_period_days)
        schemas = VIEWS.get(view)
        if schemas is None:
            raise ValueError(f"unknown view {view!r}")
    except auth.ForbiddenError as exc:
        return _home_with_error(request, settings, caller, 403, str(exc))
    except (ValueError, PeriodError) as exc:
        return _home_with_error(request, settings, caller, 422, str(exc))
    try:  # only the schemas shown are read: one report for a single view
        reports = deps.build_reports("user", target, period, schemas)
    except HTTPException as exc:
        return _home_with_error(request, settings, caller, exc.status_code, exc.detail)
    comparison = compare_reports(reports) if view == "compare" else None
    back = "/?" + urlencode({"user_uuid": user_uuid, "start": start, "end": end})
    lang = i18n.choose(request)
    return _page(request, settings, "report.html", caller=caller, view=view, schemas=schemas, comparison=comparison,
                 reports=reports, user_uuid=target, period=period, back=back,
                 charts=charts.user_report_charts(reports, i18n.translations(lang).gettext, lang))


@router.get("/ui/overview", response_class=HTMLResponse)
def overview_page(request: Request, start: str = "", end: str = "",
                  caller: auth.Principal | None = Depends(deps.cookie_principal),
                  settings: Settings = Depends(deps.settings)) -> Response:
    """The analyst's overview of a period, both schemas side by side (customers are sent home)."""
    if caller is None:
        return RedirectResponse("/", status_code=303)
    try:
        caller.require_analyst()
        period = Period.parse(start or None, end or None, max_days=settings.reports_max_period_days)
    except auth.ForbiddenError as exc:
        return _home_with_error(request, settings, caller, 403, str(exc))
    except PeriodError as exc:
        return _home_with_error(request, settings, caller, 422, str(exc))
    try:
        comparison = deps.build_comparison("overview", None, period)
    except HTTPException as exc:
        return _home_with_error(request, settings, caller, exc.status_code, exc.detail)
    query = urlencode({k: v for k, v in (("from", start), ("to", end)) if v})  # the API reads them as the page did
    back = "/?" + urlencode({"start": start, "end": end})
    lang = i18n.choose(request)
    return _page(request, settings, "overview.html", caller=caller, comparison=comparison,
                 reports=comparison["reports"],
                 period=period, back=back, csv_query=query, start=start, end=end,
                 charts=charts.overview_charts(comparison["reports"], i18n.translations(lang).gettext, lang))

