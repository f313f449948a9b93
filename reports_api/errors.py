"""One error shape for every 4xx and 5xx of the API: ``{"detail": str, "errors": [...]}``.

``detail`` is one sentence a person can act on; ``errors`` lists the individual problems of
a request that failed validation (parameter, message), empty otherwise. FastAPI's own 422
body (a list under ``detail``) is replaced, so clients parse one shape.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class ProblemItem(BaseModel):
    parameter: str = Field(description="Where the problem is, e.g. `query.from`")
    message: str


class ErrorBody(BaseModel):
    """Every error response of reports_api."""

    detail: str = Field(description="What went wrong and what to change", examples=["user_uuid is required"])
    errors: list[ProblemItem] = Field(default_factory=list, description="Each invalid parameter (422 only)")


WHEN = {
    401: "No token, or an expired, revoked or foreign one; a wrong user name or password",
    403: "The caller may not see this report; a POST from another site or without its page's CSRF token",
    404: "The user is in neither schema",
    422: "A parameter is invalid; `errors` lists each",
    429: "Too many failed log-ins for this account or client address: wait `Retry-After` seconds",
    503: "The OLAP server is down or the schemas are missing",
    504: "The report query ran past its time limit",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI `responses` for these status codes, each with the error body's schema."""
    return {code: {"model": ErrorBody, "description": WHEN[code]} for code in codes}


def _body(detail: str, errors: list[dict] | None = None) -> dict:
    return ErrorBody(detail=detail, errors=errors or []).model_dump()


async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(jsonable_encoder(exc.detail))
    return JSONResponse(_body(detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [{"parameter": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", "")}
                for e in exc.errors()]
    detail = "; ".join(f"{p['parameter']}: {p['message']}" for p in problems) or "invalid request"
    return JSONResponse(_body(detail, problems), status_code=422)
