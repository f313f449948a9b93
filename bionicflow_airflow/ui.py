"""The "CDC vs batch" page inside the Airflow UI: a FastAPI app mounted on the api-server."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.templating import Jinja2Templates

URL_PREFIX = "/bionicflow"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _authenticated():
    # Plugin apps are not protected by Airflow on their own: require a logged-in Airflow user
    # (the UI's session cookie inside the embedded page, or a bearer token from /auth/token).
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return requires_authenticated()


PAGE_ROUTE = "/plugin/cdc-vs-batch"  # where the Airflow UI shows the page (external view `url_route`)


def _login_redirect(request: Request, exc: StarletteHTTPException):
    """A browser without a session goes to Airflow's login, then back to the page; API clients get the 401."""
    if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
        from urllib.parse import urlencode

        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login()
        return RedirectResponse(f"{login}{'&' if '?' in login else '?'}{urlencode({'next': PAGE_ROUTE})}", 307)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def build_app() -> FastAPI:
    app = FastAPI(title="bionicflow: CDC vs batch", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _login_redirect)

    @app.get("/cdc-vs-batch", response_class=HTMLResponse, dependencies=[Depends(_authenticated())])
    def cdc_vs_batch(request: Request) -> HTMLResponse:
        from bionicflow.reports.dashboard import latest
        from bionicflow_airflow.clickhouse_hook import ClickHouseHook

        page = latest(ClickHouseHook(send_receive_timeout=30).get_client())
        return templates.TemplateResponse(request, "cdc_vs_batch.html", page)

    return app
