"""The chart scripts as HTTP routes, for every app that draws charts (reports_api, the Airflow plugin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from bionicflow.reports import charts


def chart_scripts() -> APIRouter:
    """`GET /static/{name}`: the chart library and charts.js.

    The library: Vega, Vega-Lite, vega-embed from the installed package.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/static/{name}")
    def chart_script(name: str, request: Request) -> Response:
        try:
            body, headers = charts.script(name, request.headers.get("accept-encoding", ""))
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(body, headers=headers)

    return router
