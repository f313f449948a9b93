"""The CDC console inside the Airflow UI (menu Admin): thin routes over bionicflow/cdc/console.py.

Admins only (see `console_admin`); every page reads, except the POST that restarts one connector task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from bionicflow.cdc import console

URL_PREFIX = "/cdc-console"
PAGE_ROUTE = "/plugin/cdc-console"  # where the Airflow UI shows the console (external view `url_route`)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _size(value: int | None) -> str:
    if value is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


def _utc(value) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


templates.env.filters.update(size=_size, utc=_utc)
templates.env.globals.update(prefix=URL_PREFIX)


def console_admin(auth_manager: Any, user: Any) -> bool:
    """Whether ``user`` may use the console: an admin.

    SimpleAuthManager (the embedded stack's) knows roles: only ADMIN passes (an OP may edit
    connections, yet not reach the console). Other auth managers (FAB, Keycloak...) are asked
    whether the user may change Airflow's configuration, which their defaults give admins only.
    """
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    if isinstance(auth_manager, SimpleAuthManager):
        return str(getattr(user, "role", "") or "").upper() == "ADMIN"
    return bool(auth_manager.is_authorized_configuration(method="PUT", user=user))


def _admin_only():
    # Plugin apps are not protected by Airflow on their own: a user from the UI's session cookie or a
    # bearer token (401 without one), then the admin check (403 for anyone else).
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import HTTPException

    # Depends() as a default, not Airflow's GetUserDep annotation: this module's annotations are strings
    def inner(user: Any = Depends(get_user)) -> None:
        if not console_admin(get_auth_manager(), user):
            raise HTTPException(403, "the CDC console is for Airflow admins: log in as one "
                                     "(docs/cdc-console.md, \"Who may use it\")")
    return inner


def _errors(request: Request, exc: StarletteHTTPException):
    """A browser without a session goes to Airflow's login and back to the console; others get the status."""
    if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login()
        return RedirectResponse(f"{login}{'&' if '?' in login else '?'}{urlencode({'next': _back_to(request)})}", 307)
    if "text/html" in request.headers.get("accept", "") and exc.status_code in (400, 403, 404, 503):
        return _page(request, "console_error.html", {"status": exc.status_code, "detail": exc.detail},
                     status=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _fail(exc: Exception):
    from fastapi import HTTPException

    from bionicflow.cdc.connectors import ConnectError

    if isinstance(exc, console.UnknownTopic):
        return HTTPException(404, str(exc))
    if isinstance(exc, console.ConsoleError):
        return HTTPException(400, str(exc))
    if isinstance(exc, (console.KafkaUnavailable, ConnectError, OSError)):
        return HTTPException(503, f"{exc} — check the service: `bionicflow status`")
    raise exc


def _bootstrap() -> str:
    from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

    return KafkaConnectHook().kafka_bootstrap()


def _log_dir() -> Path:
    from bionicflow.kernel.config import Settings
    from bionicflow.stack.jvm import KafkaBroker

    return KafkaBroker(Settings()).data  # the embedded broker's disk (absent elsewhere: sizes unknown)


def _back_to(request: Request) -> str:
    """Where the login sends the browser back: the console's page it asked for (its index when it asked for none)."""
    if request.url.path.rstrip("/") in ("", URL_PREFIX):
        return PAGE_ROUTE
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"nav": name, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # live state, and messages may hold personal data
    return response


def build_app() -> FastAPI:
    app = FastAPI(title="bionicflow: CDC console", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(_admin_only())])
    # Starlette types a handler as taking any Exception; this one gets only HTTPException
    app.add_exception_handler(StarletteHTTPException, _errors)  # type: ignore[arg-type]

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return _page(request, "console_index.html", {"steps": console.BRIEF_STEPS})

    @app.get("/connectors", response_class=HTMLResponse)
    def connectors(request: Request, restarted: str = "") -> HTMLResponse:
        from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

        try:
            views = console.read_connectors(KafkaConnectHook().get_conn())
        except Exception as exc:
            raise _fail(exc) from None
        return _page(request, "console_connectors.html", {"connectors": views, "restarted": restarted})

    @app.post("/connectors/{name}/tasks/{task}/restart")
    def restart(request: Request, name: str, task: int, confirm: str = Form("")) -> RedirectResponse:
        from fastapi import HTTPException

        from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

        if not console.same_origin(request.headers, request.headers.get("host", "")):
            raise HTTPException(403, "a restart must come from the console's own page (Origin or Referer of "
                                     "this site) or carry a bearer token")
        if confirm != "yes":
            raise HTTPException(400, "a restart needs the form's confirm=yes")
        try:
            console.restart_task(KafkaConnectHook().get_conn(), name, task)
        except Exception as exc:
            raise _fail(exc) from None
        return RedirectResponse(f"{URL_PREFIX}/connectors?{urlencode({'restarted': f'{name}/{task}'})}", 303)

    @app.get("/topics", response_class=HTMLResponse)
    def topics(request: Request, perPage: int = 25, page: int = 1, internal: bool = False) -> HTMLResponse:  # noqa: N803 (Kafka UI's name)
        try:
            found = console.list_topics(_bootstrap(), _log_dir())
            shown, pages = console.page_of([t for t in found if internal or not t.internal], perPage, page)
        except Exception as exc:
            raise _fail(exc) from None
        return _page(request, "console_topics.html", {"topics": shown, "pages": pages, "page": page,
                                                      "per_page": perPage, "internal": internal})

    @app.get("/topics/{topic}", response_class=HTMLResponse)
    def topic(request: Request, topic: str) -> HTMLResponse:
        try:
            info = console.find_topic(console.list_topics(_bootstrap(), _log_dir()), console.check_topic_name(topic))
        except Exception as exc:
            raise _fail(exc) from None
        return _page(request, "console_topic.html", {"topic": info})

    @app.get("/topics/{topic}/messages", response_class=HTMLResponse)
    def messages(request: Request, topic: str, limit: int = 100, partition: int | None = None,
                 offset: int | None = None, q: str = "", keySerde: str | None = None,  # noqa: N803
                 valueSerde: str | None = None) -> HTMLResponse:  # noqa: N803 (Kafka UI's names)
        try:
            serdes = (console.check_serde("keySerde", keySerde), console.check_serde("valueSerde", valueSerde))
            bootstrap = _bootstrap()
            info = console.find_topic(console.list_topics(bootstrap), console.check_topic_name(topic))
            reads = console.plan_reads(info.partitions, limit, partition, offset, filtering=bool(q))
            result = console.read_messages(bootstrap, info, reads, limit, q or None, newest_first=offset is None)
        except Exception as exc:
            raise _fail(exc) from None
        return _page(request, "console_messages.html", {
            "topic": info, "page": result, "limit": limit, "partition": partition, "offset": offset, "q": q,
            "serdes": serdes, "max_shown": console.MAX_SHOWN})

    @app.get("/consumer-groups", response_class=HTMLResponse)
    def consumer_groups(request: Request) -> HTMLResponse:
        try:
            groups = console.consumer_groups(_bootstrap())
        except Exception as exc:
            raise _fail(exc) from None
        return _page(request, "console_groups.html", {"groups": groups})

    @app.get("/dead-letters", response_class=HTMLResponse)
    def dead_letters(request: Request, limit: int = 50) -> HTMLResponse:
        from bionicflow.cdc import dead_letters as letters
        from bionicflow_airflow.clickhouse_hook import ClickHouseHook

        if not 1 <= limit <= 500:
            raise _fail(console.ConsoleError(f"limit must be 1…500 (got {limit})"))
        from fastapi import HTTPException

        try:
            olap = ClickHouseHook(send_receive_timeout=30).get_client()
            causes, recent = letters.summary(olap), console.recent_dead_letters(olap, limit)
        except Exception as exc:  # ClickHouse down or the schema not created yet: say which
            raise HTTPException(503, f"ClickHouse did not give the dead letters: {str(exc).splitlines()[0][:300]}"
                                     " — check `bionicflow status`; the table is created by cdc_bootstrap") from None
        return _page(request, "console_dead_letters.html", {"causes": causes, "letters": recent, "limit": limit})

    @app.get("/slots", response_class=HTMLResponse)
    def slots(request: Request) -> HTMLResponse:
        from bionicflow.kernel.config import Settings
        from bionicflow_airflow.cdc_health import read_slots

        error = ""
        try:
            found = read_slots()
        except Exception as exc:  # a source down: say so, show each connector's slot as unknown
            found, error = {}, f"a source database did not answer: {str(exc).splitlines()[0][:300]}"
        return _page(request, "console_slots.html", {
            "slots": console.slot_views(found, Settings().wal_retained_limit_bytes), "error": error,
            "limit": Settings().wal_retained_limit_bytes})

    @app.get("/ui/clusters/{cluster}/all-topics{rest:path}")
    def kafka_ui(request: Request, cluster: str, rest: str) -> RedirectResponse:
        """The brief's Kafka UI addresses, with their query: the same place in this console."""
        try:
            path = console.kafka_ui_path(f"/ui/clusters/{cluster}/all-topics{rest}")
        except Exception as exc:
            raise _fail(exc) from None
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{URL_PREFIX}{path}{query}", 307)

    return app
