"""A third database as a source and its tables as the catalogue describes them.

The database is created in the stack's CRM PostgreSQL, as a team would add its own, with a
role of its own; `bionicflow sources …` is run as a user runs it. The ClickHouse types the
description gives are created in the stack's OLAP server and must hold the source's values
(read by psycopg) unchanged.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import struct
import time
import uuid

import psycopg2
import pytest

from bionicflow.kernel.pg_catalogue import TableRefused, describe_table
from bionicflow.stack.preflight import port_is_free
from tests.support.rows import olap_admin
from tests.support.stack import cli

DATABASE = "shop_db"

SCHEMA_SQL = """
CREATE TYPE mood AS ENUM ('calm', 'ангry');
CREATE DOMAIN price AS numeric(12, 2) CHECK (VALUE >= 0);
CREATE DOMAIN short_code AS varchar(8);
CREATE TABLE every_type (
    order_id bigint, line_no smallint,
    i4 integer NOT NULL, total numeric(20, 4), free numeric, cost price, code short_code,
    r real, d double precision, flag boolean, t text, v varchar(40), c char(3) NOT NULL,
    u uuid, day date, at_time time, at_timetz timetz, ts timestamp(3), tstz timestamptz,
    span interval, doc json, docb jsonb, raw bytea, tags text[] NOT NULL, ints int4[] NOT NULL,
    maybe_tags text[], feeling mood, addr inet, net cidr, mac macaddr,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE by_uuid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text);
CREATE TABLE by_text (code text PRIMARY KEY, note text);
CREATE TABLE no_key (a int, b text);
CREATE TABLE float_key (x double precision PRIMARY KEY);
CREATE VIEW a_view AS SELECT * FROM by_text;
CREATE TABLE no_identity (id int PRIMARY KEY);
ALTER TABLE no_identity REPLICA IDENTITY NOTHING;
CREATE TABLE parted (id int, d date, PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
CREATE TABLE parted_2024 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE matrix (id int PRIMARY KEY, m int[] NOT NULL, d date, n numeric(5, 2));
"""
APP_ROLE, APP_PASSWORD = "shop_app", "shop app's password"


@pytest.fixture(scope="module")
def shop(stack):
    """A fresh `shop_db` in the CRM cluster, made by its superuser."""
    password = (stack.secrets_dir / "crm_db_superuser_password").read_text().strip()
    admin = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname="postgres", user="postgres",
                             password=password)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname=DATABASE, user="postgres",
                            password=password)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
        cur.execute(f"DROP ROLE IF EXISTS {APP_ROLE}")
        cur.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD %s", (APP_PASSWORD,))
    yield conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {APP_ROLE}")
    admin.close()


def test_every_column_gets_the_type_that_holds_it(shop):
    table = describe_table(shop, "public", "every_type")
    assert table.key == ("order_id", "line_no")
    types = {c.name: c.clickhouse.type for c in table.columns}
    assert types == {
        "order_id": "Int64", "line_no": "Int16", "i4": "Int32", "total": "Nullable(Decimal(20, 4))",
        "free": "Nullable(String)", "cost": "Nullable(Decimal(12, 2))", "code": "Nullable(String)",
        "r": "Nullable(Float32)", "d": "Nullable(Float64)", "flag": "Nullable(Bool)", "t": "Nullable(String)",
        "v": "Nullable(String)", "c": "String", "u": "Nullable(UUID)", "day": "Nullable(Date32)",
        "at_time": "Nullable(Time64(6))", "at_timetz": "Nullable(String)", "ts": "Nullable(DateTime64(6))",
        "tstz": "Nullable(DateTime64(6, 'UTC'))", "span": "Nullable(String)", "doc": "Nullable(String)",
        "docb": "Nullable(String)", "raw": "Nullable(String)", "tags": "Array(Nullable(String))",
        "ints": "Array(Nullable(Int32))", "maybe_tags": "Nullable(String)",
        "feeling": "LowCardinality(Nullable(String))", "addr": "Nullable(String)", "net": "Nullable(String)",
        "mac": "Nullable(String)",
    }
    named = {c.name for c in table.text_form_columns}
    assert named == {"free", "at_timetz", "span", "maybe_tags", "addr", "net", "mac"}
    printed = {c.name: c.pg_type for c in table.columns}
    assert printed["cost"] == "price" and printed["total"] == "numeric(20,4)" and printed["tags"] == "text[]"


def test_the_clickhouse_types_hold_the_sources_values_unchanged(stack, shop):
    """Each described type, created in the OLAP server, gives back what psycopg read from the source."""
    table = describe_table(shop, "public", "every_type")
    exact = [c for c in table.columns if not c.clickhouse.text_form and c.clickhouse.kind != "bytes"]
    values = {
        "order_id": 2**63 - 1, "line_no": -32768, "i4": -2**31, "total": decimal.Decimal("-9999999999999999.9999"),
        "cost": decimal.Decimal("0.01"), "code": "ÄÖÜ✓", "r": 16777216.0, "d": -2.2250738585072014e-308,
        "flag": True, "t": "", "v": "кириллица 🙂", "c": "ab ", "u": str(uuid.UUID(int=2**128 - 1)),
        "day": dt.date(2299, 12, 31), "at_time": dt.time(23, 59, 59, 999999),
        "ts": dt.datetime(1900, 1, 1, 0, 0, 0, 1000), "tstz": dt.datetime(2038, 1, 19, 3, 14, 8, 5, dt.timezone.utc),
        "doc": '{"b": 1, "a": [1, 2.50]}', "docb": '{"a": [1, 2.50], "b": 1}', "tags": ["x", None, ""],
        "ints": [], "feeling": "ангry",
    }
    with shop.cursor() as cur:
        names = [c.name for c in exact]
        cur.execute(f"INSERT INTO every_type ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                    [values[n] for n in names])
        # json as its text: psycopg would parse it, and the copy holds the source's text
        cur.execute("SELECT " + ", ".join(f"{n}::text" if n in ("doc", "docb") else n for n in names)
                    + " FROM every_type")
        source = dict(zip(names, cur.fetchone()))
    olap = olap_admin(stack)
    olap.command("CREATE DATABASE IF NOT EXISTS scratch")
    olap.command("DROP TABLE IF EXISTS scratch.every_type")
    olap.command(f"CREATE TABLE scratch.every_type ({', '.join(f'{c.name} {c.clickhouse.type}' for c in exact)}) "
                 "ENGINE = MergeTree ORDER BY tuple()")
    try:
        olap.insert("scratch.every_type", [[source[n] for n in names]], column_names=names)
        copied = dict(zip(names, olap.query(f"SELECT {', '.join(names)} FROM scratch.every_type").result_rows[0]))
    finally:
        olap.command("DROP TABLE IF EXISTS scratch.every_type")
    for name in names:
        want, got = source[name], copied[name]
        if isinstance(want, dt.datetime) and want.tzinfo:
            got = got.replace(tzinfo=dt.timezone.utc) if got.tzinfo is None else got
        if isinstance(got, dt.timedelta):  # a Time64 may come back as the time since midnight
            got = (dt.datetime.min + got).time()
        if isinstance(got, uuid.UUID):
            got, want = str(got), str(want)
        assert got == want, f"{name}: the source has {want!r}, its ClickHouse column gave back {got!r}"


@pytest.mark.parametrize(("table", "key"), [("by_uuid", ("id",)), ("by_text", ("code",))])
def test_a_uuid_or_text_key_is_a_key(shop, table, key):
    assert describe_table(shop, "public", table).key == key


@pytest.mark.parametrize(("table", "says", "fix"), [
    ("missing_table", "does not exist", '`\\dt "public".*` in psql lists its tables'),
    ("a_view", "is a view", "copy the tables it reads"),
    ("no_key", "has no primary key", 'ALTER TABLE "public"."no_key" ADD PRIMARY KEY'),
    ("float_key", "primary key column x is of type double precision", "identity column"),
    ("no_identity", "REPLICA IDENTITY NOTHING", 'ALTER TABLE "public"."no_identity" REPLICA IDENTITY DEFAULT'),
    ("parted_2024", "is a partition of parted", "does not copy partitioned tables yet"),
    ("parted", "is a partitioned table", "does not copy partitioned tables yet"),
])
def test_what_cannot_be_copied_is_refused_with_the_fix(shop, table, says, fix):
    with pytest.raises(TableRefused, match=says) as refused:
        describe_table(shop, "public", table)
    assert fix in str(refused.value)


def _sources(*args: str, password: str | None = APP_PASSWORD):
    env = {"BIONICFLOW_SOURCE_SHOP_PASSWORD": password} if password is not None else {}
    return cli("sources", *args, env=env, timeout=60)


def _listed() -> str:
    result = _sources("list")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_source_is_added_only_once_every_prerequisite_holds(stack, shop):
    url = f"postgresql://{APP_ROLE}@{stack.host}:{stack.crm_db_port}/{DATABASE}"
    refused = _sources("add", "shop", "--url", url)
    assert refused.returncode == 1, refused.stderr
    assert f'ALTER ROLE "{APP_ROLE}" REPLICATION' in refused.stderr
    assert f'GRANT CREATE ON DATABASE "{DATABASE}" TO "{APP_ROLE}"' in refused.stderr
    assert "shop" not in _listed().split(), "a source that failed its checks was recorded"

    with shop.cursor() as cur:
        cur.execute(f"ALTER ROLE {APP_ROLE} REPLICATION")
        cur.execute(f"GRANT CREATE ON DATABASE {DATABASE} TO {APP_ROLE}")
    added = _sources("add", "shop", "--url", url)
    assert added.returncode == 0, added.stderr
    assert "FAIL" not in added.stderr and "wal_level: logical" in added.stderr
    listed = _listed()
    assert url in listed and "crm_db" in listed and "telemetry_db" in listed
    assert _sources("check", "shop").returncode == 0

    again = _sources("add", "shop", "--url", url)
    assert again.returncode == 2 and "a source named shop exists" in again.stderr
    wrong = _sources("check", "shop", password="not the password")
    assert wrong.returncode == 1 and "connection" in wrong.stderr and "password" in wrong.stderr

    removed = _sources("remove", "shop")
    assert removed.returncode == 0, removed.stderr
    assert url not in _listed()
    gone = _sources("check", "shop")
    assert gone.returncode == 2 and "no source named shop" in gone.stderr


@pytest.mark.parametrize(("args", "says"), [
    (("add", "crm_db", "--url", "postgresql://x@127.0.0.1/x"), "the embedded stack's own database"),
    (("add", "shop", "--url", "postgresql://shop_app:pw@127.0.0.1/shop_db"), "carries a password"),
    (("add", "Shop", "--url", "postgresql://x@127.0.0.1/x"), "lower-case letters"),
    (("remove", "telemetry_db"), "cannot be removed"),
])
def test_bad_input_is_refused_with_the_fix_and_records_nothing(stack, args, says):
    before = _listed()
    result = _sources(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert _listed() == before


def test_without_a_password_nothing_is_tried(stack, monkeypatch):
    monkeypatch.delenv("BIONICFLOW_SOURCE_SHOP_PASSWORD", raising=False)
    result = _sources("add", "shop", "--url", f"postgresql://x@{stack.host}:{stack.crm_db_port}/x", password=None)
    assert result.returncode == 2
    assert "no password for source shop" in result.stderr and "source_shop_password" in result.stderr


def test_an_unreachable_source_is_one_failing_check_with_the_fix(stack):
    port = next(p for p in range(15999, 15900, -1) if port_is_free(stack.host, p))
    result = _sources("add", "shop", "--url", f"postgresql://x@{stack.host}:{port}/x")
    assert result.returncode == 1
    assert "FAIL connection" in result.stderr and "pg_hba.conf" in result.stderr


def test_tables_describe_shows_each_columns_types_and_refuses_a_view(stack, shop):
    url = f"postgresql://{APP_ROLE}@{stack.host}:{stack.crm_db_port}/{DATABASE}"
    with shop.cursor() as cur:
        cur.execute(f"ALTER ROLE {APP_ROLE} REPLICATION")
        cur.execute(f"GRANT CREATE ON DATABASE {DATABASE} TO {APP_ROLE}")
        cur.execute(f"GRANT SELECT ON every_type TO {APP_ROLE}")
    env = {"BIONICFLOW_SOURCE_SHOPDESC_PASSWORD": APP_PASSWORD}
    added = cli("sources", "add", "shopdesc", "--url", url, env=env, timeout=60)
    assert added.returncode == 0, added.stderr
    try:
        shown = cli("tables", "describe", "shopdesc.public.every_type", env=env, timeout=60)
        assert shown.returncode == 0, shown.stderr
        lines = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
        assert "Decimal(12, 2)" in lines["cost"] and "price" in lines["cost"]
        assert "text form" in lines["span"] and "Nullable(String)" in lines["span"]
        assert "key (order_id, line_no)" in shown.stdout
        assert "7 column(s) kept as PostgreSQL's text" in shown.stderr
        view = cli("tables", "describe", "shopdesc.a_view", env=env, timeout=60)
        assert view.returncode == 2 and "is a view" in view.stderr
        bad = cli("tables", "describe", "shopdesc", env=env, timeout=60)
        assert bad.returncode == 2 and "SOURCE.SCHEMA.TABLE" in bad.stderr
        unreadable = cli("tables", "describe", "shopdesc.by_text", env=env, timeout=60)
        assert unreadable.returncode == 2 and 'GRANT SELECT ON "public"."by_text"' in unreadable.stderr
        quoted = cli("tables", "describe", 'shopdesc."public"."every_type"', env=env, timeout=60)
        assert quoted.returncode == 0 and "key (order_id, line_no)" in quoted.stdout, quoted.stderr
    finally:
        assert _sources("remove", "shopdesc").returncode == 0


# Two rows of every type (extremes, unicode, NULLs, empty arrays) and a third of the values whose text
# differs most between PostgreSQL and Debezium (NaN, a zero interval, a time zone west of UTC, a nullable array).
EVERY_TYPE_ROWS = """INSERT INTO every_type VALUES
    (1, 1, 2147483647, 1234567890123456.0001, 12345678901234567890123456789012345678901.5, 99.99, 'ÄÖÜ✓',
     0.1, 0.1, true, 'кириллица 🙂', 'x', 'ab', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2299-12-31',
     '23:59:59.999999', '12:00+05:30', '1900-01-01 00:00:00.001', '2038-01-19 03:14:08.000005+02',
     '1 year 2 mons -3 days 04:05:06.000007', '{"b": 1, "a": [1, 2.50]}', '{"b": 1, "a": [1, 2.50]}',
     '\\xdeadbeef00', '{x,NULL,"",  "q\\"uote"}', '{1,NULL,-2147483648}', NULL, 'ангry', '10.0.0.1/8',
     '2001:db8::/32', '08:00:2b:01:02:03'),
    (1, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '   ', NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, '{}', '{}', '{a,NULL}', NULL, NULL, NULL, NULL),
    (2, 1, 7, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'x', NULL, NULL, NULL, '23:59:59.5-08', NULL,
     NULL, '0', NULL, NULL, NULL, '{}', '{}', '{a,NULL,"b c"}', NULL, NULL, NULL, NULL),
    (2, 2, 8, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'y', NULL, NULL, NULL, '10:00+05:30',
     NULL, NULL, '-1 year -2 mons +3 days -04:05:06', NULL, NULL, NULL, '{}', '{}', '{}', NULL, NULL, NULL, NULL)"""


def _fill_every_type(shop) -> None:
    """every_type holds EVERY_TYPE_ROWS only, and the batch road's view of it exists in the source."""
    from bionicflow.kernel.source_views import source_view_ddl

    with shop.cursor() as cur:
        cur.execute("TRUNCATE every_type")
        cur.execute(EVERY_TYPE_ROWS)
        for statement in source_view_ddl(describe_table(shop, "public", "every_type"), "shop_every_type"):
            cur.execute(statement)


def _same(value):
    """A value as both sides can be compared: UTC-naive instants, times of day, uuids as text, float32 as stored."""
    if isinstance(value, list):
        return [_same(v) for v in value]
    if isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dt.timedelta):
        return (dt.datetime.min + value).time()
    if isinstance(value, (uuid.UUID, memoryview)):
        return bytes(value) if isinstance(value, memoryview) else str(value)
    return value


# The text-form columns of EVERY_TYPE_ROWS as both roads keep them: the text Debezium 3.6 sends for these
# source values (recorded from the connector, docs/sources.md), e.g. an interval in ISO 8601 with every part.
TEXT_FORMS = {
    (1, 1): {"free": "12345678901234567890123456789012345678901.5", "at_timetz": "06:30:00Z",
             "span": "P1Y2M-3DT4H5M6.000007S", "maybe_tags": None, "addr": "10.0.0.1/8", "net": "2001:db8::/32",
             "mac": "08:00:2b:01:02:03"},
    (1, 2): {"free": None, "at_timetz": None, "span": None, "maybe_tags": '["a",null]', "addr": None, "net": None,
             "mac": None},
    (2, 1): {"free": "NaN", "at_timetz": "07:59:59.5Z", "span": "P0Y0M0DT0H0M0S", "maybe_tags": '["a",null,"b c"]',
             "addr": None, "net": None, "mac": None},
    (2, 2): {"free": "-Infinity", "at_timetz": "04:30:00Z", "span": "P-1Y-2M3DT-4H-5M-6S", "maybe_tags": "[]",
             "addr": None, "net": None, "mac": None},
}


def _copied_rows(olap, schema: str, names: list[str], table: str = "shop_every_type") -> list[dict]:
    result = olap.query(f"SELECT {', '.join(names)} FROM {schema}.{table} FINAL ORDER BY order_id, line_no",
                        column_formats={"raw": "bytes"})
    return [dict(zip(names, row)) for row in result.result_rows]


def _assert_holds_the_source(shop, described, rows: list[dict], where: str) -> None:
    """Exact columns equal psycopg's values; text-form columns equal TEXT_FORMS."""
    names = [c.name for c in described.columns]
    text_form = {c.name for c in described.text_form_columns}
    assert text_form == set(TEXT_FORMS[(1, 1)])
    with shop.cursor() as cur:  # json as its text: psycopg would parse it
        cur.execute("SELECT " + ", ".join(f"{n}::text" if n in ("doc", "docb") else n for n in names)
                    + " FROM every_type ORDER BY order_id, line_no")
        theirs = [dict(zip(names, row)) for row in cur.fetchall()]
    assert len(rows) == len(theirs) == 4, f"{where} has {len(rows)} rows, the source {len(theirs)}"
    for ours, source in zip(rows, theirs, strict=True):
        key = (source["order_id"], source["line_no"])
        for name in names:
            want = TEXT_FORMS[key][name] if name in text_form else _same(source[name])
            got = _same(ours[name])
            if name == "r" and want is not None:  # a real is a float32: compare as PostgreSQL stores it
                want = struct.unpack("f", struct.pack("f", want))[0]
            assert got == want, f"{key} {name}: the source has {want!r}, {where} has {got!r}"


def test_the_batch_roads_first_copy_holds_every_value_of_the_source(stack, shop):
    """A whole copy through the source's view: each column equals psycopg's value (text-form ones: their text)."""
    from bionicflow.etl.table_copy import first_copy
    from bionicflow.kernel.sources import PgSource

    _fill_every_type(shop)
    described = describe_table(shop, "public", "every_type")
    password = (stack.secrets_dir / "crm_db_superuser_password").read_text().strip()
    source = PgSource(stack.host, stack.crm_db_port, DATABASE, "postgres", password)
    olap = olap_admin(stack)
    olap.command("DROP TABLE IF EXISTS default.shop_every_type")
    try:
        copied = first_copy(olap, source, described, "shop_every_type")
        assert copied.rows == 4
        rows = _copied_rows(olap, "default", [c.name for c in described.columns])
    finally:
        olap.command("DROP TABLE IF EXISTS default.shop_every_type")
    _assert_holds_the_source(shop, described, rows, "default.shop_every_type")


def _snapshot_messages(stack, topic: str, count: int, timeout: float = 120) -> list[bytes]:
    """The first ``count`` messages of ``topic`` (the snapshot), polled with a deadline."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": f"{stack.host}:{stack.kafka_port}", "group.id": f"test-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout
    try:
        while len(messages) < count:
            assert time.monotonic() < deadline, f"{len(messages)} of {count} messages on {topic} within {timeout}s"
            message = consumer.poll(1.0)
            if message is not None and not message.error():
                messages.append(message.value())
    finally:
        consumer.close()
    return messages


def _drop_slot(shop, slot: str, timeout: float = 60) -> None:
    """Drop the connector's slot once its WAL sender has gone (a deleted connector lets go within seconds)."""
    deadline = time.monotonic() + timeout
    with shop.cursor() as cur:
        while True:
            cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
            row = cur.fetchone()
            if row is None:
                return
            if not row[0]:
                cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            assert time.monotonic() < deadline, f"slot {slot} still active {timeout}s after its connector was deleted"
            time.sleep(0.5)


def test_the_cdc_road_holds_the_same_values_as_the_batch_road(stack, shop):
    """Debezium's snapshot of every_type through the CDC views equals the source and the batch road's copy."""
    import requests

    from bionicflow.cdc import ddl
    from bionicflow.cdc.source_connectors import SIGNAL_DDL, publication_ddl, slot_name, source_connector, topic
    from bionicflow.etl.table_copy import first_copy
    from bionicflow.kernel.pg_catalogue import roads_table
    from bionicflow.kernel.source_registry import SourceAddress
    from bionicflow.kernel.sources import PgSource

    _fill_every_type(shop)
    described = describe_table(shop, "public", "every_type")
    table = roads_table(described, "shop_every_type", DATABASE, "shop.public.every_type")
    assert table.sorting_key == ("order_id", "line_no")
    password = (stack.secrets_dir / "crm_db_superuser_password").read_text().strip()
    password_file = stack.secrets_dir / "source_shop.properties"
    password_file.write_text(f"password={password}\n")
    source = SourceAddress("shop", stack.host, stack.crm_db_port, DATABASE, "postgres")
    spec = source_connector(source, [table], password_file)
    assert password not in json.dumps(spec.config), "the password is in the connector's configuration"
    olap = olap_admin(stack)
    statements = [ddl.kafka_table_ddl(table, "embedded"), ddl.target_table_ddl(table), ddl.view_ddl(table),
                  ddl.dead_letter_view_ddl(table)]
    connect = f"http://{stack.host}:{stack.kafka_connect_port}/connectors"
    try:
        for statement in statements:
            olap.command(statement)
        first_copy(olap, PgSource(stack.host, stack.crm_db_port, DATABASE, "postgres", password), described,
                   "shop_every_type")
        with shop.cursor() as cur:
            cur.execute(f"DROP PUBLICATION IF EXISTS {slot_name(source)}")
            cur.execute("CREATE SCHEMA IF NOT EXISTS bionicflow")
            cur.execute(SIGNAL_DDL)  # the publication names the signal table, as tables add makes it
            cur.execute(publication_ddl(source, [table]))
        requests.post(connect, json={"name": spec.name, "config": spec.config}, timeout=30).raise_for_status()
        messages = _snapshot_messages(stack, topic(source, table), 4)
        # what the consumer does for the brief's tables: each message as it came, with its position
        olap.insert(f"{ddl.DATABASE}.shop_every_type_kafka",
                    [[m.decode(), table.topic, 0, n] for n, m in enumerate(messages)],
                    column_names=["payload", "_topic", "_partition", "_offset"])
        letters = olap.query(f"SELECT error FROM {ddl.DATABASE}.dead_letters WHERE topic = {{t:String}}",
                             parameters={"t": table.topic}).result_rows
        assert letters == [], f"snapshot messages were dead-lettered: {letters}"
        names = [c.name for c in described.columns]
        cdc_rows, batch_rows = _copied_rows(olap, ddl.DATABASE, names), _copied_rows(olap, "default", names)
    finally:
        requests.delete(f"{connect}/{spec.name}", timeout=30)
        for name in ("shop_every_type_mv", "shop_every_type_dead_letters_mv", "shop_every_type_kafka",
                     "shop_every_type"):
            olap.command(f"DROP TABLE IF EXISTS {ddl.DATABASE}.{name}")
        olap.command("DROP TABLE IF EXISTS default.shop_every_type")
        olap.command(f"DELETE FROM {ddl.DATABASE}.dead_letters WHERE topic = {{t:String}}",
                     parameters={"t": table.topic})
        _drop_slot(shop, slot_name(source))
        password_file.unlink()
    _assert_holds_the_source(shop, described, cdc_rows, "debezium.shop_every_type")
    assert cdc_rows == batch_rows, "the two roads hold different values"


@pytest.mark.parametrize(("values", "column"), [
    ("(1, '{{1,2},{3,4}}', NULL, NULL)", "m"),  # ClickHouse would store []
    ("(1, '[5:6]={7,8}', NULL, NULL)", "m"),  # ... or drop the bounds
    ("(1, '{}', '1800-01-01', NULL)", "d"),  # ... or clamp the day to 1900-01-01
    ("(1, '{}', 'infinity', NULL)", "d"),
    ("(1, '{}', NULL, 'NaN')", "n"),
])
def test_a_value_the_copy_cannot_hold_refuses_the_copy_and_writes_nothing(stack, shop, values, column):
    from bionicflow.etl.table_copy import CopyRefused, first_copy
    from bionicflow.kernel.source_views import source_view_ddl
    from bionicflow.kernel.sources import PgSource

    with shop.cursor() as cur:
        cur.execute("TRUNCATE matrix")
        cur.execute(f"INSERT INTO matrix VALUES {values}, (2, '{{1}}', '2000-01-01', 1.5)")
        described = describe_table(shop, "public", "matrix")
        for statement in source_view_ddl(described, "shop_matrix"):
            cur.execute(statement)
    password = (stack.secrets_dir / "crm_db_superuser_password").read_text().strip()
    olap = olap_admin(stack)
    olap.command("DROP TABLE IF EXISTS default.shop_matrix")
    with pytest.raises(CopyRefused, match=f"{column}: 1 row") as refused:
        first_copy(olap, PgSource(stack.host, stack.crm_db_port, DATABASE, "postgres", password), described,
                   "shop_matrix")
    assert "nothing was copied" in str(refused.value)
    assert not olap.command("EXISTS TABLE default.shop_matrix")


def _poll(check, timeout: float = 120) -> None:
    """Run ``check`` until it passes; its last AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


BIG_DOC_SQL = "SELECT md5(doc::text), octet_length(doc::text), n FROM big_doc ORDER BY id"


def test_tables_add_carries_every_type_a_10_mb_document_and_untouched_toast_values_on_both_roads(stack, shop):
    """`tables add` end to end for the every-type table and a 10 MB jsonb, then changes, as a user runs it."""
    superuser_password = (stack.secrets_dir / "crm_db_superuser_password").read_text().strip()
    env = {"BIONICFLOW_SOURCE_SHOPALL_PASSWORD": superuser_password}
    _fill_every_type(shop)
    with shop.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS big_doc (id int PRIMARY KEY, doc jsonb, n int)")
        cur.execute("TRUNCATE big_doc")  # ~10 MB of UTF-8 text in one value
        cur.execute("INSERT INTO big_doc VALUES (1, jsonb_build_object('blob', repeat('ж', 5 * 1024 * 1024)), 0)")
    url = f"postgresql://postgres@{stack.host}:{stack.crm_db_port}/{DATABASE}"
    assert cli("sources", "add", "shopall", "--url", url, env=env).returncode == 0
    olap = olap_admin(stack)
    try:
        for table in ("every_type", "big_doc"):
            added = cli("tables", "add", f"shopall.public.{table}", env=env, timeout=300)
            assert added.returncode == 0, added.stderr
        described = describe_table(shop, "public", "every_type")
        names = [c.name for c in described.columns]
        for schema in ("default", "debezium"):
            _assert_holds_the_source(shop, described, _copied_rows(olap, schema, names, "every_type"),
                                     f"{schema}.every_type")

        with shop.cursor() as cur:
            cur.execute("UPDATE every_type SET total = total + 1, t = 'changed ü', tags = '{}', u = NULL "
                        "WHERE order_id = 1 AND line_no = 1")
            cur.execute("DELETE FROM every_type WHERE order_id = 2 AND line_no = 2")
            cur.execute("UPDATE big_doc SET n = 7")  # the 10 MB value untouched: TOASTed, not in the change
            cur.execute(BIG_DOC_SQL)
            want = cur.fetchall()
        exact = [c.name for c in described.columns if not c.clickhouse.text_form]

        def cdc_holds_the_source() -> None:
            with shop.cursor() as cur:
                cur.execute("SELECT " + ", ".join(f"{n}::text" if n in ("doc", "docb") else n for n in exact)
                            + " FROM every_type ORDER BY order_id, line_no")
                theirs = [[_same(v) for v in row] for row in cur.fetchall()]
            ours = [[_same(r[n]) for n in exact] for r in _copied_rows(olap, "debezium", exact, "every_type")]
            for row in (*theirs, *ours):  # float32: compare as stored
                row[exact.index("r")] = None if row[exact.index("r")] is None else round(row[exact.index("r")], 4)
            assert ours == theirs
            got = olap.query("SELECT MD5(doc), length(doc), n FROM debezium.big_doc FINAL ORDER BY id").result_rows
            assert [(bytes(m).hex() if isinstance(m, bytes) else m, ln, n) for m, ln, n in got] == \
                [(m, ln, n) for m, ln, n in want], "the untouched 10 MB value changed on the CDC road"

        _poll(cdc_holds_the_source)
    finally:
        for table in ("every_type", "big_doc"):
            cli("tables", "remove", table, "--drop-copies", env=env)
        cli("sources", "remove", "shopall", env=env)
