"""Sending a result: whole or as the engine makes it, with ClickHouse's headers, and cancelled with its client."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
import uuid

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bionicflow.olap.codecs import response_encoder
from bionicflow.olap.connections import Held
from bionicflow.olap.engine import LOST_ERROR_TEXT, Engine, ResultStream, progress_header, run_query, summary_header
from bionicflow.olap.native_revision import NativeForRevision
from bionicflow.olap.protocol import ERROR_POSITION, ClickHouseError, in_stream_exception
from bionicflow.olap.workers import in_worker

log = logging.getLogger("bionicflow.olap")
# Statement tags: unique within the process (a counter), not guessable across restarts (a random prefix).
_TAG_PREFIX = secrets.token_hex(6)
_TAGS = itertools.count()
WATCH_AFTER_SECONDS = 0.2  # a read still running this long is watched for its client's disconnect
# Statements that only read: cancelled when their client goes away (ClickHouse's
# cancel_http_readonly_queries_on_client_close, here always on).
READ_KINDS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN"})


# The Content-Type ClickHouse's formats name (their getContentType): clients read it (@clickhouse/client's tests do).
NO_FORMAT_TYPE = "text/plain; charset=UTF-8"
_NEWLINE_JSON = ("jsoneachrow", "jsonlines", "ndjson", "jsonstringseachrow", "prettyjsoneachrow", "prettyjsonlines",
                 "jsonobjecteachrow")
_TAB_SEPARATED = ("tabseparated", "tsv", "raw", "tskv")  # Raw, RawWithNames…: TabSeparatedRaw's aliases
_PLAIN_TEXT = ("pretty", "vertical", "markdown", "values", "template", "null", "customseparated", "sqlinsert",
               "msgpack")


def media_type(fmt: str, json_array_of_rows: bool = False) -> str:
    lowered = fmt.lower()
    if lowered in _NEWLINE_JSON and json_array_of_rows:  # one JSON array of the rows, not a row a line
        return "application/json; charset=UTF-8"
    if lowered in _NEWLINE_JSON or lowered.startswith(("jsoneachrowwith", "jsonstringseachrowwith")):
        return "application/x-ndjson; charset=UTF-8"
    if lowered.startswith("json"):
        return "application/json; charset=UTF-8"
    if lowered.startswith(_TAB_SEPARATED):
        return "text/tab-separated-values; charset=UTF-8"
    if lowered.startswith("csv"):
        return f"text/csv; charset=UTF-8; header={'present' if 'withnames' in lowered else 'absent'}"
    if lowered == "xml":
        return "application/xml; charset=UTF-8"
    if lowered.startswith(_PLAIN_TEXT):
        return NO_FORMAT_TYPE
    return "application/octet-stream"


def json_array_of_rows(opts) -> bool:
    """`output_format_json_array_of_rows`: JSONEachRow becomes one array, so it is built whole, never streamed."""
    return opts.settings.get("output_format_json_array_of_rows", "").strip().lower() in ("1", "true")


def catalogue_moved() -> ClickHouseError:
    return ClickHouseError(394, "QUERY_WAS_CANCELLED", "a table or view changed while the statement was checked "
                                                       "and started: nothing was sent; send it again")


def result_headers(headers: dict, opts, kind: str, fmt: str, result, encoding: str | None) -> dict:
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


async def streamed(engine: Engine, request: Request, scope: contextlib.AsyncExitStack, held: Held, sql: str,
                   fmt: str, opts, headers: dict, native: NativeForRevision | None, stale=lambda: False) -> Response:
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
            data = native.blocks(whole.data, whole.rows) if native else whole.data
            return None, [data] if data else [], whole.summary
        second = fetch(stream) if first is not None else None
        return stream, [c for c in (first, second) if c is not None], stream.summary()

    def fetch(stream: ResultStream) -> bytes | None:
        chunk = stream.next()
        return native.blocks(chunk, stream.chunk_rows) if native and chunk is not None else chunk

    stream, head, summary = await watched(engine, request, start, sql, cancel_on_disconnect=True,
                                          query_id=headers["X-ClickHouse-Query-Id"], scope=scope)
    if stale():  # the catalogue changed between the check and the start: nothing of it is sent
        if stream is not None:
            await run_in_threadpool(stream.cancel)
        raise catalogue_moved()
    if stream is None or len(head) < 2:
        held.reusable = True
        data = b"".join(encoder.chunk(c) for c in head) + encoder.finish()
        out = {**headers, "X-ClickHouse-Format": fmt, "X-ClickHouse-Summary": summary_header(summary)}
        if opts.settings.get("send_progress_in_http_headers") == "1":
            out["X-ClickHouse-Progress"] = progress_header(summary)  # whole: the final numbers
        if encoder.name:
            out["Content-Encoding"] = encoder.name
        return Response(data, headers=out, media_type=media_type(fmt))
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
                yield encoder.chunk(in_stream_exception(tag, err.body(engine.version)))
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
    return StreamingResponse(body(), headers=out, media_type=media_type(fmt))


# Formats whose rows are interleaved with {"progress": …} rows as the query reads.
PROGRESS_ROW_FORMATS = frozenset({"jsoneachrowwithprogress", "jsonstringseachrowwithprogress"})
_PROGRESS_ROW = b'{"progress":'


def progress_first(data: bytes) -> bytes:
    """A whole result's progress rows first, as a server writes them when the reading ends before the first
    block is out (the engine, answering whole, writes them after the rows, totals and extremes)."""
    lines = data.split(b"\n")
    progress = [line for line in lines if line.startswith(_PROGRESS_ROW)]
    if not progress or lines[0].startswith(_PROGRESS_ROW):
        return data
    return b"\n".join([*progress, *(line for line in lines if not line.startswith(_PROGRESS_ROW))])


async def watched(engine: Engine, request: Request, work, sql: str, cancel_on_disconnect: bool, query_id: str,
                  scope: contextlib.AsyncExitStack | None = None):
    """Run ``work(sql)`` in a worker thread as the client's ``query_id`` (known until the statement ends, or the
    ``scope`` of a streamed result closes); a read whose client disconnects is killed at once, not left to run."""
    tag = f"/* bionicflow:{_TAG_PREFIX}{next(_TAGS)} */"  # server-made, so a kill finds this statement only
    if scope is not None:
        scope.enter_context(engine.running.running(query_id, tag))
        return await _tagged(engine, request, work, sql, tag, cancel_on_disconnect)
    with engine.running.running(query_id, tag):
        return await _tagged(engine, request, work, sql, tag, cancel_on_disconnect)


async def _tagged(engine: Engine, request: Request, work, sql: str, tag: str, cancel_on_disconnect: bool):

    async def kill_on_disconnect() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the body was read already; nothing else but the disconnect can arrive
        log.info("client went away: cancelling %s", tag)
        await in_worker(engine.kill, tag)

    # Most reads end well before anyone could notice a disconnect: the watcher (a plain
    # asyncio task) starts only when the statement is still running WATCH_AFTER_SECONDS
    # later, which keeps a task per read off the event loop and a kill within a second.
    watcher: list[asyncio.Future] = []
    start = asyncio.get_running_loop().call_later(
        WATCH_AFTER_SECONDS, lambda: watcher.append(asyncio.ensure_future(kill_on_disconnect()))
    ) if cancel_on_disconnect else None
    try:
        return await in_worker(work, f"{tag} {sql}")
    except ClickHouseError as err:
        err.message = untagged(err.message, tag)
        raise
    finally:
        if start is not None:
            start.cancel()
        for task in watcher:
            task.cancel()


def untagged(message: str, tag: str) -> str:
    """An engine error about ``tag`` + " " + the client's statement, as about the client's statement alone: the tag
    out of the quoted text and the positions counted in the client's text (a syntax error's position and column)."""
    shift = len(tag) + 1

    def back(match: re.Match) -> str:
        position = int(match.group(2))
        return match.group(1) + str(position - shift if position > shift else position)

    return ERROR_POSITION.sub(back, message.replace(f"{tag} ", ""))
