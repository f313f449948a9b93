"""What every reports_api route shares: settings, the read-only OLAP reader, the caller, errors."""

from __future__ import annotations

import logging
from functools import lru_cache

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bionicflow.config import Settings, get_settings
from bionicflow.reports import auth
from bionicflow.reports.reader import ClickHouseReader

log = logging.getLogger("reports_api")
bearer = HTTPBearer(auto_error=False, description="JWT from the OIDC issuer (embedded: `bionicflow token`).")
COOKIE = "bionicflow_token"
REQUIRED_TABLES = ("users", "telemetry_events")
TABLES_SQL = """SELECT database, name FROM system.tables
WHERE database IN ('default', 'debezium') AND name IN ('users', 'telemetry_events')"""


@lru_cache(maxsize=1)
def reader() -> ClickHouseReader:
    """One client for the process: HTTP connections pooled, no session (queries run in parallel)."""
    s = get_settings()
    client = clickhouse_connect.get_client(
        host=s.olap_address, port=s.olap_port, username=s.clickhouse_reader_user,
        password=s.clickhouse_reader_password.get_secret_value(), autogenerate_session_id=False,
        send_receive_timeout=s.reports_query_timeout_seconds + 5, connect_timeout=5)
    return ClickHouseReader(client, timeout_seconds=s.reports_query_timeout_seconds)


def missing_tables() -> list[str]:
    """`schema.table` names reports need that are not there yet."""
    present = {f"{db}.{name}" for db, name in reader().rows(TABLES_SQL, {})}
    return [f"{db}.{t}" for db in ("default", "debezium") for t in REQUIRED_TABLES if f"{db}.{t}" not in present]


def schema_advice(missing: list[str]) -> str:
    return (f"missing in ClickHouse: {', '.join(missing)}; the schemas are created by the `cdc_bootstrap` DAG: "
            "trigger it in the Airflow UI (or run `bionicflow cdc bootstrap`)")


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="reports"'})


def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
              settings: Settings = Depends(get_settings)) -> auth.Principal:
    """The caller of an API route: `Authorization: Bearer`, else the web page's login cookie
    (so the page's CSV links work; the cookie is SameSite=Strict and these routes only read)."""
    token = credentials.credentials if credentials else request.cookies.get(COOKIE, "")
    try:
        return auth.verify(settings, token)
    except auth.AuthError as exc:
        raise unauthorized(str(exc)) from None


def cookie_principal(request: Request, settings: Settings = Depends(get_settings)) -> auth.Principal | None:
    """The caller of a web page, from the login cookie (None when not logged in)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return auth.verify(settings, token)
    except auth.AuthError:
        return None


def olap_failure(exc: ClickHouseError) -> HTTPException:
    """A ClickHouse failure as the HTTP status a client can act on."""
    text = str(exc)
    if isinstance(exc, OperationalError):
        return HTTPException(503, "the OLAP server is unreachable; check `bionicflow status`")
    if isinstance(exc, DatabaseError) and ("Code: 159" in text or "TIMEOUT_EXCEEDED" in text):
        return HTTPException(504, "the report query ran past BIONICFLOW_REPORTS_QUERY_TIMEOUT_SECONDS")
    if "UNKNOWN_TABLE" in text or "UNKNOWN_DATABASE" in text or "Code: 60" in text or "Code: 81" in text:
        return HTTPException(503, schema_advice(missing_tables()))
    log.error("report query failed: %s", text.splitlines()[0] if text else exc)
    return HTTPException(502, "the OLAP server could not answer the report query; see reports_api's log")
