import bz2
import gzip
import lzma
import zlib

import brotli
import lz4.frame
import pytest
from backports import zstd

from bionicflow.olap.codecs import compress_response, request_decompressor
from bionicflow.olap.protocol import ClickHouseError

PARTS = [b"first block\n" * 100, b"second block\n" * 50, b"third\n"]


@pytest.mark.parametrize(
    "encoding, compress",
    [("lz4", lz4.frame.compress), ("gzip", gzip.compress), ("zstd", zstd.compress), ("xz", lzma.compress),
     ("bz2", bz2.compress)],
)
def test_concatenated_frames_decompress_in_any_chunking(encoding, compress):
    body = b"".join(compress(part) for part in PARTS)
    for chunk_size in (1, 7, 1000, len(body)):
        decoder = request_decompressor(encoding)
        out = b"".join(decoder.decompress(body[i:i + chunk_size]) for i in range(0, len(body), chunk_size))
        assert out == b"".join(PARTS), f"{encoding} with {chunk_size}-byte chunks"


def test_brotli_deflate_and_identity():
    body = brotli.compress(b"".join(PARTS))
    decoder = request_decompressor("br")
    assert b"".join(decoder.decompress(body[i:i + 5]) for i in range(0, len(body), 5)) == b"".join(PARTS)
    assert request_decompressor("deflate").decompress(zlib.compress(b"abc")) == b"abc"
    assert all(request_decompressor(name) is None for name in ("", "identity", "none", "auto", "None"))


@pytest.mark.parametrize("alias, compress", [
    ("gz", gzip.compress), ("GZ", gzip.compress), ("zst", zstd.compress), ("brotli", brotli.compress),
    ("lzma", lzma.compress), ("bzip2", bz2.compress),
])
def test_a_body_encoding_may_have_any_name_clickhouse_gives_it(alias, compress):
    assert request_decompressor(alias).decompress(compress(b"SELECT 1")) == b"SELECT 1"


def test_unknown_encoding_is_refused_as_clickhouse_does_with_the_alternatives():
    with pytest.raises(ClickHouseError) as info:
        request_decompressor("compress")
    assert (info.value.name, info.value.http_status) == ("NOT_IMPLEMENTED", 501)
    assert "gzip, deflate, br, lz4, zstd, xz, bz2" in info.value.message


@pytest.mark.parametrize("encoding, decode", [
    ("zstd", zstd.decompress), ("br", brotli.decompress), ("gzip", gzip.decompress), ("lz4", lz4.frame.decompress),
    ("deflate", zlib.decompress), ("xz", lzma.decompress), ("bz2", bz2.decompress),
])
def test_responses_are_compressed_in_the_encoding_the_client_accepts(encoding, decode):
    data = b"".join(PARTS)
    body, chosen = compress_response(data, f"{encoding};q=1.0, identity;q=0.1", enabled=True)
    assert chosen == encoding and decode(body) == data
    assert compress_response(data, encoding, enabled=False) == (data, None)  # without enable_http_compression=1


@pytest.mark.parametrize("accept, chosen", [
    ("lz4, zstd", "zstd"), ("lz4, br", "br"), ("gzip, lz4", "lz4"), ("deflate, gzip", "gzip"), ("bz2, xz", "xz"),
    ("gzip, deflate, br, zstd, lz4", "zstd"),
])
def test_of_several_accepted_encodings_the_one_clickhouse_prefers_is_chosen(accept, chosen):
    assert compress_response(b"data", accept, enabled=True)[1] == chosen


@pytest.mark.parametrize("method", ["lz4", "zstd", "none"])
def test_native_blocks_round_trip_in_any_chunking(method):
    from bionicflow.olap.codecs import NATIVE_BLOCK_BYTES, NativeBlocks, native_compress

    data = b"".join(PARTS) * 3000  # over one block: several blocks
    body = native_compress(data, method)
    assert len(data) > NATIVE_BLOCK_BYTES and body[16] == {"lz4": 0x82, "zstd": 0x90, "none": 0x02}[method]
    for chunk in (1000, 65536, len(body)):
        reader = NativeBlocks()
        out = b"".join(reader.decompress(body[i:i + chunk]) for i in range(0, len(body), chunk))
        reader.finish()
        assert out == data


def test_a_corrupt_or_cut_native_block_is_refused():
    from bionicflow.olap.codecs import NativeBlocks, native_compress

    body = bytearray(native_compress(b"x" * 5000))
    body[30] ^= 0xFF
    with pytest.raises(ClickHouseError) as corrupt:
        NativeBlocks().decompress(bytes(body))
    assert corrupt.value.name == "CHECKSUM_DOESNT_MATCH"
    reader = NativeBlocks()
    reader.decompress(native_compress(b"y" * 5000)[:-3])
    with pytest.raises(ClickHouseError, match="ends inside a compressed block"):
        reader.finish()


@pytest.mark.parametrize("encoding, decode", [
    ("zstd", zstd.decompress), ("br", brotli.decompress), ("gzip", gzip.decompress), ("lz4", lz4.frame.decompress),
    ("deflate", zlib.decompress), (None, lambda b: b),
])
def test_a_streamed_response_decodes_to_its_pieces(encoding, decode):
    from bionicflow.olap.codecs import response_encoder

    encoder = response_encoder(encoding or "", enabled=encoding is not None, native_method=None)
    assert encoder.name == encoding
    body = b"".join(encoder.chunk(part) for part in PARTS) + encoder.finish()
    assert decode(body) == b"".join(PARTS)


def test_a_streamed_response_in_clickhouse_blocks():
    from bionicflow.olap.codecs import NativeBlocks, response_encoder

    encoder = response_encoder("gzip", enabled=True, native_method="zstd")  # compress=1 wins over HTTP encodings
    body = b"".join(encoder.chunk(part) for part in PARTS) + encoder.finish()
    assert encoder.name is None and NativeBlocks().decompress(body) == b"".join(PARTS)


def _deflate_runs(data: bytes, wbits: int) -> bytes:
    """zlib at level 9 with its run-length strategy: the same ~1000:1 stream of zeros as plain level 9, 4x faster."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits, 9, zlib.Z_RLE)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", lambda data: _deflate_runs(data, wbits=31)),
    ("deflate", lambda data: _deflate_runs(data, wbits=15)),
    ("zstd", lambda data: __import__("backports.zstd", fromlist=["x"]).ZstdCompressor().compress(data, 2)),
    ("lz4", lambda data: __import__("lz4.frame", fromlist=["x"]).compress(data)),
    ("br", lambda data: __import__("brotli").compress(data, quality=4)),  # quality 11's 102 bytes, 30x faster
    ("xz", lambda data: __import__("lzma").compress(data)),
    ("bz2", lambda data: __import__("bz2").compress(data)),
])
def test_a_decompression_bomb_is_refused_a_piece_in(encoding, compress):
    from bionicflow.olap.codecs import PIECE_BYTES, BodyTooLarge, request_decompressor

    bomb = compress(b"\0" * (64 * PIECE_BYTES))  # 64 MiB of zeros in a few hundred KiB or less
    assert len(bomb) < 2 * PIECE_BYTES
    with pytest.raises(BodyTooLarge):
        request_decompressor(encoding).decompress(bomb, limit=4 * PIECE_BYTES)
    assert len(request_decompressor(encoding).decompress(bomb)) == 64 * PIECE_BYTES  # no limit: the whole body


def test_a_native_block_declaring_more_than_the_limit_is_refused_before_it_is_made():
    import struct

    from bionicflow.olap.codecs import BodyTooLarge, NativeBlocks

    header = struct.pack("<BII", 0x82, 9 + 4, 500 * 1024 * 1024)  # lz4, 13 bytes, "500 MiB"
    with pytest.raises(BodyTooLarge):
        NativeBlocks().decompress(b"\0" * 16 + header + b"abcd", limit=1024 * 1024)
