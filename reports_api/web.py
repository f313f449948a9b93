"""Server-rendered pages: login, the buttons of the brief, reports with charts side by side."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from babel.dates import format_date, format_datetime
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.kernel.config import Settings
from bionicflow.reports.accounts import CUSTOMERS
from bionicflow.reports import Period, PeriodError, auth, charts, compare_reports, demo_run
from bionicflow.reports.texts import N_, Text, TranslatableError, text_of
from reports_api import csrf, deps, i18n

log = logging.getLogger("reports_api")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["chart_specs"] = charts.page_specs
templates.env.globals["vega_version"] = charts.vega_version
DEMO_RUN = {"users": 1000, "events": 10000, "updates": 0, "deletes": 0}  # the brief's demo volume
VIEWS = {DEFAULT_DB: [DEFAULT_DB], CDC_DB: [CDC_DB], "compare": [DEFAULT_DB, CDC_DB]}
RUN_STATUS_JS = Path(demo_run.__file__).parent / "static" / "run_status.js"
# The days the stores' DateTime64 columns hold (docs/reports.md): the pages refuse a period beyond them
# (the API answers such a period with an empty report).
STORED_FIRST, STORED_LAST = date(1900, 1, 1), date(2299, 12, 31)
templates.env.globals.update(stored_first=STORED_FIRST.isoformat(), stored_last=STORED_LAST.isoformat())


def _page(request: Request, settings: Settings, name: str, status: int = 200, **context) -> HTMLResponse:
    """A page; a logged-in one carries its session's CSRF token for its forms (log out, generate)."""
    context.setdefault("airflow_url", settings.airflow_url)
    if context.get("caller"):
        context["csrf_token"] = csrf.session_token(settings, context["caller"])
    lang = i18n.choose(request)
    context.setdefault("language_links", _language_links(request))
    response = templates.TemplateResponse(request, name, {**i18n.context(lang), **context}, status_code=status)
    if request.query_params.get("lang") == lang:  # the page's language switch: remembered
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _language_links(request: Request) -> dict[str, str]:
    """Where the language switch goes: the same page with every query parameter kept, only `lang` replaced.

    An answer to a form post (a failed login, a refused generate) has no address to ask again: the home page.
    """
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] if request.method == "GET" else []
    path = request.url.path if request.method == "GET" else "/"
    return {code: f"{path}?{urlencode([*kept, ('lang', code)])}" for code in i18n.LOCALES}


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
    run = request.query_params.get("run")
    lang = i18n.choose(request)
    number = i18n.context(lang)["number"]
    message = i18n.translations(lang).gettext(
        "demo_data run %(run)s started: %(users)s users and %(events)s events; CDC brings them to debezium within "
        "seconds, the next etl_default run to default") % {
        "run": run, "users": number(DEMO_RUN["users"]), "events": number(DEMO_RUN["events"])} if run else None
    # the page's script follows the run (static/run_status.js): with its ticket, only this session may
    return _page(request, settings, "home.html", caller=caller, customers=CUSTOMERS, message=message,
                 chosen=_chosen(request), run=run, run_ticket=request.query_params.get("ticket", ""),
                 run_url=demo_run.run_url(settings.airflow_url, run) if run else None)


def _chosen(request: Request) -> dict[str, str]:
    """What the form showed last, so it shows it again: the user, the period and the view asked for.

    From the query of a report or overview that failed, or of "← back"; a form post carries none.
    """
    query = request.query_params if request.method == "GET" else {}
    chosen = {k: query.get(k, "") for k in ("user_uuid", "start", "end", "view")}
    if request.url.path == "/ui/overview":
        chosen["view"] = "overview"
    return chosen


CsrfField = Annotated[str, Form(alias=csrf.FIELD)]


@router.get("/login", include_in_schema=False)
def login_form() -> Response:
    """The address a failed log-in leaves in the bar: reloading it shows the form, not a 405."""
    return RedirectResponse("/", status_code=303)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf_token: CsrfField = "", settings: Settings = Depends(deps.settings)) -> Response:
    try:
        csrf.check(csrf.login_token(settings, request.cookies.get(csrf.LOGIN_COOKIE, "")), csrf_token)
        token = deps.log_in(settings, username, password, deps.client_address(request))
    except csrf.CsrfError as exc:  # the form again with the user name typed (never the password)
        return _login_page(request, settings, status=403, error=text_of(exc), username=username)
    except deps.TooManyLogins as exc:
        response: Response = _login_page(request, settings, status=429, retry_after=exc.retry_after,
                                         username=username)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except auth.AuthError as exc:
        return _login_page(request, settings, status=401, error=text_of(exc), username=username)
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
            return _home_with_error(request, settings, caller, 403, text_of(exc))
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
        return _home_with_error(request, settings, caller, 403, text_of(exc))
    if not settings.reports_demo_actions:
        raise HTTPException(403, "demo actions are off (BIONICFLOW_REPORTS_DEMO_ACTIONS=false)")
    from bionicflow.kernel.airflow_api import AirflowApiError, airflow_client

    try:
        run_id = airflow_client(settings).trigger(demo_run.DAG_ID, DEMO_RUN)["dag_run_id"]
    except (AirflowApiError, OSError):  # requests' connection errors are OSErrors; the log has the details
        log.exception("demo_data could not be triggered")
        return _home_with_error(request, settings, caller, 502, Text(N_(
            "Airflow at %(url)s did not start demo_data: check `bionicflow status`, then press Generate again"),
            url=settings.airflow_url))
    ticket = demo_run.ticket(csrf.session_token(settings, caller), run_id)
    return RedirectResponse("/?" + urlencode({"run": run_id, "ticket": ticket}), status_code=303)


# What the page says of a demo_data run while it follows it (static/run_status.js polls the route below).
RUN_STATES = {
    "queued": N_("queued: waiting for a free Airflow worker"),
    "running": N_("running: writing the users and events into crm_db and telemetry_db"),
    "failed": N_("failed: open the run in Airflow and read the log of its `generate` task"),
}
RUN_DONE = N_("done: %(users)s users and %(events)s events written; CDC brings them to debezium within seconds, "
              "the next etl_default run to default")


@router.get("/ui/generate/status")
def generate_status(request: Request, run: str = "", ticket: str = "",
                    caller: auth.Principal | None = Depends(deps.cookie_principal),
                    settings: Settings = Depends(deps.settings)) -> JSONResponse:
    """How the demo_data run this session started is going: {state, done, text, url} (text in the page's language)."""
    lang = i18n.choose(request)
    number, gettext = i18n.context(lang)["number"], i18n.translations(lang).gettext
    if caller is None:
        return JSONResponse({"detail": gettext("the session ended: log in again")}, status_code=401)
    if not demo_run.ticket_matches(csrf.session_token(settings, caller), run, ticket):
        return JSONResponse({"detail": gettext("this run was not started in this session: only its page may "
                                               "follow it")}, status_code=403)
    from bionicflow.kernel.airflow_api import AirflowApiError, airflow_client

    try:
        status = demo_run.run_status(airflow_client(settings), run)
    except (AirflowApiError, OSError):  # requests' connection errors are OSErrors
        log.exception("the state of demo_data run %s could not be read", run)
        return JSONResponse({"detail": gettext("Airflow did not answer; asking again…")}, status_code=502)
    if status.state == "success":
        result = status.result or DEMO_RUN  # no result kept: what it was asked to write
        text = gettext(RUN_DONE) % {"users": number(result.get("users")), "events": number(result.get("events"))}
    else:
        text = gettext(RUN_STATES.get(status.state, status.state))
    return JSONResponse({"state": status.state, "done": status.done, "text": text,
                         "url": demo_run.run_url(settings.airflow_url, run)})


@router.get("/static/run_status.js")
def run_status_script() -> Response:
    """The home page's script following a demo_data run (the pages' policy allows no inline script)."""
    return Response(RUN_STATUS_JS.read_bytes(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _home_with_error(request: Request, settings: Settings, caller: auth.Principal, status: int,
                     error: str) -> HTMLResponse:
    """The form again, saying what was wrong with the request (the page translates the message), and
    holding what the reader typed: the user, the period, the view."""
    return _page(request, settings, "home.html", status=status, caller=caller, customers=CUSTOMERS, error=error,
                 chosen=_chosen(request))


class PageInputError(TranslatableError, ValueError):
    """A page's parameter that cannot be used (HTTP 422); the page translates the message."""


def _user_uuid(text: str) -> str:
    try:
        return str(UUID(text.strip()))
    except ValueError:
        raise PageInputError(N_("user_uuid %(value)r is not a UUID (32 hexadecimal digits, like %(example)s): "
                                "copy it whole"), value=text, example=CUSTOMERS[0].user_uuid) from None


def _stored_period(settings: Settings, start: str, end: str) -> Period:
    """The period a page asked for, refused when it reaches beyond the days the stores can hold."""
    period = Period.parse(start or None, end or None, max_days=settings.reports_max_period_days)
    if period.start < datetime.combine(STORED_FIRST, datetime.min.time()) or \
            period.end > datetime.combine(STORED_LAST + timedelta(days=1), datetime.min.time()):
        raise PageInputError(N_("the reports hold days from %(first)s to %(last)s (what the stores' date-time columns "
                                "can keep): choose `from` and `to` within them"), first=STORED_FIRST, last=STORED_LAST)
    return period


def _midnight(value: datetime) -> bool:
    return value.time() == datetime.min.time()


def period_span(period: Period, lang: str) -> str:
    """The period as a page's header says it: whole days as days, the last one included; else times (UTC).

    `to=2026-12-06` reads "… Dec 6, 2026 (inclusive)", not the exclusive next midnight; no microseconds.
    """
    gettext = i18n.translations(lang).gettext

    def moment(value: datetime) -> str:
        return (format_date(value.date(), "medium", locale=lang) if _midnight(value)
                else format_datetime(value.replace(microsecond=0), "medium", locale=lang))

    if _midnight(period.end):
        return gettext("%(start)s … %(end)s (inclusive), UTC") % {
            "start": moment(period.start), "end": moment(period.end - timedelta(days=1))}
    return gettext("%(start)s … %(end)s (exclusive), UTC") % {"start": moment(period.start), "end": moment(period.end)}


@router.get("/ui/report", response_class=HTMLResponse)
def report_page(request: Request, view: str = "compare", user_uuid: str = "", start: str = "", end: str = "",
                caller: auth.Principal | None = Depends(deps.cookie_principal),
                settings: Settings = Depends(deps.settings)) -> Response:
    if caller is None:
        return RedirectResponse("/", status_code=303)
    try:
        target = _user_uuid(user_uuid) if user_uuid else caller.user_uuid
        if not target:
            raise PageInputError(N_("enter a user_uuid"))
        caller.require_user(target)
        period = _stored_period(settings, start, end)
        schemas = VIEWS.get(view)
        if schemas is None:
            raise PageInputError(N_("unknown view %(view)r: one of %(views)s"), view=view, views=", ".join(VIEWS))
    except auth.ForbiddenError as exc:
        return _home_with_error(request, settings, caller, 403, text_of(exc))
    except (ValueError, PeriodError) as exc:
        return _home_with_error(request, settings, caller, 422, text_of(exc))
    try:  # only the schemas shown are read: one report for a single view
        reports = deps.build_reports("user", target, period, schemas)
    except HTTPException as exc:
        return _home_with_error(request, settings, caller, exc.status_code, exc.detail)
    comparison = compare_reports(reports) if view == "compare" else None
    back = "/?" + urlencode({"user_uuid": user_uuid, "start": start, "end": end, "view": view})
    lang = i18n.choose(request)
    return _page(request, settings, "report.html", caller=caller, view=view, schemas=schemas, comparison=comparison,
                 reports=reports, user_uuid=target, period=period, back=back, span=period_span(period, lang),
                 charts=charts.user_report_charts(reports, i18n.translations(lang).gettext, lang, period.days()))


@router.get("/ui/overview", response_class=HTMLResponse)
def overview_page(request: Request, start: str = "", end: str = "",
                  caller: auth.Principal | None = Depends(deps.cookie_principal),
                  settings: Settings = Depends(deps.settings)) -> Response:
    """The analyst's overview of a period, both schemas side by side (customers are sent home)."""
    if caller is None:
        return RedirectResponse("/", status_code=303)
    try:
        caller.require_analyst()
        period = _stored_period(settings, start, end)
    except auth.ForbiddenError as exc:
        return _home_with_error(request, settings, caller, 403, text_of(exc))
    except (PeriodError, PageInputError) as exc:
        return _home_with_error(request, settings, caller, 422, text_of(exc))
    try:
        comparison = deps.build_comparison("overview", None, period)
    except HTTPException as exc:
        return _home_with_error(request, settings, caller, exc.status_code, exc.detail)
    query = urlencode({k: v for k, v in (("from", start), ("to", end)) if v})  # the API reads them as the page did
    back = "/?" + urlencode({"start": start, "end": end, "view": "overview"})
    lang = i18n.choose(request)
    return _page(request, settings, "overview.html", caller=caller, comparison=comparison,
                 reports=comparison["reports"],
                 period=period, back=back, csv_query=query, start=start, end=end, span=period_span(period, lang),
                 charts=charts.overview_charts(comparison["reports"], i18n.translations(lang).gettext, lang))



def not_found_page(request: Request) -> HTMLResponse:
    """A browser's mistyped address: a page in its language with the way back, not the API's JSON 404."""
    lang = i18n.choose(request)
    return templates.TemplateResponse(request, "not_found.html", {**i18n.context(lang), "path": request.url.path},
                                      status_code=404)
