"""The read-only user against a private OLAP server, as an attacker sends it (issue "guard").

Every test asserts the oracle, not only a status code: no canary in any answer, no file
written outside the data directory, no connection to the canary listener, and the admin
still served.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.olap_private import (
    ADMIN,
    READER,
    private_root,
    refused,
    server_broke,
    start_private_olap,
    stop_private_olap,
)


@pytest.fixture(scope="module")
def olap():
    server = start_private_olap(private_root("guard"))
    yield server
    stop_private_olap(server)


@pytest.fixture
def oracle(olap):
    """After the test: nothing written outside the data directory, no outbound connection, the admin served."""
    started, connections = time.time(), olap.listener.connections
    yield olap
    assert olap.files_written(started) == []
    assert olap.listener.connections == connections, "the server connected to the canary listener"
    olap.admin_answers_within(5)


@pytest.mark.parametrize("carry", [
    {"database": "ops"}, {"default_database": "ops"}, {"database": "system"},
])
def test_a_refused_database_does_not_stay_with_the_session(oracle, carry):
    sid = f"carry-{sorted(carry.items())}"
    refused = oracle.query("SELECT 1", auth=READER, params={"session_id": sid, **carry})
    assert refused.status_code == 403
    after = oracle.query("SELECT currentDatabase()", auth=READER, params={"session_id": sid})
    assert after.status_code == 200 and after.text.strip() == "default"
    secret = oracle.query("SELECT * FROM secret", auth=READER, params={"session_id": sid})
    assert not oracle.leaked(secret.text) and secret.status_code >= 400


def test_a_database_header_does_not_stay_with_the_session(oracle):
    refused = oracle.query("SELECT 1", auth=READER, params={"session_id": "hdr"},
                           headers={"X-ClickHouse-Database": "ops"})
    assert refused.status_code == 403
    after = oracle.query("SELECT currentDatabase()", auth=READER, params={"session_id": "hdr"})
    assert after.text.strip() == "default"


def test_url_state_holds_for_one_request_and_set_use_for_the_session(oracle):
    sid = {"session_id": "admin-state"}
    oracle.query("CREATE DATABASE IF NOT EXISTS other")
    assert oracle.query("SELECT currentDatabase()", params={**sid, "database": "other"}).text.strip() == "other"
    assert oracle.query("SELECT currentDatabase()", params=sid).text.strip() == "default"
    assert oracle.query("SELECT getSetting('max_threads')", params={**sid, "max_threads": "3"}).text.strip() == "3"
    assert oracle.query("SELECT getSetting('max_threads')", params=sid).text.strip() != "3"
    assert oracle.query("SET max_threads = 2", params={**sid, "max_block_size": "77"}).status_code == 200
    assert oracle.query("USE other", params=sid).status_code == 200
    kept = oracle.query("SELECT currentDatabase(), getSetting('max_threads'), getSetting('max_block_size')",
                        params=sid).text.split()
    assert kept[:2] == ["other", "2"] and kept[2] != "77"


def test_readonly_in_one_request_does_not_make_the_next_admin_request_read_only(oracle):
    for _ in range(20):  # every pooled connection
        assert oracle.query("SELECT 1", params={"readonly": "1"}).status_code == 200
    assert refused(oracle.query("INSERT INTO t VALUES (3)", params={"readonly": "1"}), "READONLY")
    for _ in range(20):
        response = oracle.query("SELECT count() FROM t", params={"max_threads": "1"})
        assert response.status_code == 200, response.text
    assert oracle.query("CREATE TABLE IF NOT EXISTS t2 (x UInt8) ENGINE = Memory").status_code == 200


def _reader_refused(server, sql: str, params: dict | None = None, status: int | None = None):
    response = server.query(sql, auth=READER, params=params)
    assert not server.leaked(response.text), response.text
    assert refused(response) and not server_broke(response), (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    return response


FILE_READS = [
    "SELECT b FROM values('a UInt8, b String ALIAS file(''{f}'',''RawBLOB'')', 1)",
    "SELECT b FROM values('a UInt8, b String DEFAULT file(''{f}'',''RawBLOB'')', 1)",
    "SELECT b FROM values('a UInt8, b String MATERIALIZED file(''{f}'',''RawBLOB'')', 1)",
    "SELECT * FROM format(JSONEachRow, 'a UInt8, b String ALIAS file(''{f}'', ''RawBLOB'')', '{{\"a\":1}}')",
    "SELECT b FROM generateRandom('a UInt8, b String ALIAS file(''{f}'', ''RawBLOB'')') LIMIT 1",
    "SELECT * FROM null('a String DEFAULT file(''{f}'', ''RawBLOB'')')",
    "SELECT b FROM values(concat('a UInt8, b String ALIAS file(''{f}'',', '''RawBLOB'')'), 1)",
    "SELECT file('{f}', 'RawBLOB')",
    "SELECT * FROM file('{f}', 'RawBLOB')",
    "SELECT getServerSetting('path')",
    "SELECT hasColumnInTable('ops', 'secret', 's')",
    "SELECT currentRequestURL()",
    "SELECT * FROM values('s String', (SELECT s FROM ops.secret))",
]


@pytest.mark.parametrize("template", FILE_READS)
def test_no_file_or_ops_value_through_strings_the_engine_parses(oracle, template):
    for target in (oracle.canary_file, oracle.root / "outside.txt"):
        _reader_refused(oracle, template.format(f=target))


WRITES = [
    "DESCRIBE (SELECT 1 AS x) INTO OUTFILE '{f}' TRUNCATE FORMAT TSVRaw",
    "SHOW CREATE TABLE t INTO OUTFILE '{f}' APPEND",
    "SHOW TABLES INTO OUTFILE '{f}'",
    "SHOW DATABASES INTO OUTFILE '{f}'",
    "EXISTS TABLE t INTO OUTFILE '{f}'",
    "EXPLAIN SELECT 1 INTO OUTFILE '{f}'",
    "SELECT 1 INTO OUTFILE '{f}'",
    "SELECT 1 FROM t INTO OUTFILE '{f}' AND STDOUT",
]


@pytest.mark.parametrize("template", WRITES)
def test_no_statement_kind_writes_a_file(oracle, template):
    target = oracle.root / "written.txt"
    _reader_refused(oracle, template.format(f=target))
    assert not target.exists()


@pytest.mark.parametrize("params", [
    {"format_avro_schema_registry_url": "http://127.0.0.1:{port}/x"},
    {"format_schema": "/etc/passwd:Message"},
    {"function_sleep_max_microseconds_per_block": "0"},
    {"max_execution_time": "inf"},
    {"max_execution_time": "1e400"},
    {"additional_result_filter": "1"},
    {"input_format_record_errors_file_path": "/tmp/x"},
    {"use_query_cache": "1"},
    {"max_concurrent_queries_for_user": "1000"},
    {"readonly": "0"},
])
def test_settings_that_reach_outside_or_lift_limits_are_refused(oracle, params):
    params = {k: v.format(port=oracle.listener.port) for k, v in params.items()}
    _reader_refused(oracle, "SELECT * FROM format(AvroConfluent, 'AAAAAAc=')", params)


def test_the_schema_registry_url_is_never_called(oracle):
    url = f"http://127.0.0.1:{oracle.listener.port}/x"
    _reader_refused(oracle, "SELECT * FROM format(AvroConfluent, 'AAAAAAc=')")
    _reader_refused(oracle, f"SELECT * FROM url('{url}', 'RawBLOB')")
    _reader_refused(oracle, f"SELECT * FROM t SETTINGS format_avro_schema_registry_url = '{url}'")


@pytest.mark.parametrize("sql", [
    "SELECT sleep(3)", "SELECT sleepEachRow(1) FROM numbers(5)", "SELECT getServerSetting('path')",
    "SELECT hostName()", "SELECT * FROM system.processes", "SELECT * FROM system.disks",
])
def test_functions_and_tables_off_the_list_are_refused(oracle, sql):
    _reader_refused(oracle, sql)


def test_an_admin_sql_function_is_neither_visible_nor_callable(oracle):
    oracle.admin_ok("CREATE FUNCTION IF NOT EXISTS admin_secret_fn AS () -> 'canary-7f3c1b'")
    _reader_refused(oracle, "SELECT admin_secret_fn()")
    listed = oracle.query("SELECT name FROM system.functions WHERE name LIKE 'admin_%'", auth=READER)
    assert listed.status_code == 200 and listed.text == ""


def test_errors_do_not_name_what_the_reader_may_not_see(oracle):
    response = _reader_refused(oracle, "SELECT * FROM secre")
    assert "ops" not in response.text


@pytest.mark.parametrize("sql", [
    "SELECT count(), sum(x), quantile(0.5)(x), sumIf(x, x > 1), uniqExact(x) FROM t",
    "SELECT x, row_number() OVER (ORDER BY x), lagInFrame(x) OVER (ORDER BY x) FROM t",
    "SELECT toDate('2026-01-01') + INTERVAL 1 DAY, CASE x WHEN 1 THEN 'a' ELSE 'b' END, x::String FROM t",
    "SELECT * FROM values('a UInt8, b Nullable(String), c Enum8(''p'' = 1)', (1, 'x', 'p'))",
    "SELECT * FROM format(JSONEachRow, 'a UInt8', '{\"a\": 1}')",
    "SELECT * FROM generateRandom('a UInt8, b Array(String)') LIMIT 2",
    "SELECT arrayMap(y -> y + 1, [1, 2]), version(), currentDatabase(), timezone()",
    "SELECT name FROM system.functions WHERE name = 'sum'",
])
def test_what_reports_and_clients_send_still_runs(oracle, sql):
    response = oracle.query(sql, auth=READER)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("auth", [None, READER, ADMIN])
@pytest.mark.parametrize("params", [
    {"query_id": "\u2603"}, {"query_id": "a\r\nX-Injected: 1"}, {"query_id": "x" * 5000},
    {"max_execution_time": "inf"}, {"max_execution_time": "1e400"}, {"default_format": "Template"},
    {"max_result_rows": "1", "result_overflow_mode": "throw"}, {"max_memory_usage": "1000"},
    {"max_execution_time": "1", "timeout_overflow_mode": "throw"}, {"decompress": "1"},
    {"session_timeout": "-1"}, {"session_id": "s", "session_timeout": "1e999"},
    {"client_protocol_version": "abc"}, {"compress": "1", "network_compression_method": "nope"},
    {"max_threads": "-5"}, {"database": "no_such_db"}, {"param_x": "\\"},
])
def test_anything_a_client_sends_gets_a_clickhouse_error_never_a_fault(olap, auth, params):
    sql = "SELECT count() FROM numbers(10000000) WHERE sleepEachRow(0) = 0" if "timeout_overflow_mode" in params \
        else "SELECT number FROM numbers(100000) ORDER BY number DESC"
    response = requests.post(olap.url, params=params, data=sql.encode(), auth=auth, timeout=30)
    assert not server_broke(response) and "X-Injected" not in response.headers, response.text
    if response.status_code != 200:
        assert refused(response) and response.text.startswith("Code: "), response.text


@pytest.mark.parametrize("spelling", ["{d/**/:Identifier}", "{/**/d:Identifier}", "{d--x\n:Identifier}",
                                      "{ d : Identifier }"])
def test_a_remembered_verdict_is_not_reused_for_another_table(oracle, spelling):
    sql = f"SELECT * FROM {spelling}.t"
    assert oracle.query(sql, auth=READER, params={"param_d": "default"}).status_code == 200
    _reader_refused(oracle, sql, {"param_d": "ops"})
    _reader_refused(oracle, f"SELECT * FROM {spelling}.secret", {"param_d": "default"})
    _reader_refused(oracle, f"SELECT * FROM {spelling}.secret", {"param_d": "ops"})


def test_a_structure_bound_as_a_string_parameter_is_checked_every_time(oracle):
    sql = "SELECT * FROM format(JSONEachRow, {s:String}, '{\"x\":1}')"
    assert oracle.query(sql, auth=READER, params={"param_s": "x UInt8, y String"}).status_code == 200
    for evil in (f"x UInt8, y String DEFAULT file('{oracle.canary_file}', 'RawBLOB')",
                 "x UInt8, y String DEFAULT hostName()", "x UInt8, y String DEFAULT getServerSetting('path')"):
        _reader_refused(oracle, sql, {"param_s": evil})
    values = "SELECT * FROM values({s:String}, (1, 'a'))"
    assert oracle.query(values, auth=READER, params={"param_s": "x UInt8, y String"}).status_code == 200
    _reader_refused(oracle, values, {"param_s": "x UInt8, y String, z String DEFAULT hostName()"})


def test_a_compression_bomb_is_refused_without_stalling_anyone(oracle):
    import brotli

    bomb = brotli.compress(b" " * 2**30, quality=11)  # 1 GiB of blanks in under 2 KB
    assert len(bomb) < 4096
    with __import__("concurrent.futures").futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(requests.post, oracle.url, data=bomb, auth=READER, timeout=60,
                           headers={"Content-Encoding": "br"})
        oracle.admin_answers_within(5)
        assert sent.result().status_code == 413


@pytest.mark.parametrize("sql", ["SELECT throwIf(1, unhex('ff'))", "SELECT CAST(unhex('fffe41') AS UInt8)",
                                 "SELECT CAST(unhex('fffe41') AS UInt8) FORMAT JSON", "SELECT 'a\\xff'"])
def test_an_error_quoting_binary_data_is_an_error_not_a_fault(oracle, sql):
    for auth in (READER, ADMIN):
        response = oracle.query(sql, auth=auth)
        assert response.status_code == 200 or refused(response) and not server_broke(response), \
            (auth[0], response.text)


def test_a_materialized_view_without_to_over_ops_is_refused(oracle):
    oracle.admin_ok("CREATE MATERIALIZED VIEW IF NOT EXISTS default.mv_ops ENGINE = MergeTree ORDER BY s "
                    "AS SELECT s FROM ops.secret")
    oracle.admin_ok("INSERT INTO ops.secret VALUES ('canary-7f3c1b-via-mv')")
    _reader_refused(oracle, "SELECT * FROM mv_ops", status=403)
    _reader_refused(oracle, "SELECT * FROM default.mv_ops WHERE 1", status=403)


@pytest.mark.parametrize("sql", [
    "SELECT {db:String} AS a, {t:String} AS b /* ' */, * FROM {db/**/:Identifier}.{t/**/:Identifier} /* ' */",
    "SELECT {db:String} AS a, {t:String} AS b -- '\n, * FROM {db/**/:Identifier}.{t/**/:Identifier} -- '\n",
    "SELECT {db:String} AS a, {t:String} AS b, * FROM {db:Identifier}.{t:Identifier}",
    "SELECT $$ ' $$ AS a, {db:String}, {t:String}, * FROM {db/**/:Identifier}.{t/**/:Identifier}",
])
def test_a_name_bound_twice_cannot_borrow_a_literal_verdict(oracle, sql):
    assert oracle.query(sql, auth=READER, params={"param_db": "default", "param_t": "t"}).status_code == 200
    _reader_refused(oracle, sql, {"param_db": "ops", "param_t": "secret"})
    _reader_refused(oracle, sql, {"param_db": "system", "param_t": "processes"})


@pytest.mark.parametrize("structure", [
    "x UInt8, y String DEFAULT file('{canary}', 'RawBLOB')", "x UInt8, y String DEFAULT hostName()",
    "x UInt8, y String MATERIALIZED getServerSetting('path')", "x UInt8, y String ALIAS 'a'",
])
def test_external_data_structures_are_checked_like_format_arguments(oracle, structure):
    files = {"ext": ("ext.json", b'{"x":1}\n', "application/octet-stream")}
    params = {"query": "SELECT * FROM ext", "ext_structure": structure.format(canary=oracle.canary_file),
              "ext_format": "JSONEachRow"}
    response = requests.post(oracle.url, params=params, files=files, auth=READER, timeout=30)
    assert response.status_code == 403 and not oracle.leaked(response.text), response.text
    plain = requests.post(oracle.url, files=files, auth=READER, timeout=30,
                          params={**params, "ext_structure": "x UInt8"})
    assert plain.status_code == 200 and plain.text.strip() == "1", plain.text


def test_bad_external_data_and_cut_bodies_are_refused(oracle):
    files = {"ext": ("ext.tsv", b"\x8b\n", "application/octet-stream")}
    bad = requests.post(oracle.url, params={"query": "SELECT * FROM ext", "ext_structure": "x UInt8"}, files=files,
                        auth=READER, timeout=30)
    assert refused(bad) and not server_broke(bad), bad.text
    import gzip

    cut = requests.post(oracle.url, data=gzip.compress(b"SELECT 1")[:-6], auth=READER, timeout=30,
                        headers={"Content-Encoding": "gzip"})
    assert refused(cut, "ZLIB_INFLATE_FAILED") and cut.headers["X-ClickHouse-Exception-Code"] == "354", cut.text


def test_a_refreshable_view_writing_into_ops_is_refused(oracle):
    oracle.admin_ok("CREATE TABLE IF NOT EXISTS ops.copy (s String) ENGINE = MergeTree ORDER BY s")
    oracle.admin_ok("INSERT INTO ops.copy SELECT s FROM ops.secret")
    oracle.admin_ok("CREATE MATERIALIZED VIEW IF NOT EXISTS default.rmv REFRESH EVERY 1 HOUR APPEND TO ops.copy "
                    "AS SELECT 'x' AS s FROM default.t LIMIT 0")
    _reader_refused(oracle, "SELECT * FROM default.rmv", status=403)


@pytest.mark.parametrize("prefix", ["# nightly refresh\n", "/* a /* nested */ comment */ ", "\ufeff",
                                    "-- a comment\n", " \n\t", ""])
def test_every_way_of_writing_a_ddl_drops_the_remembered_verdicts(oracle, prefix):
    view = f"default.v_{abs(hash(prefix)) % 10_000}"
    oracle.admin_ok(f"CREATE OR REPLACE VIEW {view} AS SELECT toString(x) AS s FROM default.t")
    assert oracle.query(f"SELECT * FROM {view}", auth=READER).status_code == 200  # a verdict remembered
    oracle.admin_ok(f"{prefix}CREATE OR REPLACE VIEW {view} AS SELECT s FROM ops.secret")
    _reader_refused(oracle, f"SELECT * FROM {view}", status=403)


def test_a_ddl_that_fails_half_way_drops_the_remembered_verdicts(oracle):
    oracle.admin_ok("CREATE OR REPLACE VIEW debezium.r AS SELECT toString(x) AS s FROM default.t")
    oracle.admin_ok("CREATE OR REPLACE VIEW debezium.r_ops AS SELECT s FROM ops.secret")
    assert oracle.query("SELECT * FROM debezium.r", auth=READER).status_code == 200
    failed = oracle.query("RENAME TABLE debezium.r TO debezium.r_old, debezium.r_ops TO debezium.r, "
                          "debezium.nonexistent TO debezium.zz")
    assert failed.status_code == 404
    _reader_refused(oracle, "SELECT * FROM debezium.r", status=403)


def test_a_failed_statement_leaves_no_external_table_in_the_session(oracle):
    files = {"tmp": ("tmp.tsv", b"1\n2\n", "application/octet-stream")}
    params = {"session_id": "ext-left", "query": "SELECT throwIf(x = 2) FROM tmp", "tmp_structure": "x UInt8"}
    failed = requests.post(oracle.url, params=params, files=files, auth=READER, timeout=30)
    assert refused(failed, "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"), failed.text
    after = oracle.query("SELECT * FROM tmp", auth=READER, params={"session_id": "ext-left"})
    assert after.status_code >= 400, after.text
