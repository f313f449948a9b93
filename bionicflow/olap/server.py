"""OLAP server: the chdb engine served over the ClickHouse HTTP protocol.

One long-lived process owns the chdb data directory (chdb allows one process per
directory) and answers clickhouse-connect, curl and ``?query=`` URLs unchanged.
Run it with ``python -m bionicflow.olap``, which confines the process first (confine.py), then calls `main`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from bionicflow.kernel.config import get_settings
from bionicflow.olap.access import catalogue_filters, check_reader_database
from bionicflow.olap.codecs import NativeBlocks, compress_response, native_compress, request_decompressor
from bionicflow.olap.connections import request_connection
from bionicflow.olap.engine import (STREAMABLE_FORMATS, STREAMABLE_KINDS, UNKNOWN, Engine, QueryResult, run_query,
                                    summary_header)
from bionicflow.olap.external import external_parameter_names, external_tables
from bionicflow.olap.http_guard import GuardedHttp
from bionicflow.olap.limits import ReaderLimits, reader_settings
from bionicflow.olap.native_revision import TIME_ZONE_REVISION, NativeForRevision
from bionicflow.olap.query_ids import RequestText, request_text
from bionicflow.olap.protocol import (
    SERVER_FAULTS,
    ClickHouseError,
    asked_response_headers,
    check_query_params,
    client_revision,
    first_keyword,
    multi_statement_error,
    output_format,
    read_options,
    refuse_input_function,
    refuse_outfile,
    statement_count,
)
from bionicflow.olap.request_body import (
    BODY_IDLE_SECONDS,
    MAX_FORM_FIELDS,
    MAX_FORM_FILES,
    MAX_QUERY_BYTES,
    READER_MAX_BODY_BYTES,
    READER_MAX_QUERY_BYTES,
    BodyReader,
    check_declared_length,
    insert_head,
    stream_insert,
    whole_query,
)
from bionicflow.olap.sessions import Sessions
from bionicflow.olap.staged_insert import TargetTables
from bionicflow.olap.streaming import (
    NO_FORMAT_TYPE,
    PROGRESS_ROW_FORMATS,
    READ_KINDS,
    catalogue_moved,
    json_array_of_rows,
    media_type,
    progress_first,
    result_headers,
    streamed,
    watched,
)
from bionicflow.olap.users import User, authenticate, limits_from_settings, users_from_settings
from bionicflow.olap.workers import in_worker

log = logging.getLogger("bionicflow.olap")
# The words a statement the engine parses can start with (ClickHouse's query kinds).
STATEMENT_KEYWORDS = frozenset({
    "SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "INSERT", "CREATE", "ALTER", "DROP",
    "RENAME", "TRUNCATE", "OPTIMIZE", "SET", "USE", "KILL", "SYSTEM", "GRANT", "REVOKE", "ATTACH", "DETACH", "CHECK",
    "DELETE", "UPDATE", "EXCHANGE", "UNDROP", "BACKUP", "RESTORE", "MOVE", "WATCH", "BEGIN", "COMMIT", "ROLLBACK",
    "REPLACE", "UNDO", "VALUES", "FROM",
})
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")

# Statements that never change what a view or table is: after any other one (a DDL, a statement
# whose first word cannot be told) the remembered read-only verdicts are dropped.
CATALOGUE_KEEPING_KINDS = READ_KINDS | {"INSERT", "DELETE", "UPDATE", "SET", "USE", "SYSTEM", "OPTIMIZE", "KILL",
                                        "TRUNCATE", "CHECK", "BEGIN", "COMMIT", "ROLLBACK"}
# Request headers clients send instead of URL parameters (the JDBC driver does).
_QUERY_ID = re.compile(r"^[\x20-\x7e]{1,256}$")
# "Maybe you meant ops.secret?": the engine's guess at a name, from every database.
_HINT = re.compile(r"[.,;]?\s*Maybe you meant\b.*$", re.S)
HEADER_PARAMS = {"x-clickhouse-format": "default_format", "x-clickhouse-database": "database"}


class OlapApp:
    """Request routing: who asks (users.py), the body (request_body.py), the connection (connections.py), the
    statement run and its answer (streaming.py); the Starlette app is built around one instance."""

    def __init__(self, engine: Engine, users: dict[str, User], limits: ReaderLimits | None = None,
                 body_idle_seconds: float = BODY_IDLE_SECONDS):
        self.engine = engine
        self.users = users
        self.limits = limits or ReaderLimits()
        self.body_idle_seconds = body_idle_seconds
        self.sessions = Sessions(engine.open)
        self.insert_targets = TargetTables(lambda: engine.generation)

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def root(self, request: Request) -> Response:
        query_id = request.query_params.get("query_id") or str(uuid.uuid4())
        bad_query_id = not _QUERY_ID.match(query_id)
        if bad_query_id:  # it goes back in a header: never a byte a header cannot carry
            query_id = str(uuid.uuid4())
        base_headers = {
            "X-ClickHouse-Server-Display-Name": "bionicflow-olap",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
        }
        if request.method == "GET" and "query" not in request.query_params:
            return PlainTextResponse("Ok.\n", headers=base_headers)
        user: User | None = None
        texts: list[RequestText] = []
        try:
            base_headers = {**asked_response_headers(request.query_params), **base_headers}
            if bad_query_id:
                raise ClickHouseError(36, "BAD_ARGUMENTS", "query_id must be 1 to 256 printable ASCII characters")
            params, form_sent, files = dict(request.query_params), False, {}
            for header, name in HEADER_PARAMS.items():
                if header in request.headers:
                    params.setdefault(name, request.headers[header])
            # Who asks comes from the head (URL, headers) alone, as in ClickHouse: nothing of the
            # body is read for a client not known yet.
            user = authenticate(self.users, request, params)
            body_limit = READER_MAX_BODY_BYTES if user.readonly else None
            check_declared_length(request, body_limit)
            # Large bound parameters arrive as multipart fields (query, param_*). A urlencoded body
            # (curl --data-binary's default type) is the query or data itself, as ClickHouse reads it.
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                if body_limit is not None and "content-length" not in request.headers:
                    raise ClickHouseError(
                        36, "BAD_ARGUMENTS", "a read-only user's multipart request must declare its Content-Length")
                form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS,
                                          max_part_size=READER_MAX_QUERY_BYTES if user.readonly else MAX_QUERY_BYTES)
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
                files = {k: await v.read() for k, v in form.items() if isinstance(v, UploadFile)}  # external data
                form_sent = True
            return await self._execute(request, params, form_sent, user, base_headers, files, texts)
        except ClickHouseError as err:
            for text in texts:  # about the client's own text: its positions, its calls of queryID() …
                err.message = text.client_message(err.message)
            if user is None or user.readonly:  # the engine's hints name tables of databases the reader may not see
                err.message = _HINT.sub("", err.message)
            # parameter names only: values may be secrets (postgresql() passwords are bound)
            log.log(logging.ERROR if err.name in SERVER_FAULTS else logging.INFO,
                    "query %s failed: %s (%s); bound parameters: %s", query_id, err.name, err.code,
                    sorted(k for k in locals().get("params", {}) if k.startswith("param_")))
            out = {**base_headers, "X-ClickHouse-Exception-Code": str(err.code)}
            if err.name == "REQUIRED_PASSWORD":
                out["WWW-Authenticate"] = 'Basic realm="bionicflow OLAP server", charset="UTF-8"'
            # compressed as a result would be: a client that asked for it decompresses whatever comes back
            compressed = locals().get("params", {}).get("enable_http_compression") in ("1", "true")
            body, encoding = compress_response(err.body(self.engine.version).encode(),
                                               request.headers.get("accept-encoding", ""), compressed)
            if encoding:
                out["Content-Encoding"] = encoding
            return Response(body, status_code=err.http_status, headers=out, media_type=NO_FORMAT_TYPE)

    async def _execute(self, request: Request, params: dict, form_sent: bool, user: User, headers: dict,
                       files: dict[str, bytes], texts: list[RequestText]) -> Response:
        opts = read_options(params, external_parameter_names(files))
        external = external_tables(files, params)
        zone = opts.settings.get("session_timezone", "")
        if _ZONE_NAME.match(zone):  # the zone the result's date-times are in, as ClickHouse names it to the client
            headers = {**headers, "X-ClickHouse-Timezone": zone}
        # `readonly=1|2` asked by any user makes the request read-only (a GET is): it is never
        # SET on a connection, where it would outlive the request and refuse the next one's SET.
        asked = opts.settings.get("readonly") if user.readonly else opts.settings.pop("readonly", None)
        readonly = user.readonly or request.method == "GET" or asked not in (None, "", "0")
        if user.readonly:
            check_reader_database(opts.database, user.databases)
        decompressor = NativeBlocks() if opts.decompress else request_decompressor(
            request.headers.get("content-encoding", ""))
        body = BodyReader(request, decompressor, consumed=form_sent,
                           limit=READER_MAX_BODY_BYTES if user.readonly else None, idle_seconds=self.body_idle_seconds)
        param_query = params.get("query", "")

        settings = None
        if user.readonly:
            settings = reader_settings(opts.settings, self.limits)
            settings["additional_table_filters"] = catalogue_filters(user.databases)

        head, first_data = await insert_head(param_query, body)
        sql = kind = None
        if head is None:  # the whole statement is read before a slot or a connection is held
            texts.append(request_text(await whole_query(param_query, first_data, body,
                                                        READER_MAX_QUERY_BYTES if user.readonly else MAX_QUERY_BYTES),
                                      headers["X-ClickHouse-Query-Id"], user.name))
            sql = texts[-1].sql
            if statement_count(sql) > 1:
                raise multi_statement_error()
            check_query_params(sql, opts.query_params)
            kind = first_keyword(sql)
            if not user.readonly:  # the reader's checker refuses it too, as ACCESS_DENIED
                refuse_outfile(sql)
                refuse_input_function(sql, kind)
        elif readonly:
            raise ClickHouseError(164, "READONLY", f"{user.name}: Cannot execute query in readonly mode")
        async with contextlib.AsyncExitStack() as scope:  # a streamed result takes the scope with it
            await scope.enter_async_context(self.engine.slots.hold(user.readonly))
            held = await scope.enter_async_context(
                request_connection(self.engine, self.sessions, user, readonly, opts, settings, params,
                                   kind or "INSERT"))
            conn = held.conn
            if head is not None:
                summary = await stream_insert(conn, head, first_data, body, self.insert_targets, held.database)
                held.reusable = True  # a streamed INSERT changes no setting of the connection
                # as ClickHouse answers an INSERT: its default output format's type, with no body
                return Response(b"", headers={**headers, "X-ClickHouse-Summary": summary_header(summary)},
                                media_type=media_type(opts.default_format or "TabSeparated"))
            assert sql is not None and kind is not None  # read above: the statement is not a streamed INSERT
            generation = self.engine.generation  # a DDL from now until the statement starts makes the verdict stale
            if user.readonly and not self.engine.passed_check(sql, opts.query_params, user.databases,
                                                              opts.database or "default"):
                await in_worker(self.engine.check_readonly_query, conn, sql, opts.query_params, user.databases,
                                opts.database or "default")
            elif readonly and kind not in READ_KINDS:  # a GET or readonly=1 (the connection is not read-only itself)
                if kind not in STATEMENT_KEYWORDS:  # no statement at all: its syntax error comes first, as there
                    await in_worker(self.engine.parse, conn, sql, opts.query_params)
                raise ClickHouseError(164, "READONLY", f"{user.name}: Cannot execute query in readonly mode: "
                                      "a GET or readonly request may only read; send writes with POST")
            fmt, _ = output_format(sql, opts.default_format)
            native = await self._native_for_client(conn, params, fmt, kind, sql, opts)
            if kind in STREAMABLE_KINDS and not external and fmt.lower() in STREAMABLE_FORMATS \
                    and not json_array_of_rows(opts) \
                    and params.get("wait_end_of_query") not in ("1", "true"):
                return await streamed(self.engine, request, scope, held, sql, fmt, opts, headers, native,
                                            lambda: user.readonly and self.engine.generation != generation)
            if external and user.readonly:
                await in_worker(self.engine.check_external, conn, external, user.databases)
            loaded = []  # only these are dropped after: a session's own table of the same name stays
            try:
                for table in external:  # temporary tables of this connection: it is not handed on afterwards
                    await in_worker(self.engine.load_external, conn, table)
                    loaded.append(table)
                if kind == "KILL":
                    sql = self.engine.running.kill_statement(sql)
                result = await watched(self.engine, request,
                                       lambda tagged: run_query(conn, tagged, fmt, opts.query_params),
                                       sql, cancel_on_disconnect=user.readonly or kind in READ_KINDS,
                                       query_id=headers["X-ClickHouse-Query-Id"])
            finally:
                if kind not in CATALOGUE_KEEPING_KINDS:  # it may have changed the catalogue, even failing
                    self.engine.catalogue_changed()  # half-way (a RENAME of three tables that stops at the third)
                for table in loaded if params.get("session_id") else ():
                    await in_worker(self.engine.drop_external, conn, table)  # a session keeps its connection
            if user.readonly and self.engine.generation != generation:
                raise catalogue_moved()
            held.reusable = kind in READ_KINDS and not external  # SET, USE, DDL leave state behind: those close
        if native is not None:
            result = QueryResult(native.blocks(result.data, result.rows), result.summary)
        elif fmt.lower() in PROGRESS_ROW_FORMATS:
            result = QueryResult(progress_first(result.data), result.summary)
        if opts.compress:
            data = native_compress(result.data, opts.settings.get("network_compression_method", "lz4").lower())
            encoding = None
        else:
            data, encoding = compress_response(result.data, request.headers.get("accept-encoding", ""),
                                               opts.settings.get("enable_http_compression") == "1")
        return Response(data, headers=result_headers(headers, opts, kind, fmt, result, encoding),
                        media_type=media_type(fmt, json_array_of_rows(opts)))

    async def _native_for_client(self, conn, params: dict, fmt: str, kind: str, sql: str,
                                 opts) -> NativeForRevision | None:
        """How to rewrite a Native result for the client's `client_protocol_version` (None: as the engine writes it)."""
        revision = client_revision(params)
        if fmt.lower() != "native" or not NativeForRevision.wanted(revision):
            return None
        types = None
        if revision >= TIME_ZONE_REVISION and kind in STREAMABLE_KINDS:
            database = opts.database or "default"
            types = self.engine.remembered_result_types(sql, opts.query_params, database)
            if types is UNKNOWN:  # not described yet: a DESCRIBE on the request's connection
                types = await in_worker(self.engine.result_types, conn, sql, opts.query_params, database)
        return NativeForRevision(revision, types)

PLAY_PAGE = Path(__file__).with_name("play.html")
# The page loads nothing from elsewhere and talks to this server only.
PLAY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
               "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


async def play(request: Request) -> Response:
    """A SQL page (ClickHouse's users expect /play): the query runs as the user typed into it, over `/`."""
    return HTMLResponse(PLAY_PAGE.read_text(encoding="utf-8"),
                        headers={"Content-Security-Policy": PLAY_POLICY, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-store"})


def build_app(engine: Engine, users: dict[str, User], limits: ReaderLimits | None = None,
              body_idle_seconds: float = BODY_IDLE_SECONDS) -> Starlette:
    handler = OlapApp(engine, users, limits, body_idle_seconds)
    return Starlette(
        routes=[
            Route("/ping", handler.ping, methods=["GET", "HEAD"]),
            Route("/play", play, methods=["GET"]),
            Route("/replicas_status", handler.ping, methods=["GET"]),
            Route("/", handler.root, methods=["GET", "POST"]),
        ],
        lifespan=_lifespan(handler),
    )


def _lifespan(handler: OlapApp):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        handler.sessions.close_all()  # after uvicorn has drained in-flight requests
        handler.engine.pool.close_all()
        handler.engine.close()

    return lifespan


def main() -> None:
    """Serve the OLAP data directory of the configured state dir."""
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = Engine(settings.state_dir / "olap" / "data")
    log.info("chdb %s serving %s on %s:%s", engine.version, engine.data_dir, settings.host, settings.olap_port)
    GuardedHttp.head_seconds = settings.olap_head_timeout_seconds
    uvicorn.run(
        build_app(engine, users_from_settings(settings), limits_from_settings(settings),
                  settings.olap_body_idle_seconds),
        host=settings.host,
        port=settings.olap_port,
        log_level="warning",
        timeout_graceful_shutdown=30,
        http=GuardedHttp,  # head size and time limits before anything else (http_guard.py)
    )

