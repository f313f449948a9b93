"""Limits on what a client may make the server hold before anyone knows who it is.

ClickHouse authenticates a request from its head; until then a client should cost the server
next to nothing. uvicorn (with httptools) reads a request head of any size and waits for it
forever, so the server runs this protocol instead: a head over ``MAX_HEAD_BYTES`` gets 431, a
head not complete ``HEAD_SECONDS`` after its first byte (or after the connection opened) gets
408, both with the connection closed. The body's own limits (size, pace) are the handler's:
it knows the user by then.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 128 * 1024  # ClickHouse's http_max_field_value_size; clients send a few hundred bytes
HEAD_SECONDS = 10.0


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size and a time limit on every request head."""

    head_seconds = HEAD_SECONDS  # the server sets it from olap_head_timeout_seconds

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(b"431 Request Header Fields Too Large",
                         f"the request head is over {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # the next request on a kept-alive connection: its head's clock starts
            self._head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # idle between requests is uvicorn's keep-alive timeout; the next head's clock starts at its first byte
        self._in_head, self._head_bytes = True, 0
        self._cancel_head_timer()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout", f"the request head did not arrive within {self.head_seconds:g} s")

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: bytes, message: str) -> None:
        body = message.encode()
        self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        self.transport.close()
