"""`bionicflow tables add/list/remove`: a team's own tables onto both roads, run as a user runs the CLI.

A fourth database, `store_db`, is made in the stack's CRM PostgreSQL with a role of its own
that owns its tables. After every change the copies are compared value by value with what
psycopg reads from the source, never with our own hashes.
"""

from __future__ import annotations

import datetime as dt
import re
import decimal
import time
import uuid

import psycopg2
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.support.rows import olap_admin, superuser
from tests.support.stack import cli, run_ok

DATABASE, ROLE, PASSWORD = "store_db", "store_app", "store's pw"
SCHEMA_SQL = """
CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), customer text NOT NULL, total numeric(12, 2),
                     placed_at timestamptz, tags text[] NOT NULL DEFAULT '{}', note jsonb, qty int, weight real,
                     ip inet);
INSERT INTO orders (customer, total, placed_at, tags, note, qty, weight, ip)
SELECT 'c' || g, g * 1.25, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour 1 microsecond',
       ARRAY['a', 'b' || g], jsonb_build_object('g', g, 'name', 'Zoë ' || g), g, g / 3.0,
       (ARRAY['::1', '10.0.0.1/8', '192.168.0.1', NULL])[1 + g % 4]::inet
FROM generate_series(1, 500) g;
CREATE TABLE lines (order_id uuid, line_no int, sku text, price numeric(10, 2), PRIMARY KEY (order_id, line_no));
INSERT INTO lines SELECT id, n, 'sku' || n, n * 2.5 FROM orders, generate_series(1, 3) n;
CREATE TABLE "sku list" (code text PRIMARY KEY, name text, added date);
INSERT INTO "sku list" VALUES ('sku1', 'одна', '2024-02-29'), ('sku2', NULL, NULL), ('a.b "c"', 'odd key', '1999-12-31');
CREATE TABLE reserved (id int PRIMARY KEY, op text);
CREATE TABLE cased (id int PRIMARY KEY, "Key" int, key int);
CREATE VIEW order_view AS SELECT * FROM orders;
CREATE TABLE keyless (a int, b text);
"""
SOURCE = {"orders": "orders", "lines": "lines", "store_skus": "sku list"}  # a name Kafka cannot take as it is


@pytest.fixture(scope="module")
def store(stack):
    """`store_db` owned by `store_app` (REPLICATION), whose tables it owns; gone again after the module."""
    admin = superuser(stack, "postgres")
    _drop(stack, admin)
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {ROLE} LOGIN REPLICATION PASSWORD %s", (PASSWORD,))
        cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    conn = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname=DATABASE, user=ROLE, password=PASSWORD)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
    url = f"postgresql://{ROLE}@{stack.host}:{stack.crm_db_port}/{DATABASE}"
    added = _cli("sources", "add", "store", "--url", url)
    assert added.returncode == 0, added.stderr
    yield conn
    conn.close()
    for name in SOURCE:
        _cli("tables", "remove", name, "--drop-copies")
    _cli("sources", "remove", "store")
    _drop(stack, admin)
    admin.close()


def _drop(stack, admin) -> None:
    """The connector, its slot, the database and the role of an earlier run."""
    requests.delete(f"http://{stack.host}:{stack.kafka_connect_port}/connectors/store-connector", timeout=30)
    deadline = time.monotonic() + 60
    with admin.cursor() as cur:
        while True:
            cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = 'bionicflow_store'")
            row = cur.fetchone()
            if row is None:
                break
            if not row[0]:
                cur.execute("SELECT pg_drop_replication_slot('bionicflow_store')")
                break
            assert time.monotonic() < deadline, "the store connector's slot stayed active after it was deleted"
            time.sleep(0.5)
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {ROLE}")
        cur.execute("DROP ROLE IF EXISTS store_writer")


def _cli(*args: str):
    return cli(*args, env={"BIONICFLOW_SOURCE_STORE_PASSWORD": PASSWORD}, timeout=300)


def _same(value):
    """A value as both sides compare: instants as naive UTC, uuids as text, decimals and the rest as they are."""
    if isinstance(value, list):
        return tuple(_same(v) for v in value)
    if isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float):  # real: float32 on both sides; NaN as text, which equals itself
        return "NaN" if value != value else round(value, 5)
    return value


def _source_rows(store, table: str) -> list[tuple]:
    with store.cursor() as cur:
        cur.execute(f'SELECT * FROM "{table}"')
        names = [d.name for d in cur.description]
        json_columns = {"note"}
        rows = [tuple(_same(v if n not in json_columns or v is None else _json_text(store, v))
                      for n, v in zip(names, row, strict=True)) for row in cur.fetchall()]
    return sorted(rows, key=repr)


def _json_text(store, value) -> str:
    """jsonb as PostgreSQL prints it (what both copies hold)."""
    import json

    with store.cursor() as cur:
        cur.execute("SELECT %s::jsonb::text", (json.dumps(value),))
        return cur.fetchone()[0]


def _copy_rows(stack, schema: str, name: str, columns: list[str]) -> list[tuple]:
    olap = olap_admin(stack)
    names = ", ".join(f"`{c}`" for c in columns)
    rows = olap.query(f"SELECT {names} FROM {schema}.{name} FINAL WHERE NOT is_deleted").result_rows
    return sorted((tuple(_same(v) for v in row) for row in rows), key=repr)


def _columns(store, table: str) -> list[str]:
    with store.cursor() as cur:
        cur.execute(f'SELECT * FROM "{table}" LIMIT 0')
        return [d.name for d in cur.description]


def _wait_cdc_equal(stack, store, name: str, timeout: float = 90) -> None:
    """Poll until debezium.<name> holds the source table value by value."""
    table = SOURCE[name]
    columns = _columns(store, table)
    deadline = time.monotonic() + timeout
    while True:
        want = _source_rows(store, table)
        try:
            got = _copy_rows(stack, "debezium", name, columns)
        except DatabaseError as exc:  # a column the source just gained, not in the copy yet
            got = [("the copy cannot be read", str(exc)[:200])]
        if want == got:
            return
        if time.monotonic() > deadline:
            missing, extra = set(want) - set(got), set(got) - set(want)
            pytest.fail(f"debezium.{name} differs from the source after {timeout}s: {len(want)} vs {len(got)} rows; "
                        f"missing {sorted(missing, key=repr)[:3]}, extra {sorted(extra, key=repr)[:3]}")
        time.sleep(1)


def _assert_batch_equal(stack, store, name: str) -> None:
    table = SOURCE[name]
    columns = _columns(store, table)
    assert _copy_rows(stack, "default", name, columns) == _source_rows(store, table), \
        f"default.{name} differs from the source"


def _slot_pids(stack) -> dict[str, int]:
    """The WAL sender of each brief connector's slot: a restarted connector gets a new one."""
    pids = {}
    for database in ("crm_db", "telemetry_db"):
        conn = superuser(stack, database, cluster=database)
        with conn.cursor() as cur:
            cur.execute("SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE '%debezium_slot'")
            pids.update(cur.fetchall())
        conn.close()
    return pids


def _refresh_batch(airflow, name: str) -> None:
    """The batch road's load of an added table, as a user starts it: `etl_default` for that table."""
    run = run_ok(airflow, "etl_default", {"tables": [name]})
    loads = airflow.task_states("etl_default", run["dag_run_id"])
    assert loads, "etl_default ran no task"


def test_a_table_is_added_on_both_roads_and_follows_every_change(stack, store, airflow):
    added = _cli("tables", "add", "store.public.orders")
    assert added.returncode == 0, added.stderr
    assert "[1/6]" in added.stderr and "[6/6]" in added.stderr, "tables add shows no progress"
    assert "500 rows in default.orders, 500 in debezium.orders" in added.stdout
    _assert_batch_equal(stack, store, "orders")
    _wait_cdc_equal(stack, store, "orders")

    with store.cursor() as cur:
        cur.execute("INSERT INTO orders (customer, total, tags, note) VALUES ('new', 0.01, '{}', '{\"x\": [1, 2.5]}')")
        cur.execute("UPDATE orders SET total = 99999999.99, tags = '{}', note = NULL WHERE customer = 'c1'")
        cur.execute("DELETE FROM orders WHERE customer IN ('c2', 'c3')")
        cur.execute("UPDATE orders SET id = gen_random_uuid() WHERE customer = 'c4'")  # a key change
        cur.execute("UPDATE orders SET weight = 'NaN', placed_at = NULL WHERE customer = 'c5'")
    _wait_cdc_equal(stack, store, "orders")
    _refresh_batch(airflow, "orders")
    _assert_batch_equal(stack, store, "orders")

    deadline = time.monotonic() + 60  # the lag is measured against the connector's heartbeats (every 10 s)
    while True:
        listed = _cli("tables", "list")
        assert listed.returncode == 0, listed.stderr
        line = next(line for line in listed.stdout.splitlines() if line.startswith("orders "))
        if re.search(r"\d+\.\d s", line) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert "store.public.orders" in line and " id " in line and "ready" in line and "499" in line
    assert re.search(r"  \d+\.\d s  ", line), f"no CDC lag for an added table: {line}"
    status = _cli("status")
    assert "debezium.orders: CDC lag" in status.stdout + status.stderr, "status leaves the added table out"


def test_more_tables_join_the_running_connector_and_nothing_else_restarts(stack, store, airflow):
    before = _slot_pids(stack)
    assert len(before) == 2 and all(before.values()), f"the brief's connectors are not streaming: {before}"
    for args in (("store.public.lines",), ("store.public.sku list", "--as", "store_skus")):
        added = _cli("tables", "add", *args)
        assert added.returncode == 0, added.stderr
    assert _slot_pids(stack) == before, "adding a table restarted one of the brief's connectors"
    for name in ("lines", "store_skus"):
        _assert_batch_equal(stack, store, name)
        _wait_cdc_equal(stack, store, name)

    with store.cursor() as cur:
        cur.execute("INSERT INTO lines SELECT id, 9, 'late', 1 FROM orders WHERE customer = 'new'")
        cur.execute("UPDATE lines SET line_no = 7 WHERE line_no = 1 AND sku = 'sku1' AND order_id IN "
                    "(SELECT id FROM orders WHERE customer = 'c6')")  # a change of one part of the key
        cur.execute("UPDATE \"sku list\" SET code = 'sku3', name = 'renamed' WHERE code = 'sku2'")
        cur.execute("DELETE FROM \"sku list\" WHERE code = 'a.b \"c\"'")
        cur.execute("UPDATE orders SET qty = -1 WHERE customer = 'c7'")
    for name in ("lines", "store_skus", "orders"):
        _wait_cdc_equal(stack, store, name)

    with store.cursor() as cur:
        cur.execute("TRUNCATE lines")
        cur.execute("INSERT INTO lines SELECT id, 1, 'after', 3.5 FROM orders WHERE customer = 'c8'")
    _wait_cdc_equal(stack, store, "lines")
    _refresh_batch(airflow, "lines")
    _assert_batch_equal(stack, store, "lines")


def _reconciled(airflow, stack) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """A `cdc_reconcile` run's findings for the added tables: (table, side) -> (rows, missing, extra, differing)."""
    run = run_ok(airflow, "cdc_reconcile")
    rows = olap_admin(stack).query(
        "SELECT table, side, rows, missing_keys, extra_keys, differing_rows FROM ops.reconciliation_tables "
        "WHERE run_id = {r:String} AND table IN ('orders', 'lines', 'store_skus')",
        parameters={"r": run["dag_run_id"]}).result_rows
    return {(t, side): (n, missing, extra, differing) for t, side, n, missing, extra, differing in rows}


def test_reconciliation_compares_added_tables_by_content(stack, store, airflow):
    for name in ("orders", "lines", "store_skus"):
        _wait_cdc_equal(stack, store, name)
        _refresh_batch(airflow, name)
    found = _reconciled(airflow, stack)
    for name in ("orders", "lines", "store_skus"):
        rows = len(_source_rows(store, SOURCE[name]))
        for side in ("source", "default", "debezium"):
            assert found[(name, side)] == (rows, 0, 0, 0), f"{name} {side}: {found.get((name, side))}"
    olap = olap_admin(stack)  # a wrong value in one copy: found, by content
    olap.command("INSERT INTO debezium.store_skus (code, name, added, _op, _lsn, _version, _source_ts, is_deleted) "
                 "SELECT code, 'tampered', added, 'u', 0, 1000000, now64(6), 0 FROM debezium.store_skus FINAL "
                 "WHERE code = 'sku1'")
    found = _reconciled(airflow, stack)
    assert found[("store_skus", "debezium")][3] == 1, found[("store_skus", "debezium")]
    assert found[("store_skus", "default")][1:] == (0, 0, 0)
    olap.command("DELETE FROM debezium.store_skus WHERE name = 'tampered'")
    page = requests.get(f"http://{stack.host}:{stack.airflow_port}/bionicflow/cdc-vs-batch", headers=airflow.headers,
                        timeout=60)
    assert page.status_code == 200, page.text[-1000:]
    assert "store_skus" in page.text and "store-connector" in page.text, "the CDC-vs-batch page leaves added tables out"


def _loaded_since(stack, names: tuple[str, ...], since: str) -> dict[str, tuple[int, int, str]]:
    """Per table, what every batch load finished since ``since`` wrote: (rows, keys removed, the reasons)."""
    rows = olap_admin(stack).query(
        "SELECT table, sum(rows), sum(deleted), arrayStringConcat(groupArray(reason), ' | ') FROM ops.etl_runs "
        "WHERE table IN {names:Array(String)} AND finished_at >= {since:DateTime64(6)} GROUP BY table",
        parameters={"names": list(names), "since": since}).result_rows
    return {t: (int(n), int(deleted), reasons) for t, n, deleted, reasons in rows}


def _batch_loads(airflow, stack, names: tuple[str, ...]) -> dict[str, tuple[int, int, str]]:
    """One `etl_default` run of ``names``, as a user starts it: per table (rows written, keys removed, why)."""
    run = run_ok(airflow, "etl_default", {"tables": list(names)})
    rows = olap_admin(stack).query("SELECT table, rows, deleted, reason FROM ops.etl_runs WHERE run_id = {r:String}",
                                   parameters={"r": run["dag_run_id"]}).result_rows
    assert {t for t, *_ in rows} == set(names), f"etl_default loaded {rows}, not {names}"
    return {t: (n, deleted, reason) for t, n, deleted, reason in rows}


def test_batch_loads_read_only_what_the_change_journal_noted(stack, store, airflow):
    """Keys of every kind (uuid, composite, text): unchanged costs nothing; a change reads only its keys."""
    names = ("orders", "lines", "store_skus")
    with store.cursor() as cur:
        cur.execute("INSERT INTO lines SELECT id, n, 'sku' || n, n * 2.5 FROM orders, generate_series(1, 3) AS n "
                    "WHERE customer IN ('c24', 'c25')")
    _batch_loads(airflow, stack, names)  # whatever came before: the cursor is the journal's from here on
    unchanged = _batch_loads(airflow, stack, names)
    assert all(rows == 0 and "nothing changed" in why for rows, _, why in unchanged.values()), unchanged

    since = olap_admin(stack).command("SELECT toString(now64(6))")  # the loads from here on saw the writes below
    admin = superuser(stack, DATABASE)
    with admin.cursor() as cur:  # a writer that is not the owner: the journal needs no grant of its own
        cur.execute("DROP ROLE IF EXISTS store_writer")
        cur.execute("CREATE ROLE store_writer LOGIN PASSWORD 'w'")
        cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON orders, lines, \"sku list\" TO store_writer")
    admin.close()
    writer = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname=DATABASE, user="store_writer",
                              password="w")
    with writer, writer.cursor() as cur:
        cur.execute("UPDATE orders SET total = total + 1 WHERE customer IN ('c20', 'c21')")
        cur.execute("INSERT INTO orders (customer, tags) VALUES ('journal new', '{}')")
        cur.execute("DELETE FROM orders WHERE customer = 'c22'")
        cur.execute("UPDATE orders SET id = gen_random_uuid() WHERE customer = 'c23'")  # one key gone, one new
        cur.execute("UPDATE lines SET line_no = 8 WHERE line_no = 2 AND order_id = "
                    "(SELECT id FROM orders WHERE customer = 'c24')")  # one part of a composite key
        cur.execute("DELETE FROM lines WHERE line_no = 3 AND order_id = (SELECT id FROM orders WHERE customer = 'c25')")
        cur.execute("INSERT INTO \"sku list\" VALUES ('sku9', 'nine', '2026-12-07')")
        cur.execute("UPDATE \"sku list\" SET code = 'sku1 moved' WHERE code = 'sku1'")
    writer.close()
    _batch_loads(airflow, stack, names)
    changed = _loaded_since(stack, names, since)  # the hourly scheduled run may have taken the changes first
    assert changed["orders"][:2] == (4, 2) and "change journal noted" in changed["orders"][2], changed["orders"]
    assert changed["lines"][:2] == (1, 2), changed["lines"]
    assert changed["store_skus"][:2] == (2, 1), changed["store_skus"]
    for name in names:
        _assert_batch_equal(stack, store, name)

    with store.cursor() as cur:  # a TRUNCATE has no rows to note: the next load copies the table whole
        cur.execute("BEGIN; TRUNCATE lines; INSERT INTO lines SELECT id, 5, 'after truncate', 1.5 FROM orders "
                    "WHERE customer LIKE 'c3%'; COMMIT")
        cur.execute("ALTER TABLE \"sku list\" DISABLE TRIGGER bionicflow_note_update")  # a change it would miss
        cur.execute("UPDATE \"sku list\" SET name = 'unseen' WHERE code = 'sku9'")
    after = _batch_loads(airflow, stack, ("lines", "store_skus"))
    assert "TRUNCATE" in after["lines"][2] and after["lines"][0] == len(_source_rows(store, "lines")), after
    assert after["lines"][1] > 0, f"the whole copy's tombstones are not counted: {after}"
    assert "missing or disabled" in after["store_skus"][2], after
    for name in ("lines", "store_skus"):
        _assert_batch_equal(stack, store, name)
    with store.cursor() as cur:
        cur.execute("SELECT tgenabled FROM pg_trigger WHERE tgrelid = '\"sku list\"'::regclass "
                    "AND tgname = 'bionicflow_note_update'")
        assert cur.fetchone() == ("A",), "the load did not make the disabled journal trigger again"
    _wait_cdc_equal(stack, store, "lines")
    _wait_cdc_equal(stack, store, "store_skus")

    # a transaction left open across a load: the load does not wait for it, nor do the table's other writers
    with store.cursor() as cur:
        cur.execute("UPDATE orders SET qty = 1 WHERE customer IN ('c26', 'c27')")
    held = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname=DATABASE, user=ROLE, password=PASSWORD)
    try:
        with held.cursor() as cur:
            cur.execute("UPDATE orders SET qty = 2 WHERE customer = 'c27'")  # not committed yet
        _batch_loads(airflow, stack, ("orders",))
        with store.cursor() as cur:
            cur.execute("SET statement_timeout = '10s'")
            cur.execute("UPDATE orders SET qty = 3 WHERE customer = 'c26'")  # its key's journal row is free
            cur.execute("RESET statement_timeout")
        held.commit()
    finally:
        held.close()
    late = _batch_loads(airflow, stack, ("orders",))
    assert "change journal noted" in late["orders"][2], late
    _assert_batch_equal(stack, store, "orders")


def test_backfill_reads_an_added_tables_window_again_on_both_roads(stack, store, airflow):
    """Rows lost from both copies come back by `backfill` over the table's one time column, and only those."""
    window = {"window_start": "2026-01-01T10:00:00", "window_end": "2026-01-01T20:00:00"}
    with store.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE placed_at >= '2026-01-01 10:00+00' "
                    "AND placed_at < '2026-01-01 20:00+00'")
        in_window = cur.fetchone()[0]
    assert in_window >= 5, "the window holds too few rows to show anything"
    _wait_cdc_equal(stack, store, "orders")
    olap = olap_admin(stack)
    for schema in ("default", "debezium"):  # lost from both copies; one row outside the window too
        olap.command(f"DELETE FROM {schema}.orders WHERE placed_at >= '2026-01-01 10:00:00' "
                     "AND placed_at < '2026-01-01 20:00:00' OR customer = 'c40'")
    run = run_ok(airflow, "backfill", {"tables": ["orders"], "target": "both", **window})
    outside = ("c40",)
    for schema in ("default", "debezium"):
        held = olap.query(f"SELECT countIf(customer IN {outside}), count() FROM {schema}.orders FINAL "
                          "WHERE NOT is_deleted").first_row
        assert held == (0, len(_source_rows(store, "orders")) - 1), f"{schema}: {held} after the backfill"
    log = airflow.task_log("backfill", run["dag_run_id"], "refill", map_index=0)
    assert f"{in_window} of {in_window} rows of the window" in log and "on placed_at" in log, log[-2000:]

    refused = airflow.run("backfill", {"tables": ["lines"], "target": "default", **window})
    assert refused["state"] == "failed"
    plan_log = airflow.task_log("backfill", refused["dag_run_id"], "plan")
    assert "lines has no time columns" in plan_log and "mode full" in plan_log, plan_log[-2000:]

    with store.cursor() as cur:  # c40 back on both roads by the batch road's and the stream's own ways
        cur.execute("UPDATE orders SET qty = qty WHERE customer = 'c40'")
    _refresh_batch(airflow, "orders")
    _assert_batch_equal(stack, store, "orders")
    _wait_cdc_equal(stack, store, "orders")


def _published(store) -> list[tuple]:
    with store.cursor() as cur:
        cur.execute("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'bionicflow_store' "
                    "ORDER BY 1, 2")
        return cur.fetchall()


def _state(stack, store) -> tuple:
    """What a refused add must leave as it was: catalogue, ClickHouse tables, publication, connector, views."""
    olap = olap_admin(stack)
    tables = olap.query("SELECT database, name FROM system.tables WHERE database IN ('default', 'debezium') "
                        "ORDER BY 1, 2").result_rows
    config = requests.get(f"http://{stack.host}:{stack.kafka_connect_port}/connectors/store-connector/config",
                          timeout=30).json()
    with store.cursor() as cur:
        cur.execute("SELECT viewname FROM pg_views WHERE schemaname = 'bionicflow' ORDER BY 1")
        views = cur.fetchall()
        cur.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE 'bionicflow%%' "
                    "UNION ALL SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'bionicflow' ORDER BY 1, 2")
        views += cur.fetchall()
    listed = [re.split(r"\s{2,}", line)[:4] for line in _cli("tables", "list").stdout.splitlines()]  # not the counts
    return listed, tables, _published(store), config, views


@pytest.mark.parametrize(("args", "says"), [
    (("store.public.order_view",), "is a view"),
    (("store.public.keyless",), "has no primary key"),
    (("store.public.nothere",), "does not exist in this source"),
    (("store.public.orders", "--as", "orders_again"), "is already copied as orders"),
    (("store.public.keyless", "--as", "users"), "a table named users is already copied"),
    (("store.public.keyless", "--as", "dead_letters"), "uses for its own tables"),
    (("store.public.keyless", "--as", "Bad-Name"), "lower-case letters"),
    (("store.public.reserved",), 'column "op" has a name the copies use for their own columns'),
    (("store.public.cased",), 'columns "Key" and "key" differ only by case'),
    (("nowhere.public.orders",), "no source named nowhere"),
])
def test_bad_input_is_refused_with_the_fix_and_nothing_is_half_created(stack, store, args, says):
    before = _state(stack, store)
    refused = _cli("tables", "add", *args)
    assert refused.returncode == 2, refused.stderr
    assert says in refused.stderr
    assert _state(stack, store) == before


def test_a_table_the_role_does_not_own_is_refused_and_every_step_undone(stack, store):
    """The publication refuses the table half-way (after the ClickHouse tables, entry and connector change)."""
    owner = superuser(stack, DATABASE)
    with owner.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS not_ours (id int PRIMARY KEY, v text)")
        cur.execute(f"GRANT SELECT ON not_ours TO {ROLE}")
    owner.close()
    before = _state(stack, store)
    refused = _cli("tables", "add", "store.public.not_ours")
    assert refused.returncode == 2, refused.stderr
    assert "must be owner" in refused.stderr, refused.stderr
    assert _state(stack, store) == before, "a refused add left something behind"


def test_columns_added_dropped_and_renamed_in_the_source_follow_on_both_roads(stack, store, airflow):
    with store.cursor() as cur:
        cur.execute("ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'web'")  # old rows: 'web'
        cur.execute("ALTER TABLE orders ADD COLUMN discount numeric(5, 2)")
        cur.execute("INSERT INTO orders (customer, tags, channel, discount) VALUES ('after add', '{}', 'shop', 0.5)")
        cur.execute("UPDATE orders SET discount = 1.25 WHERE customer = 'c11'")
    _wait_cdc_equal(stack, store, "orders")
    _refresh_batch(airflow, "orders")
    _assert_batch_equal(stack, store, "orders")

    with store.cursor() as cur:
        with pytest.raises(psycopg2.errors.DependentObjectsStillExist, match="orders_olap"):
            cur.execute("ALTER TABLE orders DROP COLUMN weight")  # the source-side view reads it (docs/sources.md)
        cur.execute("ALTER TABLE orders DROP COLUMN weight CASCADE")  # ... and the user's order_view with it
        cur.execute("ALTER TABLE orders RENAME COLUMN qty TO quantity")
        cur.execute("UPDATE orders SET quantity = 42 WHERE customer = 'c12'")
    _wait_cdc_equal(stack, store, "orders")
    _refresh_batch(airflow, "orders")
    _assert_batch_equal(stack, store, "orders")


def test_values_hold_exactly_through_both_first_copies(stack, store):
    """Spot checks psycopg's own types against the copies (beyond the tuple comparison above)."""
    olap = olap_admin(stack)
    total, placed = olap.query("SELECT total, placed_at FROM debezium.orders FINAL WHERE customer = 'c10'").first_row
    assert total == decimal.Decimal("12.50")
    assert placed.replace(tzinfo=None) == dt.datetime(2026, 1, 1, 10, 0, 0, 10)


def test_remove_takes_a_table_off_both_roads(stack, store):
    refused = _cli("sources", "remove", "store")
    assert refused.returncode == 2 and "tables remove" in refused.stderr, refused.stderr
    removed = _cli("tables", "remove", "lines", "--drop-copies")
    assert removed.returncode == 0, removed.stderr
    assert ("public", "lines") not in _published(store)
    config = requests.get(f"http://{stack.host}:{stack.kafka_connect_port}/connectors/store-connector/config",
                          timeout=30).json()
    assert "lines" not in config["table.include.list"] and "public.orders" in config["table.include.list"]
    assert config["snapshot.mode"] == "no_data", "the connector's snapshot mode changed: a lost offset would re-snapshot"
    olap = olap_admin(stack)
    assert not olap.query("SELECT name FROM system.tables WHERE name LIKE 'lines%' AND database IN "
                          "('default', 'debezium')").result_rows
    with store.cursor() as cur:  # the others still stream
        cur.execute("UPDATE orders SET total = 1.23 WHERE customer = 'c9'")
    _wait_cdc_equal(stack, store, "orders")
    brief = _cli("tables", "remove", "users")
    assert brief.returncode == 2 and "brief's tables" in brief.stderr

    assert _cli("tables", "remove", "store_skus", "--drop-copies").returncode == 0
    kept = _cli("tables", "remove", "orders")  # the source's last table: connector, slot and publication go
    assert kept.returncode == 0, kept.stderr
    assert requests.get(f"http://{stack.host}:{stack.kafka_connect_port}/connectors/store-connector",
                        timeout=30).status_code == 404
    again = _cli("tables", "add", "store.public.orders")
    assert again.returncode == 2 and "tables remove orders --drop-copies" in again.stderr, again.stderr
    with store.cursor() as cur:  # the source's last table gone: nothing of bionicflow's is left in the source
        cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'bionicflow'")
        assert cur.fetchone() == (0,), "the bionicflow schema outlived the source's last table"
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'bionicflow%%'")
        assert cur.fetchall() == []
    dropped = _cli("tables", "remove", "orders", "--drop-copies")
    assert dropped.returncode == 0 and "kept copies dropped" in dropped.stdout, dropped.stderr
    assert not olap.query("SELECT name FROM system.tables WHERE name = 'orders' AND database IN "
                          "('default', 'debezium')").result_rows
