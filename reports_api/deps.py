"""What every reports_api route shares: settings, the read-only OLAP reader, the caller, errors."""

from __future__ import annotations

import logging
from functools import lru_cache

from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bionicflow.kernel.config import Settings, get_settings
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.olap import olap_client
from bionicflow.kernel.tables import TABLES
from bionicflow.reports import auth
from bionicflow.reports import Period, UnknownUserError, compare_reports, overview, user_report
from bionicflow.reports.build import SCHEMAS
from bionicflow.reports.reader import ClickHouseReader
from bionicflow.reports.texts import N_, Text
from bionicflow.reports.throttle import LoginThrottle

log = logging.getLogger("reports_api")
bearer = HTTPBearer(auto_error=False, description="JWT from the OIDC issuer (embedded: `bionicflow token`).")
COOKIE = "bionicflow_token"
REQUIRED_TABLES = tuple(t.name for t in TABLES)
TABLES_SQL = """SELECT database, name FROM system.tables
WHERE database IN {databases:Array(String)} AND name IN {names:Array(String)}"""


async def settings() -> Settings:
    """The process's settings as a route dependency.

    Every dependency here is a coroutine on purpose: FastAPI runs a plain-function dependency in
    a worker thread, one thread hand-over per dependency per request, which cost a report
    request more CPU than verifying its token (docs/benchmarks.md, "User report latency").
    """
    return get_settings()


@lru_cache(maxsize=1)
def reader() -> ClickHouseReader:
    """One client for the process: HTTP connections pooled, no session (queries run in parallel)."""
    s = get_settings()
    client = olap_client(s, reader=True, autogenerate_session_id=False,
                         send_receive_timeout=s.reports_query_timeout_seconds + 5)
    return ClickHouseReader(client, timeout_seconds=s.reports_query_timeout_seconds)


def missing_tables() -> list[str]:
    """`schema.table` names reports need that are not there yet."""
    present = {f"{db}.{name}" for db, name in reader().rows(TABLES_SQL, {"databases": list(SCHEMAS),
                                                                           "names": list(REQUIRED_TABLES)})}
    return [f"{db}.{t}" for db in SCHEMAS for t in REQUIRED_TABLES if f"{db}.{t}" not in present]


def schema_advice(missing: list[str]) -> str:
    return Text(N_("missing in ClickHouse: %(tables)s; the schemas are created by the `cdc_bootstrap` DAG: "
                   "trigger it in the Airflow UI (or run `bionicflow cdc bootstrap`)"), tables=", ".join(missing))


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="reports"'})


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                    settings: Settings = Depends(settings)) -> auth.Principal:
    """The caller of an API route: `Authorization: Bearer`, else the web page's login cookie
    (so the page's CSV links work; the cookie is SameSite=Strict and these routes only read)."""
    try:
        return await _verify(settings, request_token(request, credentials))
    except auth.AuthError as exc:
        raise unauthorized(str(exc)) from None


async def cookie_principal(request: Request, settings: Settings = Depends(settings)) -> auth.Principal | None:
    """The caller of a web page, from the login cookie (None when not logged in).

    When a cookie was sent but refused, ``request.state.session_problem`` says why (expired,
    revoked, invalid), so the login page can tell the reader.
    """
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return await _verify(settings, token)
    except auth.AuthError as exc:
        request.state.session_problem = exc.kind
        return None


async def _verify(settings: Settings, token: str) -> auth.Principal:
    """A token seen before is checked on the event loop; a new one in a worker thread (an OIDC
    issuer's keys may have to be fetched first)."""
    if (principal := auth.verified_before(settings, token)) is not None:
        return principal
    return await run_in_threadpool(auth.verify, settings, token)


def request_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token of an API call, else the page's login cookie."""
    return credentials.credentials if credentials else request.cookies.get(COOKIE, "")


# One process serves reports_api (one uvicorn worker): its failed log-ins are counted here.
login_throttle = LoginThrottle()


class TooManyLogins(BionicflowError):
    """This account or this client address failed to log in too often lately (HTTP 429)."""

    def __init__(self, retry_after: int):
        super().__init__(Text(N_("too many failed log-ins for this account or from this address: try again in "
                                 "%(seconds)s s"), seconds=retry_after))
        self.retry_after = retry_after


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def log_in(settings: Settings, username: str, password: str, address: str) -> str:
    """A development-issuer token for these credentials, unless the account or address is locked out.

    A locked-out attempt is refused before its password is compared: the answer says nothing of it.
    """
    keys = login_throttle.keys(username, address)
    wait = login_throttle.retry_after(keys)
    if wait:
        raise TooManyLogins(wait)
    try:
        token = auth.issue_dev_token(settings, username, password)
    except auth.AuthError as exc:
        if exc.kind == "login":
            login_throttle.failed(keys)
        raise
    login_throttle.succeeded(keys[0])
    return token


def olap_failure(exc: ClickHouseError) -> HTTPException:
    """A ClickHouse failure as the HTTP status a client can act on."""
    text = str(exc)
    if isinstance(exc, OperationalError):
        return HTTPException(503, Text(N_("the OLAP server is unreachable; check `bionicflow status`")))
    if isinstance(exc, DatabaseError) and ("Code: 159" in text or "TIMEOUT_EXCEEDED" in text):
        return HTTPException(504, Text(N_("the report query ran past BIONICFLOW_REPORTS_QUERY_TIMEOUT_SECONDS")))
    if "UNKNOWN_TABLE" in text or "UNKNOWN_DATABASE" in text or "Code: 60" in text or "Code: 81" in text:
        return HTTPException(503, schema_advice(missing_tables()))
    log.error("report query failed: %s", text.splitlines()[0] if text else exc)
    return HTTPException(502, Text(N_("the OLAP server could not answer the report query; see reports_api's log")))


# A schema's freshness is one scan of a whole column: concurrent requests share a measurement this recent.
FRESHNESS_MAX_AGE = 2.0


def olap_call(fn, *args):
    """Build a report with the process's reader; OLAP failures become the HTTP status to act on."""
    try:
        return fn(reader(), *args, freshness_max_age=FRESHNESS_MAX_AGE)
    except ClickHouseError as exc:
        raise olap_failure(exc) from None


def build_comparison(report: str, target: str | None, the_period: Period) -> dict:
    """The same report from both schemas with the differences; 404 when the user is in neither."""
    return compare_reports(build_reports(report, target, the_period, SCHEMAS))


def build_reports(report: str, target: str | None, the_period: Period, schemas) -> dict[str, dict | None]:
    """The report from each of ``schemas`` (None where the user is not); 404 when the user is in none."""
    built: dict[str, dict | None] = {}
    for schema in schemas:
        try:
            built[schema] = (olap_call(user_report, schema, target, the_period) if report == "user"
                             else olap_call(overview, schema, the_period))
        except UnknownUserError:
            built[schema] = None
    if all(r is None for r in built.values()):
        raise HTTPException(404, Text(N_("user %(user_uuid)s is in neither schema's users table"), user_uuid=target)
                            if len(built) > 1 else
                            Text(N_("user %(user_uuid)s is not in %(table)s"), user_uuid=target,
                                 table=f"{schemas[0]}.users"))
    return built
