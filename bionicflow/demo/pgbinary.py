"""PostgreSQL's binary COPY format, built with numpy: rows encoded column-wise, not one by one.

Binary COPY spares PostgreSQL parsing text (uuids and timestamps are costly to parse) and
spares the generator formatting it. Every value is big-endian; each row is a 16-bit field
count, then each field as a 32-bit length and its bytes. Reference: the PostgreSQL manual,
"COPY — Binary Format".
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")  # signature, flags, extension
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01 (PostgreSQL's timestamp epoch) in Unix microseconds


def uuid7(rng: np.random.Generator, unix_ms: np.ndarray) -> np.ndarray:
    """Time-ordered UUIDs (RFC 9562 version 7) as rows of 16 bytes: index inserts land at the end."""
    rand = rng.integers(0, 2**63, size=(len(unix_ms), 2), dtype=np.int64).astype(np.uint64)
    out = np.empty(len(unix_ms), dtype=[("hi", ">u8"), ("lo", ">u8")])
    out["hi"] = (unix_ms.astype(np.uint64) << np.uint64(16)) | np.uint64(0x7000) | (rand[:, 0] & np.uint64(0x0FFF))
    out["lo"] = (rand[:, 1] & np.uint64(0x3FFF_FFFF_FFFF_FFFF)) | np.uint64(0x8000_0000_0000_0000)
    return out.view(np.uint8).reshape(-1, 16)


def uuid_bytes(texts: list[str]) -> np.ndarray:
    """Canonical UUID texts as rows of 16 bytes."""
    if not texts:
        return np.empty((0, 16), dtype=np.uint8)
    raw = bytes.fromhex("".join(texts).replace("-", ""))
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16)


def uuid_text(raw: np.ndarray) -> np.ndarray:
    """Rows of 16 bytes as canonical UUID texts (8-4-4-4-12 lowercase hex)."""
    hexes = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(-1, 32)
    out = np.full((len(raw), 36), ord("-"), dtype=np.uint8)
    out[:, [i for i in range(36) if i not in (8, 13, 18, 23)]] = hexes
    return out.view("S36").ravel().astype(str)


def text_field(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(4, "big") + data


def rows(head: np.ndarray, tails: Iterable[bytes]) -> bytes:
    """Encoded rows: each row's fixed-width fields (a structured array) followed by its variable tail."""
    width = head.dtype.itemsize
    flat = head.tobytes()
    return b"".join(part for i, tail in enumerate(tails) for part in (flat[i * width:(i + 1) * width], tail))


class ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, so COPY streams as the chunks are made."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._chunk = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the current chunk (a short read is allowed); b"" at the end."""
        if size is None or size < 0:
            rest, self._chunk, self._pos = self._chunk[self._pos:], b"", 0
            return b"".join([rest, *self._chunks])
        while self._pos >= len(self._chunk):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._chunk, self._pos = chunk, 0
        out = self._chunk[self._pos:self._pos + size]
        self._pos += len(out)
        return out
