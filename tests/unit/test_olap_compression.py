import gzip
import zlib

import lz4.frame
import pytest
from backports import zstd

from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.server import _decompressor

PARTS = [b"first block\n" * 100, b"second block\n" * 50, b"third\n"]


@pytest.mark.parametrize(
    "encoding, compress",
    [("lz4", lz4.frame.compress), ("gzip", gzip.compress), ("zstd", zstd.compress)],
)
def test_concatenated_frames_decompress_in_any_chunking(encoding, compress):
    body = b"".join(compress(part) for part in PARTS)
    for chunk_size in (1, 7, 1000, len(body)):
        decoder = _decompressor(encoding)
        out = b"".join(decoder.decompress(body[i:i + chunk_size]) for i in range(0, len(body), chunk_size))
        assert out == b"".join(PARTS), f"{encoding} with {chunk_size}-byte chunks"


def test_deflate_and_identity():
    assert _decompressor("deflate").decompress(zlib.compress(b"abc")) == b"abc"
    assert _decompressor("") is None and _decompressor("identity") is None


def test_unknown_encoding_is_refused_with_the_alternatives():
    with pytest.raises(ClickHouseError) as info:
        _decompressor("br")
    assert info.value.http_status == 415 and "gzip, deflate, lz4, zstd" in info.value.message
