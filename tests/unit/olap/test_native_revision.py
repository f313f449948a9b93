"""Native results for a client's protocol revision: the engine's real output, read back by clickhouse-connect's reader."""

import json

import chdb
import pytest
from clickhouse_connect.driver.query import QueryContext
from clickhouse_connect.driver.transform import NativeTransform
from clickhouse_connect.driverc.buffer import ResponseBuffer

from bionicflow.olap.native_revision import BLOCK_INFO, NativeForRevision, split_type
from bionicflow.olap.protocol import ClickHouseError, client_revision

# Every column kind the walk sizes, with a zone to put back after them (the last column).
WIDE = """SELECT number AS n, toString(number) AS s, toFixedString(toString(number % 10), 2) AS fs,
  if(number % 3 = 0, NULL, number) AS nn, [[toString(number), NULL], []] AS aa, map('k', number, 'j', 2) AS m,
  tuple(number, 'x') AS t, CAST((1, 'a'), 'Tuple(a UInt8, b String)') AS nt, toLowCardinality(toString(number % 4)) AS lc,
  toLowCardinality(if(number % 2 = 0, NULL, toString(number % 5))) AS lcn, toDecimal128(number, 4) AS d,
  CAST(number % 2 + 1, 'Enum8(\\'a,(b\\' = 1, \\'it\\\\\\'s\\' = 2)') AS e, generateUUIDv4() AS u, toIPv6('::1') AS ip,
  toDate32('2020-01-01') AS d32, number % 2 = 0 AS b, toDateTime64(number, 6, 'Asia/Tokyo') AS t64,
  toDateTime(number, 'America/Chicago') AS tz
FROM numbers(2500)"""


def _native(sql: str, **settings) -> bytes:
    tail = "".join(f" SETTINGS {k} = {v}" for k, v in settings.items())
    return chdb.query(sql + tail, "Native").bytes()


def _types(sql: str) -> list[str]:
    text = chdb.query(f"DESCRIBE TABLE ({sql})", "JSONCompactEachRow").bytes().decode()
    return [json.loads(line)[1] for line in text.splitlines()]


class _Body:
    def __init__(self, data: bytes):
        self.gen = iter([data])

    def close(self) -> None:
        pass


def _read(data: bytes, block_info: bool):
    """The rows and type names clickhouse-connect reads from a Native body."""
    context = QueryContext()
    context.block_info = block_info
    result = NativeTransform().parse_response(ResponseBuffer(_Body(data)), context)
    return result.result_rows, [t.name for t in result.column_types]


def test_a_54405_client_reads_every_block_with_the_zones_put_back():
    engine = _native(WIDE, max_block_size=1000)  # three blocks
    rows, types = _read(NativeForRevision(54405, _types(WIDE)).blocks(engine), block_info=True)
    plain_rows, plain_types = _read(engine, block_info=False)
    assert len(rows) == 2500 and [r[:-1] for r in rows] == [r[:-1] for r in plain_rows]
    assert types[-1] == "DateTime('America/Chicago')" and plain_types[-1] == "DateTime"
    assert types[:-1] == plain_types[:-1]
    assert rows[1][-1].isoformat() == "1969-12-31T18:00:01-06:00"  # the zone's wall clock, not UTC's


def test_one_block_with_no_zone_only_gets_its_block_info():
    sql = "SELECT number, toString(number) FROM numbers(10)"
    engine = _native(sql)
    assert NativeForRevision(54405, _types(sql)).blocks(engine, rows=10) == BLOCK_INFO + engine
    assert NativeForRevision(0).blocks(engine, rows=10) == engine  # no revision: the engine's bytes


def test_from_54454_every_column_type_is_followed_by_its_serialization_flag():
    engine = _native("SELECT toUInt8(7) AS x")
    # 1 column, 1 row, name "x", type "UInt8", then the flag (0: default serialization), then the value
    assert engine == b"\x01\x01\x01x\x05UInt8\x07"
    assert NativeForRevision(54454).blocks(engine, rows=1) == BLOCK_INFO + b"\x01\x01\x01x\x05UInt8\x00\x07"


def test_below_54337_the_zone_stays_off_as_clickhouse_sends_it():
    sql = "SELECT toDateTime(0, 'America/Chicago') AS t"
    engine = _native(sql)
    assert NativeForRevision(54000, _types(sql)).blocks(engine, rows=1) == BLOCK_INFO + engine


def test_a_type_the_walk_cannot_size_degrades_in_one_block_and_is_refused_across_blocks():
    sql = "SELECT toDateTime(0, 'UTC') AS a, uniqState(number) AS agg, toDateTime(0, 'Asia/Tokyo') AS b FROM numbers(3)"
    engine = _native(sql)
    one = NativeForRevision(54405, _types(sql)).blocks(engine, rows=1)
    assert one.startswith(BLOCK_INFO) and b"DateTime('UTC')" in one and b"Asia/Tokyo" not in one
    with pytest.raises(ClickHouseError) as refused:
        NativeForRevision(54405, _types(sql)).blocks(engine)  # block bounds unknown: cannot walk past it
    assert refused.value.name == "NOT_IMPLEMENTED" and "finalizeAggregation" in refused.value.message
    with pytest.raises(ClickHouseError):
        NativeForRevision(54454).blocks(engine, rows=1)  # every column needs its flag: nothing to degrade to


@pytest.mark.parametrize("column", [
    "CAST(if(number % 2, toString(number), number), 'Variant(String, UInt64)')",
    "CAST(toString(number), 'Dynamic')",
    """CAST(concat('{"a": ', toString(number), '}'), 'JSON')""",
])
def test_a_result_of_one_block_is_sent_whatever_its_types_when_its_rows_are_known(column):
    """clickhouse-connect asks with wait_end_of_query=1: a whole result, whose rows the engine counts."""
    sql = f"SELECT number AS n, {column} AS v FROM numbers(4)"
    engine = _native(sql)
    rows, _ = _read(NativeForRevision(54405, _types(sql)).blocks(engine, rows=4), block_info=True)
    plain, _ = _read(engine, block_info=False)
    assert rows == plain and len(rows) == 4


def test_from_54454_a_type_the_walk_cannot_size_is_sent_when_it_is_the_last_column():
    sql = "SELECT toUInt8(1) AS x, uniqState(2) AS agg"
    engine = _native(sql)
    sent = NativeForRevision(54454).blocks(engine, rows=1)
    assert sent.startswith(BLOCK_INFO + b"\x02\x01\x01x\x05UInt8\x00\x01\x03agg") and sent.endswith(engine[-6:])


# Columns whose layout their serialization prefix decides: the walk reads the prefix to size the rows.
PREFIXED = [
    "CAST(if(number % 3 = 0, NULL, if(number % 2, toString(number), number)), 'Variant(String, UInt64)')",
    "CAST(multiIf(number % 3 = 0, [number], number % 3 = 1, toString(number)::Dynamic, NULL), 'Dynamic')",
    "CAST(if(number % 2, toString(number), number), 'Dynamic(max_types=1)')",  # one type in the shared variant
    """CAST(concat('{"a": ', toString(number), ', "b": [1], "c": "x"}'), """
    """'JSON(c String, `z y` UInt8, max_dynamic_paths=1)')""",  # typed, dynamic and shared paths
    """CAST(concat('{"a": {"q": ', toString(number), '}, "e": "y"}'), 'JSON(e Enum8(\\'y\\' = 1))')""",
    "[1.0, 2, 3, 4, 5, 6, 7, 8]::QBit(Float32, 8)",
    "CAST([(number, 'a')], 'Nested(a UInt64, b String)')",
    "[CAST(number, 'Dynamic')]",
    "map('k', CAST(number, 'Variant(UInt64, String)'))",
]


@pytest.mark.parametrize("column", PREFIXED)
def test_variant_dynamic_json_and_qbit_columns_are_walked_wherever_they_stand(column):
    """Not the last column, in a result of three blocks: every block's bounds must be found."""
    sql = f"SELECT number AS n, {column} AS v, toDateTime(number, 'Asia/Tokyo') AS t, toString(number) AS s " \
          "FROM numbers(2500)"
    engine = _native(sql, max_block_size=1000, flatten_nested=0)
    rows, types = _read(NativeForRevision(54405, _types(sql)).blocks(engine), block_info=True)
    plain, _ = _read(engine, block_info=False)
    assert types[2] == "DateTime('Asia/Tokyo')" and len(rows) == 2500
    assert [(r[0], r[1], r[3]) for r in rows] == [(r[0], r[1], r[3]) for r in plain]


@pytest.mark.parametrize("name, parsed", [
    ("String", ("String", [])),
    ("Map(String, Array(Tuple(a UInt8, b String)))", ("Map", ["String", "Array(Tuple(a UInt8, b String))"])),
    ("Enum8('a,(b' = 1, 'it\\'s' = 2)", ("Enum8", ["'a,(b' = 1", "'it\\'s' = 2"])),
    ("DateTime64(3, 'UTC')", ("DateTime64", ["3", "'UTC'"])),
])
def test_type_names_split_at_their_top_level_commas(name, parsed):
    assert split_type(name) == parsed


@pytest.mark.parametrize("value", ["x", "-1", "1.5", "9" * 30])
def test_a_revision_that_is_not_a_number_is_refused(value):
    with pytest.raises(ClickHouseError) as refused:
        client_revision({"client_protocol_version": value})
    assert refused.value.http_status == 400


def test_no_revision_is_revision_zero():
    assert client_revision({}) == 0 and client_revision({"client_protocol_version": "54405"}) == 54405
