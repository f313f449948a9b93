"""The "CDC vs batch" page inside the Airflow UI: a FastAPI app mounted on the api-server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from markupsafe import Markup

from bionicflow.reconcile.decide import MISMATCH_GRACE
from bionicflow.reports import charts
from bionicflow.reports.chart_assets import chart_scripts

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.templating import Jinja2Templates

URL_PREFIX = "/bionicflow"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def when(value) -> Markup:
    """A stored UTC time as a <time> element: seconds, marked UTC; the page's script shows it in the reader's zone."""
    if value in (None, ""):
        return Markup("")
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return Markup('<time datetime="{}">{} UTC</time>').format(
        moment.isoformat(timespec="seconds"), moment.strftime("%Y-%m-%d %H:%M:%S"))


def counts(value) -> str:
    """A per-schema count map ({'default': 3, 'debezium': 3}) as words."""
    return " · ".join(f"{name} {count:,}" for name, count in sorted(dict(value or {}).items()))


def num(value) -> str:
    """A count with thousands separators; a fraction with three decimals."""
    if value is None:
        return "—"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.3f}"


def period(start, end) -> Markup:
    """A report run's period as two times in whole seconds (stored with microseconds)."""
    return Markup("{} … {}").format(when(start), when(end))


def explained(page: dict) -> dict:
    """The page in words (bionicflow/reconcile/verdict.py): each run and schema state, then the verdicts on top.

    ``page``: what `dashboard.latest` read, with `cdc` (the CDC road measured now) and `drift`.
    """
    from bionicflow.reconcile.verdict import explain_health, explain_history, headline, row_level

    runs = page["reconciliations"]
    for run, line in zip(runs, explain_history(runs, {r["run_id"]: r["tables"] for r in runs}), strict=True):
        run["explained"] = line
    newest = runs[0] if runs else None
    for row in page["tables"]:
        row["level"] = row_level(row, bool(newest and newest["debezium_degraded"]))
    for health in page["health"]:
        health["explained"] = explain_health(health, newest["explained"] if newest else None)
    lags = {c["table"]: c.get("lag_seconds") for c in page["cdc"]}
    page["verdicts"] = headline(newest, page["tables"], lags, page["batch"], page["drift"],
                                newest["explained"] if newest else None)
    return page


templates.env.filters.update(when=when, counts=counts, num=num)
templates.env.globals.update(period=period, grace_minutes=round(MISMATCH_GRACE.total_seconds() / 60))
templates.env.globals.update(chart_specs=charts.page_specs, vega_version=charts.vega_version)


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


def _stored_run(run_id: str) -> dict:
    from fastapi import HTTPException

    from bionicflow.reports.dashboard import report_run as stored_run
    from bionicflow_airflow.clickhouse_hook import ClickHouseHook

    run = stored_run(ClickHouseHook(send_receive_timeout=30).get_client(), run_id)
    if run is None:
        raise HTTPException(404, f"no stored reports run {run_id!r}: see the latest runs on the CDC vs batch page")
    return run


def build_app() -> FastAPI:
    app = FastAPI(title="bionicflow: CDC vs batch", docs_url=None, redoc_url=None, openapi_url=None)
    # Starlette types a handler as taking any Exception; this one gets only HTTPException
    app.add_exception_handler(StarletteHTTPException, _login_redirect)  # type: ignore[arg-type]

    @app.get("/cdc-vs-batch", response_class=HTMLResponse, dependencies=[Depends(_authenticated())])
    def cdc_vs_batch(request: Request) -> HTMLResponse:
        from bionicflow.reports.dashboard import latest
        from bionicflow_airflow.cdc_health import live_cdc_health, source_drift
        from bionicflow_airflow.clickhouse_hook import ClickHouseHook

        olap = ClickHouseHook(send_receive_timeout=30).get_client()
        page = explained({**latest(olap), "cdc": live_cdc_health(olap), "drift": source_drift(olap)})
        return templates.TemplateResponse(request, "cdc_vs_batch.html", page)

    @app.get("/report-runs/{run_id}", response_class=HTMLResponse, dependencies=[Depends(_authenticated())])
    def report_run(request: Request, run_id: str) -> HTMLResponse:
        """A stored `reports` run: both schemas' overviews as charts side by side (linked from the runs)."""
        run = _stored_run(run_id)
        return templates.TemplateResponse(request, "report_run.html",
                                          {"run": run, "charts": charts.overview_charts(run["overviews"])})

    @app.get("/report-runs/{run_id}/charts/{chart}.{fmt}", dependencies=[Depends(_authenticated())])
    def report_run_chart(run_id: str, chart: str, fmt: str) -> Response:
        """One chart of a stored run as a PNG or SVG file, drawn on the server (to keep or attach)."""
        from fastapi import HTTPException

        specs = charts.by_id(charts.overview_charts(_stored_run(run_id)["overviews"]))
        if specs.get(chart) is None or fmt not in ("png", "svg"):
            raise HTTPException(404, f"no chart {chart}.{fmt} in run {run_id!r}: charts are "
                                     f"{', '.join(c for c, s in specs.items() if s)} as .png or .svg")
        media = "image/png" if fmt == "png" else "image/svg+xml"
        return Response(charts.render(specs[chart], fmt), media_type=media, headers={
            "Content-Disposition": f'inline; filename="{run_id}-{chart}.{fmt}"'.replace(":", "_")})

    app.include_router(chart_scripts())  # the chart library, for the run pages
    return app
