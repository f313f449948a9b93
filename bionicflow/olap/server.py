"""OLAP server: the chdb engine served over the ClickHouse HTTP protocol.

One long-lived process owns the chdb data directory (chdb allows one process per
directory) and answers clickhouse-connect, curl and ``?query=`` URLs unchanged.
Run it with ``python -m bionicflow.olap.server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from bionicflow.kernel.config import Settings, get_settings
from bionicflow.olap.access import catalogue_filters, check_reader_database
from bionicflow.olap.codecs import (NativeBlocks, compress_response, native_compress, request_decompressor,
                                    response_encoder)
from bionicflow.olap.http_guard import GuardedHttp
from bionicflow.olap.external import external_parameter_names, external_tables
from bionicflow.olap.engine import (LOST_ERROR_TEXT, STREAMABLE_FORMATS, STREAMABLE_KINDS, UNKNOWN, Engine, QueryResult,
                                    ResultStream, StreamingInsert, progress_header, run_query, summary_header)
from bionicflow.olap.limits import ReaderLimits, reader_settings
from bionicflow.olap.pool import Lease
from bionicflow.olap.native_revision import TIME_ZONE_REVISION, NativeForRevision
from bionicflow.olap.sessions import Sessions, session_timeout
from bionicflow.olap.workers import in_worker
from bionicflow.olap.protocol import (
    ClickHouseError,
    InsertHead,
    auth_failed,
    check_query_params,
    client_revision,
    in_stream_exception,
    password_required,
    first_keyword,
    multi_statement_error,
    output_format,
    parse_insert_head,
    read_credentials,
    read_options,
    statement_count,
)

log = logging.getLogger("bionicflow.olap")
# Statement tags: unique within the process (a counter), not guessable across restarts (a random prefix).
_TAG_PREFIX = secrets.token_hex(6)
_TAGS = itertools.count()
WATCH_AFTER_SECONDS = 0.2  # a read still running this long is watched for its client's disconnect

HEAD_PROBE_BYTES = 64 * 1024  # enough to hold any INSERT statement before its data
APPEND_BATCH_BYTES = 1024 * 1024  # hand the engine ~1 MiB at a time, not every socket read
MAX_QUERY_BYTES = 256 * 1024 * 1024
BODY_IDLE_SECONDS = 30.0  # ClickHouse's http_receive_timeout
# A read-only user's whole body (query text, or multipart fields and external data) and form shape.
READER_MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_FORM_FILES, MAX_FORM_FIELDS = 100, 1000
# A read-only user's statement text: ClickHouse's own max_query_size is 256 KiB; reports send a few KiB.
READER_MAX_QUERY_BYTES = 1024 * 1024
# Statements that only read: cancelled when their client goes away (ClickHouse's
# cancel_http_readonly_queries_on_client_close, here always on).
READ_KINDS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN"})
# Statements that never change what a view or table is: after any other one (a DDL, a statement
# whose first word cannot be told) the remembered read-only verdicts are dropped.
CATALOGUE_KEEPING_KINDS = READ_KINDS | {"INSERT", "DELETE", "UPDATE", "SET", "USE", "SYSTEM", "OPTIMIZE", "KILL",
                                        "TRUNCATE", "CHECK", "BEGIN", "COMMIT", "ROLLBACK"}
# Statements whose effect a session keeps (everything else leaves the session as it found it).
SESSION_STATE_KINDS = frozenset({"SET", "USE"})
# Request headers clients send instead of URL parameters (the JDBC driver does).
_QUERY_ID = re.compile(r"^[\x20-\x7e]{1,256}$")
# "Maybe you meant ops.secret?": the engine's guess at a name, from every database.
_HINT = re.compile(r"[.,;]?\s*Maybe you meant\b.*$", re.S)
HEADER_PARAMS = {"x-clickhouse-format": "default_format", "x-clickhouse-database": "database"}


@dataclass(frozen=True)
class User:
    name: str
    password: str
    readonly: bool
    databases: frozenset[str] = frozenset()  # read-only users: the only databases they may read


def limits_from_settings(settings: Settings) -> ReaderLimits:
    return ReaderLimits(settings.olap_reader_max_execution_time, settings.olap_reader_max_memory_usage,
                        settings.olap_reader_max_result_rows, settings.olap_reader_max_result_bytes)


def users_from_settings(settings: Settings) -> dict[str, User]:
    return {
        settings.clickhouse_user: User(
            settings.clickhouse_user, settings.clickhouse_password.get_secret_value(), readonly=False
        ),
        settings.clickhouse_reader_user: User(
            settings.clickhouse_reader_user, settings.clickhouse_reader_password.get_secret_value(), readonly=True,
            databases=frozenset(settings.clickhouse_reader_databases),
        ),
    }


class OlapApp:
    """Request handling; the Starlette app is built around one instance."""

    def __init__(self, engine: Engine, users: dict[str, User], limits: ReaderLimits | None = None,
                 body_idle_seconds: float = BODY_IDLE_SECONDS):
        self.engine = engine
        self.users = users
        self.limits = limits or ReaderLimits()
        self.body_idle_seconds = body_idle_seconds
        self.sessions = Sessions(engine.open)

    def authenticate(self, request: Request, params: dict) -> User:
        creds = read_credentials(request.headers, params)
        user = self.users.get(creds.user)
        given = creds.password.encode()
        if user is None or not hmac.compare_digest(given, user.password.encode()):
            raise password_required() if creds.anonymous else auth_failed(creds.user)
        return user

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
        user = None
        try:
            if bad_query_id:
                raise ClickHouseError(36, "BAD_ARGUMENTS", "query_id must be 1 to 256 printable ASCII characters")
            params, form_sent, files = dict(request.query_params), False, {}
            for header, name in HEADER_PARAMS.items():
                if header in request.headers:
                    params.setdefault(name, request.headers[header])
            # Who asks comes from the head (URL, headers) alone, as in ClickHouse: nothing of the
            # body is read for a client not known yet.
            user = self.authenticate(request, params)
            body_limit = READER_MAX_BODY_BYTES if user.readonly else None
            _check_declared_length(request, body_limit)
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
            return await self._execute(request, params, form_sent, user, base_headers, files)
        except ClickHouseError as err:
            if user is None or user.readonly:  # the engine's hints name tables of databases the reader may not see
                err.message = _HINT.sub("", err.message)
            # parameter names only: values may be secrets (postgresql() passwords are bound)
            log.info("query %s failed: %s (%s); bound parameters: %s", query_id, err.name, err.code,
                     sorted(k for k in locals().get("params", {}) if k.startswith("param_")))
            out = {**base_headers, "X-ClickHouse-Exception-Code": str(err.code)}
            if err.name == "REQUIRED_PASSWORD":
                out["WWW-Authenticate"] = 'Basic realm="bionicflow OLAP server", charset="UTF-8"'
            return PlainTextResponse(err.body(self.engine.version), status_code=err.http_status, headers=out)

    async def _execute(self, request: Request, params: dict, form_sent: bool, user: User, headers: dict,
                       files: dict[str, bytes]) -> Response:
        opts = read_options(params, external_parameter_names(files))
        external = external_tables(files, params)
        # `readonly=1|2` asked by any user makes the request read-only (a GET is): it is never
        # SET on a connection, where it would outlive the request and refuse the next one's SET.
        asked = opts.settings.get("readonly") if user.readonly else opts.settings.pop("readonly", None)
        readonly = user.readonly or request.method == "GET" or asked not in (None, "", "0")
        if user.readonly:
            check_reader_database(opts.database, user.databases)
        decompressor = NativeBlocks() if opts.decompress else request_decompressor(
            request.headers.get("content-encoding", ""))
        body = _BodyReader(request, decompressor, consumed=form_sent,
                           limit=READER_MAX_BODY_BYTES if user.readonly else None, idle_seconds=self.body_idle_seconds)
        param_query = params.get("query", "")

        settings = None
        if user.readonly:
            settings = reader_settings(opts.settings, self.limits)
            settings["additional_table_filters"] = catalogue_filters(user.databases)

        head, first_data = await self._insert_head(param_query, body)
        sql = kind = None
        if head is None:  # the whole statement is read before a slot or a connection is held
            sql = await self._whole_query(param_query, first_data, body,
                                          READER_MAX_QUERY_BYTES if user.readonly else MAX_QUERY_BYTES)
            if statement_count(sql) > 1:
                raise multi_statement_error()
            check_query_params(sql, opts.query_params)
            kind = first_keyword(sql)
        elif readonly:
            raise ClickHouseError(164, "READONLY", f"{user.name}: Cannot execute query in readonly mode")
        async with contextlib.AsyncExitStack() as scope:  # a streamed result takes the scope with it
            await scope.enter_async_context(self.engine.slots.hold(user.readonly))
            held = await scope.enter_async_context(
                self._connection(user, readonly, opts, settings, params, kind or "INSERT"))
            conn = held.conn
            if head is not None:
                summary = await self._stream_insert(conn, head, first_data, body)
                held.reusable = True  # a streamed INSERT changes no setting of the connection
                return Response(b"", headers={**headers, "X-ClickHouse-Summary": summary_header(summary)})
            assert sql is not None and kind is not None  # read above: the statement is not a streamed INSERT
            generation = self.engine.generation  # a DDL from now until the statement starts makes the verdict stale
            if user.readonly and not self.engine.passed_check(sql, opts.query_params, user.databases,
                                                              opts.database or "default"):
                await in_worker(self.engine.check_readonly_query, conn, sql, opts.query_params, user.databases,
                                opts.database or "default")
            elif readonly and kind not in READ_KINDS:  # a GET or readonly=1 (the connection is not read-only itself)
                raise ClickHouseError(164, "READONLY", f"{user.name}: Cannot execute query in readonly mode: "
                                      "a GET or readonly request may only read; send writes with POST")
            fmt, _ = output_format(sql, opts.default_format)
            native = await self._native_for_client(conn, params, fmt, kind, sql, opts)
            if kind in STREAMABLE_KINDS and not external and fmt.lower() in STREAMABLE_FORMATS \
                    and params.get("wait_end_of_query") not in ("1", "true"):
                return await self._streamed(request, scope, held, sql, fmt, opts, headers, native,
                                            lambda: user.readonly and self.engine.generation != generation)
            if external and user.readonly:
                await in_worker(self.engine.check_external, conn, external, user.databases)
            try:
                for table in external:  # temporary tables of this connection: it is not handed on afterwards
                    await in_worker(self.engine.load_external, conn, table)
                result = await self._watched(request, lambda tagged: run_query(conn, tagged, fmt, opts.query_params),
                                             sql, cancel_on_disconnect=user.readonly or kind in READ_KINDS)
            finally:
                if kind not in CATALOGUE_KEEPING_KINDS:  # it may have changed the catalogue, even failing
                    self.engine.catalogue_changed()  # half-way (a RENAME of three tables that stops at the third)
                for table in external if params.get("session_id") else ():
                    await in_worker(self.engine.drop_external, conn, table)  # a session keeps its connection
            if user.readonly and self.engine.generation != generation:
                raise _catalogue_moved()
            held.reusable = kind in READ_KINDS and not external  # SET, USE, DDL leave state behind: those close
        if native is not None:
            result = QueryResult(native.blocks(result.data), result.summary)
        if opts.compress:
            data = native_compress(result.data, opts.settings.get("network_compression_method", "lz4").lower())
            encoding = None
        else:
            data, encoding = compress_response(result.data, request.headers.get("accept-encoding", ""),
                                               opts.settings.get("enable_http_compression") == "1")
        return Response(data, headers=self._result_headers(headers, opts, kind, fmt, result, encoding),
                        media_type=_media_type(fmt))

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

    @contextlib.asynccontextmanager
    async def _connection(self, user: User, readonly: bool, opts, settings: dict | None, params: dict, kind: str):
        """The request's engine connection: its session's (`session_id`), or one leased from the pool.

        Either way the request's database and settings hold for this request only.
        """
        session_id = params.get("session_id")
        wanted = opts.settings if settings is None else settings  # the reader's forced ones replace the client's
        if not session_id:
            pool = self.engine.pool
            lease, ready = pool.take_ready(readonly, opts.database, wanted)
            if not ready or lease is None:  # a new connection, or a USE / SET to run: blocking calls
                lease = await in_worker(pool.lease, readonly, opts.database, wanted, lease)
            held = _Held(lease.conn)
            try:
                yield held
            finally:
                if not pool.keep(lease, held.reusable):
                    await in_worker(lease.conn.close)
            return
        timeout = session_timeout(params.get("session_timeout"))
        check = params.get("session_check") in ("1", "true")
        async with self.sessions.use(user.name, session_id, user.readonly, timeout, check) as session:
            # SET and USE change what the session keeps: they run on its kept state alone.
            persistent = kind in SESSION_STATE_KINDS
            database = session.database if persistent else (opts.database or session.database)
            state = (database, dict(session.settings) if persistent else {**session.settings, **wanted})
            if session.current != state:
                lease = Lease(session.conn, readonly, *session.current)
                session.current = ("?", {})  # unknown until the change is through
                await in_worker(self.engine.pool.apply, lease, *state)
                session.current = state
            held = _Held(session.conn)
            try:
                yield held
            finally:
                if not held.reusable and not persistent and not await in_worker(self.engine.settled, session.conn):
                    session.broken = True  # a failed or cancelled stream left output behind: the session ends
                if persistent:  # what the statement left (also when it failed half-way)
                    try:
                        kept = await in_worker(self.engine.connection_state, session.conn)
                    except ClickHouseError:
                        session.broken = True
                    else:
                        session.database, session.settings = kept
                        session.current = kept

    @staticmethod
    def _result_headers(headers: dict, opts, kind: str, fmt: str, result, encoding: str | None) -> dict:
        out = {**headers, "X-ClickHouse-Summary": summary_header(result.summary)}
        # A statement without a result (DDL, INSERT … SELECT, SET) names no format, as in ClickHouse:
        # clients read that as "no rows, here is the summary" (clickhouse-connect's command()).
        if result.data or kind in READ_KINDS:
            out["X-ClickHouse-Format"] = fmt
        if opts.settings.get("send_progress_in_http_headers") == "1":
            # results are built before they are sent, so the one progress header is the final one
            out["X-ClickHouse-Progress"] = progress_header(result.summary)
        if encoding:
            out["Content-Encoding"] = encoding
        return out

    async def _streamed(self, request: Request, scope: contextlib.AsyncExitStack, held: _Held, sql: str, fmt: str,
                        opts, headers: dict, native: NativeForRevision | None, stale=lambda: False) -> Response:
        """Send the result as the engine makes it.

        A failure after the first byte is ClickHouse's in-stream exception.
        """
        encoder = response_encoder(request.headers.get("accept-encoding", ""),
                                   opts.settings.get("enable_http_compression") == "1",
                                   opts.settings.get("network_compression_method", "lz4").lower()
                                   if opts.compress else None)

        def start(tagged: str) -> tuple[ResultStream | None, list[bytes], dict]:
            """The first two chunks: an error before them is still an ordinary error response, and a
            result that ends there (most reads) is answered whole, with its final summary."""
            stream = None
            try:
                stream = ResultStream(held.conn, tagged, fmt, opts.query_params)
                first = fetch(stream)
            except ClickHouseError as err:
                # chdb streams refuse some statements, and lose an error whose text is not UTF-8
                # (its code with it): those run whole, which gives the engine's own answer
                if "Streaming query is not supported" not in err.message and err.message != LOST_ERROR_TEXT:
                    raise
                if stream is not None:
                    stream.cancel()
                    Engine.settled(held.conn)  # what the failed stream left is read off first
                whole = run_query(held.conn, tagged, fmt, opts.query_params)  # a statement the engine sends whole
                data = native.blocks(whole.data) if native else whole.data
                return None, [data] if data else [], whole.summary
            second = fetch(stream) if first is not None else None
            return stream, [c for c in (first, second) if c is not None], stream.summary()

        def fetch(stream: ResultStream) -> bytes | None:
            chunk = stream.next()
            return native.blocks(chunk, stream.chunk_rows) if native and chunk is not None else chunk

        stream, head, summary = await self._watched(request, start, sql, cancel_on_disconnect=True)
        if stale():  # the catalogue changed between the check and the start: nothing of it is sent
            if stream is not None:
                await run_in_threadpool(stream.cancel)
            raise _catalogue_moved()
        if stream is None or len(head) < 2:
            held.reusable = True
            data = b"".join(encoder.chunk(c) for c in head) + encoder.finish()
            out = {**headers, "X-ClickHouse-Format": fmt, "X-ClickHouse-Summary": summary_header(summary)}
            if opts.settings.get("send_progress_in_http_headers") == "1":
                out["X-ClickHouse-Progress"] = progress_header(summary)  # whole: the final numbers
            if encoder.name:
                out["Content-Encoding"] = encoder.name
            return Response(data, headers=out, media_type=_media_type(fmt))
        tag = uuid.uuid4().hex[:16]
        body_scope = scope.pop_all()  # the slot and the connection now live as long as the body

        async def body():
            finished = False
            try:
                try:
                    for chunk in head:
                        yield encoder.chunk(chunk)
                    # anyio's hop here: the body runs in StreamingResponse's task group, whose
                    # cancellation anyio delivers again and again until the hop has ended
                    while (chunk := await run_in_threadpool(fetch, stream)) is not None:
                        yield encoder.chunk(chunk)
                    finished = True
                except ClickHouseError as err:
                    log.info("query failed after its first bytes: %s (%s)", err.name, err.code)
                    yield encoder.chunk(in_stream_exception(tag, err.body(self.engine.version)))
                yield encoder.finish()
            finally:
                with anyio.CancelScope(shield=True):  # also when the client went away mid-stream
                    if not finished:
                        await run_in_threadpool(stream.cancel)
                    held.reusable = finished
                    await body_scope.aclose()

        out = {**headers, "X-ClickHouse-Format": fmt, "X-ClickHouse-Exception-Tag": tag,
               "X-ClickHouse-Summary": summary_header(stream.summary())}
        if encoder.name:
            out["Content-Encoding"] = encoder.name
        return StreamingResponse(body(), headers=out, media_type=_media_type(fmt))

    async def _watched(self, request: Request, work, sql: str, cancel_on_disconnect: bool):
        """Run ``work(sql)`` in a worker thread; a read whose client disconnects is killed at once, not left to run."""
        if not cancel_on_disconnect:
            return await in_worker(work, sql)
        tag = f"/* bionicflow:{_TAG_PREFIX}{next(_TAGS)} */"  # server-made, so the kill finds this statement only

        async def kill_on_disconnect() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass  # the body was read already; nothing else but the disconnect can arrive
            log.info("client went away: cancelling %s", tag)
            await in_worker(self.engine.kill, tag)

        # Most reads end well before anyone could notice a disconnect: the watcher (a plain
        # asyncio task) starts only when the statement is still running WATCH_AFTER_SECONDS
        # later, which keeps a task per read off the event loop and a kill within a second.
        watcher: list[asyncio.Future] = []
        start = asyncio.get_running_loop().call_later(
            WATCH_AFTER_SECONDS, lambda: watcher.append(asyncio.ensure_future(kill_on_disconnect())))
        try:
            return await in_worker(work, f"{tag} {sql}")
        finally:
            start.cancel()
            for task in watcher:
                task.cancel()

    async def _insert_head(self, param_query: str, body: _BodyReader) -> tuple[InsertHead | None, bytes]:
        """Find an ``INSERT ... FORMAT`` in the query parameter or the start of the body."""
        if param_query:
            # ClickHouse reads the query parameter, a newline, then the body as one text.
            head = parse_insert_head(param_query.encode() + b"\n")
            return head, b""
        probe = await body.read_at_least(HEAD_PROBE_BYTES)
        head = parse_insert_head(probe)
        if head is None:
            return None, probe
        return head, probe[head.data_offset :]

    async def _stream_insert(self, conn, head: InsertHead, first: bytes, body: _BodyReader) -> dict:
        insert = await in_worker(StreamingInsert, conn, head.statement, head.format)
        try:
            pending = bytearray(first)
            async for chunk in body.chunks():
                pending += chunk
                if len(pending) >= APPEND_BATCH_BYTES:
                    await in_worker(insert.append, bytes(pending))
                    pending.clear()
            if pending:
                await in_worker(insert.append, bytes(pending))
            return await in_worker(insert.finish)
        except BaseException:
            await in_worker(insert.cancel)
            raise

    async def _whole_query(self, param_query: str, first: bytes, body: _BodyReader, limit: int) -> str:
        rest = bytearray(first)
        too_large = ClickHouseError(229, "QUERY_IS_TOO_LARGE",
                                    f"query text over {limit} bytes; send data with INSERT ... FORMAT")
        if len(rest) + len(param_query) > limit:
            raise too_large
        async for chunk in body.chunks():
            rest += chunk
            if len(rest) + len(param_query) > limit:
                raise too_large
        try:
            body_text = rest.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise ClickHouseError(
                36, "BAD_ARGUMENTS",
                f"the query is not valid UTF-8 (byte 0x{rest[exc.start]:02x} at position {exc.start}); "
                "the engine takes query text as UTF-8: send binary values as query parameters (param_x) "
                "or as INSERT data",
            ) from None
        text = param_query + ("\n" if param_query and rest else "") + body_text
        if not text.strip():
            raise ClickHouseError(211, "EMPTY_QUERY", "Empty query")
        return text


@dataclass
class _Held:
    """The connection a request runs on, and whether it may serve the next request (set on success)."""

    conn: object
    reusable: bool = False


class _BodyReader:
    """The request body, decompressed, readable in a probe then in chunks.

    A client that stops sending for ``BODY_IDLE_SECONDS`` is answered 408; ``limit`` bounds the
    decompressed bytes (a read-only user's whole body).
    """

    def __init__(self, request: Request, decompressor, consumed: bool = False, limit: int | None = None,
                 idle_seconds: float = BODY_IDLE_SECONDS):
        self._stream = request.stream()
        self._decompressor = decompressor
        self._buffer = bytearray()
        self._done = consumed  # a form body was already read for its fields
        self._limit = limit
        self._received = 0
        self._idle_seconds = idle_seconds

    async def _next(self) -> bytes | None:
        try:
            with anyio.fail_after(self._idle_seconds):
                raw = await self._stream.__anext__()
        except TimeoutError:
            raise ClickHouseError(
                159, "TIMEOUT_EXCEEDED",
                f"no request body data for {self._idle_seconds:g} s: the request is abandoned") from None
        except StopAsyncIteration:
            self._done = True
            if hasattr(self._decompressor, "finish"):
                self._decompressor.finish()
            return None
        if self._decompressor is not None:
            try:
                # off the event loop: a small body may inflate a great deal before its limit stops it
                raw = await in_worker(self._decompressor.decompress, raw,
                                      None if self._limit is None else self._limit - self._received)
            except ClickHouseError:
                raise
            except Exception as exc:  # corrupt compressed body: a client error, not a crash
                raise ClickHouseError(
                    271, "CANNOT_DECOMPRESS", f"request body does not decompress: {exc}"
                ) from None
        self._received += len(raw)
        if self._limit is not None and self._received > self._limit:
            raise _too_large(self._limit)
        return raw

    async def read_at_least(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._done:
            chunk = await self._next()
            if chunk:
                self._buffer += chunk
        data, self._buffer = bytes(self._buffer), bytearray()
        return data

    async def chunks(self):
        while not self._done:
            chunk = await self._next()
            if chunk:
                yield chunk


def _catalogue_moved() -> ClickHouseError:
    return ClickHouseError(394, "QUERY_WAS_CANCELLED", "a table or view changed while the statement was checked "
                                                       "and started: nothing was sent; send it again")


def _too_large(limit: int) -> ClickHouseError:
    return ClickHouseError(229, "QUERY_IS_TOO_LARGE", f"the request body is over {limit} bytes for this user")


def _check_declared_length(request: Request, limit: int | None) -> None:
    """A declared body over the user's limit is refused before a byte of it is read."""
    declared = request.headers.get("content-length", "")
    if limit is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


def _media_type(fmt: str) -> str:
    lowered = fmt.lower()
    if lowered.startswith("json"):
        return "application/json"
    if lowered.startswith(("tabseparated", "tsv", "csv", "pretty", "vertical", "markdown", "values")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


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


if __name__ == "__main__":
    main()
