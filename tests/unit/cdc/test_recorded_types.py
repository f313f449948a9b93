"""Every type of a table copied from a source's catalogue, through the CDC views, from messages Debezium really sent.

`recorded/every_type.json` holds the two messages Debezium 3.6 (PostgreSQL 15, pgoutput, the
connector options of docs/sources.md) wrote for these rows of a table `t` (the snapshot's `r`):

    INSERT INTO t VALUES (1, -12.3456, 1e40, 0.01, 1.5, 0.1, true, 'ab', 'ffffffff-…', '2299-12-31',
      '23:59:59.999999', '12:00+05:30', '1900-01-01 00:00:00.001', '1969-07-20 20:17:40.123456',
      '2038-01-19 03:14:08.000005+02', '1 year 2 mons -3 days 04:05:06.000007', '{"b": 1, "a": [1, 2.50]}',
      '{"b": 1, "a": [1, 2.50]}', '\\xdeadbeef00', '{x,NULL,""}', '{1,NULL}', NULL, 'angry', '10.0.0.1/8',
      '08:00:2b:01:02:03', '{1.5,NULL}', '123456789012345678901234567890.12345', 12.34, '{2020-01-01,NULL}');
    INSERT INTO t (id, tags, ints, nums, days, free) VALUES (2, '{}', '{}', '{}', '{}', 'NaN');

The expected values below are those rows as PostgreSQL holds them (psycopg's values).
"""

import contextlib
import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import chdb

from bionicflow.cdc import ddl
from bionicflow.kernel.pg_types import PgType, clickhouse_type
from bionicflow.kernel.tables import Column, Table

RECORDED = json.loads((Path(__file__).parent / "recorded" / "every_type.json").read_text())


def _typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


NUM = PgType("numeric", "b", _typmod(20, 4))
COLUMNS = {  # the table's columns as pg_catalogue describes them (domains resolved)
    "id": (PgType("int8", "b"), False), "total": (NUM, True), "free": (PgType("numeric", "b"), True),
    "cost": (PgType("numeric", "b", _typmod(12, 2)), True), "r": (PgType("float4", "b"), True),
    "d": (PgType("float8", "b"), True), "flag": (PgType("bool", "b"), True), "c": (PgType("bpchar", "b"), True),
    "u": (PgType("uuid", "b"), True), "day": (PgType("date", "b"), True), "at_time": (PgType("time", "b"), True),
    "ts3": (PgType("timestamp", "b", 3), True), "ts6": (PgType("timestamp", "b"), True),
    "tstz": (PgType("timestamptz", "b"), True), "doc": (PgType("json", "b"), True),
    "docb": (PgType("jsonb", "b"), True), "raw": (PgType("bytea", "b"), True),
    "tags": (PgType("_text", "b", element=PgType("text", "b")), False),
    "ints": (PgType("_int4", "b", element=PgType("int4", "b")), False),
    "feeling": (PgType("mood", "e"), True),
    "nums": (PgType("_numeric", "b", _typmod(10, 3), element=PgType("numeric", "b", _typmod(10, 3))), False),
    "big": (PgType("numeric", "b", _typmod(40, 5)), True),
    "days": (PgType("_date", "b", element=PgType("date", "b")), False),
}
EXPECTED = [
    {"id": 1, "total": Decimal("-12.3456"), "free": "10000000000000000000000000000000000000000",
     "cost": Decimal("0.01"), "r": 1.5, "d": 0.1, "flag": True, "c": "ab ",
     "u": uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"), "day": dt.date(2299, 12, 31),
     "at_time": dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
     "ts3": dt.datetime(1900, 1, 1, 0, 0, 0, 1000), "ts6": dt.datetime(1969, 7, 20, 20, 17, 40, 123456),
     "tstz": dt.datetime(2038, 1, 19, 1, 14, 8, 5), "doc": '{"b": 1, "a": [1, 2.50]}',
     "docb": '{"a": [1, 2.50], "b": 1}', "raw": b"\xde\xad\xbe\xef\x00", "tags": ["x", None, ""],
     "ints": [1, None], "feeling": "angry", "nums": [Decimal("1.5"), None],
     "big": Decimal("123456789012345678901234567890.12345"), "days": [dt.date(2020, 1, 1), None]},
    {"id": 2, "free": "NaN", "tags": [], "ints": [], "nums": [], "days": [], "c": None},
]


def _table() -> Table:
    columns = []
    for name, (pg, nullable) in COLUMNS.items():
        mapped = clickhouse_type(pg, nullable)
        columns.append(Column(name, mapped.type, name, mapped.kind))
    return Table(name="t", source_database="probe", source_table="t", key="id", business_time="ts6",
                 columns=tuple(columns), topic="probe.public.t", consumer_group="probe", sort_prefix=())


@contextlib.contextmanager
def _engine(tmp_path, table: Table):
    """The engine with this table's `debezium` objects (one chdb path per process: closed after each test)."""
    conn = chdb.connect(str(tmp_path))
    for statement in (f"CREATE DATABASE IF NOT EXISTS {ddl.DATABASE}", ddl.kafka_table_ddl(table, "embedded"),
                      ddl.target_table_ddl(table), ddl.view_ddl(table), ddl.DEAD_LETTERS_DDL,
                      ddl.dead_letter_view_ddl(table)):
        conn.query(statement)
    try:
        yield conn
    finally:
        conn.close()


def test_debeziums_messages_for_every_type_become_the_sources_values(tmp_path):
    table = _table()
    with _engine(tmp_path, table) as conn:
        with conn.send_insert(f"INSERT INTO {ddl.DATABASE}.t_kafka", "JSONEachRow") as ins:
            for offset, message in enumerate(RECORDED):
                ins.append(json.dumps({"payload": json.dumps(message), "_topic": table.topic, "_partition": 0,
                                       "_offset": offset}) + "\n")
            ins.finish()
        letters = conn.query(f"SELECT error FROM {ddl.DATABASE}.dead_letters", "JSONCompact").bytes()
        assert json.loads(letters)["data"] == [], "a recorded message was dead-lettered"
        names = list(COLUMNS)
        # hex for the bytes and ISO text for the rest: what each column holds, compared as Python values below
        got = json.loads(conn.query(
            f"SELECT {', '.join(names)}, hex(raw) AS raw_hex, toTypeName(at_time) AS time_type "
            f"FROM {ddl.DATABASE}.t FINAL ORDER BY id SETTINGS output_format_json_quote_decimals = 1",
            "JSON").bytes())["data"]
        assert len(got) == 2
        for want, row in zip(EXPECTED, got, strict=True):
            for name, value in want.items():
                assert _parse(name, row, table) == value, f"row {want['id']}, {name}: stored {row[name]!r}, source {value!r}"


def _parse(name: str, row: dict, table: Table):
    """The JSON output's text of a column, as the Python value psycopg gives for the source's."""
    value, type_ = row[name], next(c.type for c in table.columns if c.name == name)
    if value is None:
        return None
    if name == "raw":
        return bytes.fromhex(row["raw_hex"])
    if "Array(" in type_:
        element = type_.removeprefix("Array(Nullable(").removesuffix("))")
        return [None if v is None else _scalar(element, v) for v in value]
    return _scalar(type_[len("Nullable("):-1] if type_.startswith("Nullable(") else type_, value)


def _scalar(type_: str, value):
    if type_.startswith("Decimal"):
        return Decimal(str(value))
    if type_ == "Date32":
        return dt.date.fromisoformat(value)
    if type_.startswith("DateTime64"):
        return dt.datetime.fromisoformat(value)
    if type_ == "Time64(6)":
        hours, minutes, seconds = value.split(":")
        return dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    if type_ == "UUID":
        return uuid.UUID(value)
    if type_ in ("Int64", "Int32", "Int16"):
        return int(value)
    return value


def test_a_value_that_does_not_fit_is_dead_lettered_not_stored_wrong(tmp_path):
    table = _table()
    with _engine(tmp_path, table) as conn:
        bad = json.loads(json.dumps(RECORDED[0]))
        bad["payload"]["after"]["total"] = "NAN"  # numeric(20,4) cannot hold NaN
        bad["payload"]["after"]["day"] = 999999  # past Date32's 2299-12-31
        early = json.loads(json.dumps(RECORDED[0]))
        early["payload"]["after"]["ts3"] = -2208988800001  # 1899-12-31 23:59:59.999: before DateTime64's range
        late = json.loads(json.dumps(RECORDED[0]))
        late["payload"]["after"]["tstz"] = "12345-01-01T00:00:00Z"
        with conn.send_insert(f"INSERT INTO {ddl.DATABASE}.t_kafka", "JSONEachRow") as ins:
            for offset, message in enumerate((bad, early, late)):
                ins.append(json.dumps({"payload": json.dumps(message), "_topic": table.topic, "_partition": 0,
                                       "_offset": offset}) + "\n")
            ins.finish()
        errors = json.loads(conn.query(f"SELECT error FROM {ddl.DATABASE}.dead_letters", "JSONCompact").bytes())["data"]
        assert len(errors) == 3 and "column total" in errors[0][0] and "NAN" in errors[0][0]
        assert "column ts3" in errors[1][0] and "column tstz" in errors[2][0], errors
        assert conn.query(f"SELECT count() FROM {ddl.DATABASE}.t", "CSV").bytes().strip() == b"0"
