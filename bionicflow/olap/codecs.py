"""HTTP body encodings of the OLAP server: request bodies decompressed while they stream, responses compressed.

gzip, deflate, br, lz4 and zstd, as ClickHouse accepts and answers them.
"""

from __future__ import annotations

import zlib

import brotli
import lz4.frame
from backports.zstd import ZstdCompressor, ZstdDecompressor

from bionicflow.olap.protocol import ClickHouseError


class _BrotliFrame:
    """brotli's streaming decompressor with the eof/unused_data interface of zlib's."""

    def __init__(self):
        self._inner = brotli.Decompressor()
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return self._inner.is_finished()

    def decompress(self, data: bytes) -> bytes:
        return self._inner.process(data)


class Frames:
    """Decompresses a body made of one or more concatenated frames (gzip members, LZ4/zstd frames).

    clickhouse-connect sends each block of an insert as its own frame.
    """

    def __init__(self, factory):
        self._factory = factory
        self._current = factory()

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._current.decompress(data))
            if not self._current.eof:
                break
            data = self._current.unused_data
            self._current = self._factory()
        return b"".join(out)


def request_decompressor(encoding: str) -> Frames | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding == "gzip":
        return Frames(lambda: zlib.decompressobj(wbits=31))
    if encoding == "deflate":
        return Frames(zlib.decompressobj)
    if encoding == "lz4":
        return Frames(lz4.frame.LZ4FrameDecompressor)
    if encoding == "zstd":
        return Frames(ZstdDecompressor)
    if encoding == "br":
        return Frames(_BrotliFrame)
    raise ClickHouseError(
        415, "UNKNOWN_COMPRESSION_METHOD",
        f"Content-Encoding {encoding!r} is not supported; use gzip, deflate, br, lz4, zstd or none",
    )


# Response encodings in the order the server prefers them when a client accepts several.
_RESPONSE_ENCODERS = {
    "lz4": lambda data: lz4.frame.compress(data),
    "zstd": lambda data: ZstdCompressor(level=1).compress(data, ZstdCompressor.FLUSH_FRAME),
    "br": lambda data: brotli.compress(data, quality=1),
    "gzip": lambda data: zlib.compress(data, 1, wbits=31),
    "deflate": lambda data: zlib.compress(data, 1),
}


def compress_response(data: bytes, accept: str, enabled: bool) -> tuple[bytes, str | None]:
    """The body in the first encoding the client accepts (with enable_http_compression=1, as ClickHouse)."""
    if not enabled or not data:
        return data, None
    offered = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    for name, encode in _RESPONSE_ENCODERS.items():
        if name in offered:
            return encode(data), name
    return data, None
