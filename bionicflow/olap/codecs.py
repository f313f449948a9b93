"""Body encodings of the OLAP server: request bodies decompressed while they stream, responses compressed.

HTTP's (gzip, deflate, br, lz4, zstd, xz, bz2) and ClickHouse's own compressed blocks (`compress=1`,
`decompress=1`, what the JDBC driver asks for by default), as ClickHouse accepts and answers them.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable
from typing import Protocol

import brotli
import lz4.block
import lz4.frame
from backports.zstd import ZstdCompressor, ZstdDecompressor
from clickhouse_cityhash.cityhash import CityHash128

from bionicflow.olap.protocol import ClickHouseError


PIECE_BYTES = 1024 * 1024  # decompressed output is made at most this much at a time
MAX_BLOCK_BYTES = 1024 ** 3  # ClickHouse refuses a compressed block declaring more (as it does)


class BodyTooLarge(ClickHouseError):
    def __init__(self, limit: int):
        super().__init__(229, "QUERY_IS_TOO_LARGE", f"the request body is over {limit} bytes for this user")


class _Pieces:
    """A frame decompressor (zlib's, lz4's or zstd's: ``eof``, ``unused_data``) whose output comes a piece at a time."""

    def __init__(self, inner):
        self._inner = inner

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data


class _Zlib(_Pieces):
    """zlib's decompressor, giving its output a piece at a time (a bomb never lands in memory whole)."""

    def __init__(self, wbits: int):
        super().__init__(zlib.decompressobj(wbits=wbits))

    def pieces(self, data: bytes):
        while True:
            yield self._inner.decompress(data, PIECE_BYTES)
            data = self._inner.unconsumed_tail
            if not data:
                return


class _Bounded(_Pieces):
    """An lz4/zstd frame decompressor (``max_length`` and ``needs_input``), a piece at a time."""

    def pieces(self, data: bytes):
        yield self._inner.decompress(data, PIECE_BYTES)
        while not self._inner.eof and not self._inner.needs_input:
            yield self._inner.decompress(b"", PIECE_BYTES)


class _BrotliFrame:
    """brotli's streaming decompressor with the eof/unused_data/pieces interface of the others."""

    def __init__(self):
        self._inner = brotli.Decompressor()
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return self._inner.is_finished()

    def pieces(self, data: bytes):
        yield self._inner.process(data, output_buffer_limit=PIECE_BYTES)
        while not self._inner.is_finished():  # brotli may hold input it has not turned into output yet
            piece = self._inner.process(b"", output_buffer_limit=PIECE_BYTES)
            if not piece:
                return
            yield piece


class Frames:
    """Decompresses a body made of one or more concatenated frames (gzip members, LZ4/zstd frames).

    clickhouse-connect sends each block of an insert as its own frame. Output is made a piece
    at a time and counted, so a body that inflates past ``limit`` is refused before it is held.
    ``error``: the code and name ClickHouse answers when a body in this encoding is corrupt.
    """

    def __init__(self, factory, error: tuple[int, str]):
        self._factory = factory
        self._current = factory()
        self._fed = False  # the current frame has begun
        self._error = error

    def failed(self, detail: str) -> ClickHouseError:
        return ClickHouseError(*self._error, f"the request body does not decompress: {detail}")

    def finish(self) -> None:
        """The body ended: a frame begun and not ended means it was cut off (ClickHouse refuses it too)."""
        if self._fed and not self._current.eof:
            raise self.failed("it ends inside a compressed frame")

    def decompress(self, data: bytes, limit: int | None = None) -> bytes:
        out, total = [], 0
        while data:
            self._fed = True
            for piece in self._current.pieces(data):
                total += len(piece)
                if limit is not None and total > limit:
                    raise BodyTooLarge(limit)
                out.append(piece)
            if not self._current.eof:
                break
            data = self._current.unused_data
            self._current, self._fed = self._factory(), False
        return b"".join(out)


# Each Content-Encoding's decompressor and the error ClickHouse's decoder of it raises.
_ENCODINGS: dict[str, tuple[Callable[[], object], tuple[int, str]]] = {
    "gzip": (lambda: _Zlib(31), (354, "ZLIB_INFLATE_FAILED")),
    "deflate": (lambda: _Zlib(15), (354, "ZLIB_INFLATE_FAILED")),
    "lz4": (lambda: _Bounded(lz4.frame.LZ4FrameDecompressor()), (618, "LZ4_DECODER_FAILED")),
    "zstd": (lambda: _Bounded(ZstdDecompressor()), (561, "ZSTD_DECODER_FAILED")),
    "br": (_BrotliFrame, (448, "BROTLI_READ_FAILED")),
    "xz": (lambda: _Bounded(lzma.LZMADecompressor()), (554, "LZMA_STREAM_DECODER_FAILED")),
    "bz2": (lambda: _Bounded(bz2.BZ2Decompressor()), (594, "BZIP2_STREAM_DECODER_FAILED")),
}
# the other names ClickHouse's chooseCompressionMethod takes for each (none and auto: no compression)
_ENCODING_ALIASES = {"gz": "gzip", "zst": "zstd", "brotli": "br", "lzma": "xz", "bzip2": "bz2"}


def request_decompressor(encoding: str) -> Frames | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none", "auto"):
        return None
    encoding = _ENCODING_ALIASES.get(encoding, encoding)
    if encoding in _ENCODINGS:
        factory, error = _ENCODINGS[encoding]
        return Frames(factory, error)
    raise ClickHouseError(
        48, "NOT_IMPLEMENTED",
        f"Unknown compression method {encoding!r}: Content-Encoding may be gzip, deflate, br, lz4, zstd, xz, bz2 "
        "or none",
    )


def compress_response(data: bytes, accept: str, enabled: bool) -> tuple[bytes, str | None]:
    """The body in the encoding ClickHouse picks of those the client accepts (with enable_http_compression=1)."""
    name = _accepted(accept) if enabled and data else None
    if name is None:
        return data, None
    encoder = _STREAM_ENCODERS[name]()
    return encoder.compress(data) + encoder.flush(), name


# ClickHouse's own compressed-block format (`compress=1` answers in it, `decompress=1` sends in it):
# per block a CityHash128 (v1.0.2) checksum of what follows, a method byte, the compressed size
# (header included) and the raw size as little-endian UInt32, then the compressed bytes.
NATIVE_METHODS = {"lz4": 0x82, "zstd": 0x90, "none": 0x02}
_NATIVE_HEADER = struct.Struct("<BII")
_CHECKSUM_SIZE = 16
NATIVE_BLOCK_BYTES = 1024 * 1024  # raw bytes per block, as ClickHouse's max_compress_block_size


def _checksum(block: bytes) -> bytes:
    value = CityHash128(block)
    return struct.pack("<QQ", (value >> 64) & 0xFFFFFFFFFFFFFFFF, value & 0xFFFFFFFFFFFFFFFF)


def _encode_native(raw: bytes, method: str) -> bytes:
    if method == "lz4":
        return lz4.block.compress(raw, store_size=False)
    if method == "zstd":
        return ZstdCompressor(level=1).compress(raw, ZstdCompressor.FLUSH_FRAME)
    return raw


def native_compress(data: bytes, method: str = "lz4") -> bytes:
    """``data`` as ClickHouse compressed blocks (``method``: lz4, zstd or none)."""
    if method not in NATIVE_METHODS:
        raise ClickHouseError(
            36, "BAD_ARGUMENTS", f"network_compression_method {method!r}: use lz4, zstd or none")
    out = bytearray()
    for start in range(0, len(data), NATIVE_BLOCK_BYTES):
        raw = data[start : start + NATIVE_BLOCK_BYTES]
        packed = _encode_native(raw, method)
        block = _NATIVE_HEADER.pack(NATIVE_METHODS[method], _NATIVE_HEADER.size + len(packed), len(raw)) + packed
        out += _checksum(block) + block
    return bytes(out)


class NativeBlocks:
    """A request body of ClickHouse compressed blocks, decompressed block by block as it streams."""

    def __init__(self):
        self._pending = bytearray()

    @staticmethod
    def failed(detail: str) -> ClickHouseError:
        return ClickHouseError(271, "CANNOT_DECOMPRESS", f"a compressed block does not decompress: {detail}")

    def decompress(self, data: bytes, limit: int | None = None) -> bytes:
        self._pending += data
        out, total = [], 0
        while len(self._pending) >= _CHECKSUM_SIZE + _NATIVE_HEADER.size:
            method, size, raw_size = _NATIVE_HEADER.unpack_from(self._pending, _CHECKSUM_SIZE)
            if max(size, raw_size) > MAX_BLOCK_BYTES:
                raise ClickHouseError(
                    271, "CANNOT_DECOMPRESS",
                    f"a compressed block declares {max(size, raw_size)} bytes: over {MAX_BLOCK_BYTES}")
            total += raw_size
            if limit is not None and total > limit:  # refused before the block is made
                raise BodyTooLarge(limit)
            if size < _NATIVE_HEADER.size or len(self._pending) < _CHECKSUM_SIZE + size:
                break
            block = bytes(self._pending[_CHECKSUM_SIZE : _CHECKSUM_SIZE + size])
            if _checksum(block) != bytes(self._pending[:_CHECKSUM_SIZE]):
                raise ClickHouseError(40, "CHECKSUM_DOESNT_MATCH",
                                      "Checksum doesn't match: corrupted data in a compressed block")
            del self._pending[: _CHECKSUM_SIZE + size]
            out.append(self._decode(method, block[_NATIVE_HEADER.size :], raw_size))
        return b"".join(out)

    @classmethod
    def _decode(cls, method: int, packed: bytes, raw_size: int) -> bytes:
        try:
            if method == NATIVE_METHODS["lz4"]:
                return lz4.block.decompress(packed, uncompressed_size=raw_size)
            if method == NATIVE_METHODS["zstd"]:
                return ZstdDecompressor().decompress(packed, raw_size)  # never more than it declared
            if method == NATIVE_METHODS["none"]:
                return packed
        except Exception as exc:  # a corrupt block is the client's mistake, not a crash
            raise cls.failed(str(exc)) from None
        raise ClickHouseError(89, "UNKNOWN_COMPRESSION_METHOD", f"unknown compression method byte 0x{method:02x}")

    def finish(self) -> None:
        """The body ended: a partial block left over means it was cut off."""
        if self._pending:
            raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                  f"the body ends inside a compressed block ({len(self._pending)} bytes left over)")


class ResponseEncoder:
    """A streamed response body in one encoding: ``chunk`` for each piece, ``finish`` once at the end."""

    def __init__(self, name: str | None, native_method: str | None = None):
        self.name = name  # the Content-Encoding, or None
        self._native = native_method
        self._stream = _STREAM_ENCODERS[name]() if name else None

    def chunk(self, data: bytes) -> bytes:
        if self._native:
            return native_compress(data, self._native)
        return self._stream.compress(data) if self._stream else data

    def finish(self) -> bytes:
        return self._stream.flush() if self._stream else b""


class _Lz4Stream:
    def __init__(self):
        self._inner = lz4.frame.LZ4FrameCompressor()
        self._started = False

    def compress(self, data: bytes) -> bytes:
        head = b"" if self._started else self._inner.begin()
        self._started = True
        return head + self._inner.compress(data)

    def flush(self) -> bytes:
        return (b"" if self._started else self._inner.begin()) + self._inner.flush()


class _ZstdStream:
    def __init__(self):
        self._inner = ZstdCompressor(level=1)

    def compress(self, data: bytes) -> bytes:
        return self._inner.compress(data)

    def flush(self) -> bytes:
        return self._inner.flush(ZstdCompressor.FLUSH_FRAME)


class _BrotliStream:
    def __init__(self):
        self._inner = brotli.Compressor(quality=1)

    def compress(self, data: bytes) -> bytes:
        return self._inner.process(data)

    def flush(self) -> bytes:
        return self._inner.finish()


class _StreamEncoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


# Response encodings in ClickHouse's order of preference when a client accepts several (its
# chooseHTTPCompressionMethod: zstd, br, lz4, snappy, gzip, deflate, xz, bz2; no snappy here).
_STREAM_ENCODERS: dict[str, Callable[[], _StreamEncoder]] = {
    "zstd": _ZstdStream, "br": _BrotliStream, "lz4": _Lz4Stream,
    "gzip": lambda: zlib.compressobj(1, wbits=31), "deflate": lambda: zlib.compressobj(1),
    "xz": lambda: lzma.LZMACompressor(preset=1), "bz2": lambda: bz2.BZ2Compressor(1),
}


def _accepted(accept: str) -> str | None:
    offered = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return next((name for name in _STREAM_ENCODERS if name in offered), None)


def response_encoder(accept: str, enabled: bool, native_method: str | None) -> ResponseEncoder:
    """How a streamed response is encoded: ClickHouse blocks (compress=1), an HTTP encoding, or none."""
    if native_method:
        if native_method not in NATIVE_METHODS:
            raise ClickHouseError(36, "BAD_ARGUMENTS",
                                  f"network_compression_method {native_method!r}: use lz4, zstd or none")
        return ResponseEncoder(None, native_method)
    return ResponseEncoder(_accepted(accept) if enabled else None)
