"""Binary bytes in string literals reach the engine as the same bytes (chdb takes text as UTF-8)."""

import chdb
import pytest

from bionicflow.olap.binary_literals import query_from_bytes
from bionicflow.olap.protocol import ClickHouseError


def _hex(raw_sql: bytes) -> str:
    return chdb.query(query_from_bytes(raw_sql), "TSV").bytes().decode().strip()


@pytest.mark.parametrize("raw_sql, value", [
    (b"SELECT hex('a\x92b')", b"a\x92b"),
    (b"SELECT hex('\\\x92')", b"\\\x92"),  # an unknown escape keeps its backslash, as ClickHouse keeps it
    (b"SELECT hex('\\\\\x92')", b"\\\x92"),  # an escaped backslash, then the byte
    (b"SELECT hex('it''s \xff')", b"it's \xff"),
    (b"SELECT hex($$a'\\b\xfe$$)", b"a'\\b\xfe"),  # a heredoc: raw text, quotes and backslashes as they are
    (b"SELECT hex($bin$\x00\x01\x80\xc3$bin$)", b"\x00\x01\x80\xc3"),
    (b"SELECT /* it's */ hex('\xc3\x28') -- it's\n", b"\xc3\x28"),  # quotes in comments start no literal
    (b"SELECT hex('\xc3\xa9\xe9')", "é".encode() + b"\xe9"),  # valid UTF-8 beside a raw byte
])
def test_the_engine_reads_the_bytes_the_client_sent(raw_sql, value):
    assert _hex(raw_sql) == value.hex().upper()


def test_utf8_text_is_passed_unchanged():
    sql = "SELECT 'é', $$\\x$$ /* ' */"
    assert query_from_bytes(sql.encode()) == sql


def test_a_parquet_file_inline_is_read_as_the_engine_reads_a_file():
    parquet = chdb.query("SELECT number AS n, toString(number) AS s FROM numbers(3)", "Parquet").bytes()
    assert b"$" not in parquet[:4] and any(b >= 0x80 for b in parquet)
    sql = b"SELECT sum(n), max(s) FROM format(Parquet, $pq$" + parquet + b"$pq$)"
    assert chdb.query(query_from_bytes(sql), "TSV").bytes().decode().split() == ["3", "2"]


@pytest.mark.parametrize("raw_sql", [b"SELECT \xff", b"SELECT `a\xffb`", b"SELECT \"\xfe\""])
def test_a_raw_byte_outside_a_string_literal_is_a_syntax_error(raw_sql):
    with pytest.raises(ClickHouseError) as refused:
        query_from_bytes(raw_sql)
    assert refused.value.name == "SYNTAX_ERROR" and "not UTF-8" in refused.value.message


def test_a_heredoc_never_closed_is_no_literal():
    with pytest.raises(ClickHouseError):
        query_from_bytes(b"SELECT $x$ \xff $")


def test_a_comment_may_hold_any_byte():
    assert chdb.query(query_from_bytes(b"SELECT 1 /* \xff */ -- \xfe\n"), "TSV").bytes() == b"1\n"
