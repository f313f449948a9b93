"""A request's body: read under the user's limits, decompressed, as an INSERT's head and data or as query text."""

from __future__ import annotations

import re

import anyio
from starlette.requests import Request

from bionicflow.olap.binary_literals import query_from_bytes
from bionicflow.olap.protocol import ClickHouseError, InsertHead, parse_insert_head
from bionicflow.olap.sql_lexing import masked
from bionicflow.olap.staged_insert import TargetTables, open_insert
from bionicflow.olap.workers import in_worker

HEAD_PROBE_BYTES = 64 * 1024  # enough to hold any INSERT statement before its data
APPEND_BATCH_BYTES = 1024 * 1024  # hand the engine ~1 MiB at a time, not every socket read
MAX_QUERY_BYTES = 256 * 1024 * 1024
BODY_IDLE_SECONDS = 30.0  # ClickHouse's http_receive_timeout
# A read-only user's whole body (query text, or multipart fields and external data) and form shape.
READER_MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_FORM_FILES, MAX_FORM_FIELDS = 100, 1000
# A read-only user's statement text: ClickHouse's own max_query_size is 256 KiB; reports send a few KiB.
READER_MAX_QUERY_BYTES = 1024 * 1024


class BodyReader:
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
            except Exception as exc:  # corrupt compressed body: the encoding's own error, not a crash
                raise self._decompressor.failed(str(exc)) from None
        self._received += len(raw)
        if self._limit is not None and self._received > self._limit:
            raise too_large(self._limit)
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


def too_large(limit: int) -> ClickHouseError:
    return ClickHouseError(229, "QUERY_IS_TOO_LARGE", f"the request body is over {limit} bytes for this user")


def check_declared_length(request: Request, limit: int | None) -> None:
    """A declared body over the user's limit is refused before a byte of it is read."""
    declared = request.headers.get("content-length", "")
    if limit is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


async def insert_head(param_query: str, body: BodyReader) -> tuple[InsertHead | None, bytes]:
    """Find an ``INSERT ... FORMAT`` in the query parameter or the start of the body."""
    if param_query:
        # ClickHouse reads the query parameter, a newline, then the body as one text: data may begin in the former.
        text = param_query.encode() + b"\n"
        head = parse_insert_head(text)
        return head, text[head.data_offset:] if head is not None else b""
    probe = await body.read_at_least(HEAD_PROBE_BYTES)
    head = parse_insert_head(probe)
    if head is None:
        return None, probe
    return head, probe[head.data_offset :]


async def stream_insert(conn, head: InsertHead, first: bytes, body: BodyReader, tables: TargetTables,
                        current_database: str) -> dict:
    insert = await in_worker(open_insert, conn, head.statement, head.format, tables, current_database)
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


_COMMENT_START = re.compile(r"--|/\*|#")


async def whole_query(param_query: str, first: bytes, body: BodyReader, limit: int) -> str:
    rest = bytearray(first)
    too_large = ClickHouseError(229, "QUERY_IS_TOO_LARGE",
                                f"query text over {limit} bytes; send data with INSERT ... FORMAT")
    if len(rest) + len(param_query) > limit:
        raise too_large
    async for chunk in body.chunks():
        rest += chunk
        if len(rest) + len(param_query) > limit:
            raise too_large
    body_text = query_from_bytes(bytes(rest))
    text = param_query + ("\n" if param_query and rest else "") + body_text
    if not text.strip() or (_COMMENT_START.search(text) and not masked(text).strip()):  # blanks, or comments only
        raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")  # as its parser says it (EMPTY_QUERY is older)
    return text
