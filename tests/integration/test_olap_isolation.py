"""The OLAP server as an attacker holding the read-only credentials would try it, over raw HTTP."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
import requests

ATTACKS = [  # (request body, exception code, HTTP status as ClickHouse maps the code: READONLY 500)
    ("SELECT 1; SELECT * FROM ops.etl_runs", 62, 400),
    ("SELECT 1; SELECT * FROM file('/etc/hostname', 'LineAsString')", 62, 400),
    ("SELECT 1;\nINSERT INTO default.users (user_id) VALUES (1)", 62, 400),
    ("SELECT * FROM loop('ops', 'etl_runs') LIMIT 1", 497, 403),
    ("SELECT * FROM loop(ops, etl_runs) LIMIT 1", 497, 403),
    ("SELECT * FROM merge('ops', '.*')", 497, 403),
    ("SELECT * FROM merge(REGEXP('^op'), '.*')", 497, 403),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", 497, 403),
    ("SELECT file('/etc/hostname')", 497, 403),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", 497, 403),
    ("SELECT * FROM s3('http://127.0.0.1:1/a.csv')", 497, 403),
    ("SELECT * FROM remote('127.0.0.1', 'ops', 'etl_runs')", 497, 403),
    ("SELECT * FROM remoteSecure('127.0.0.1', 'ops', 'etl_runs')", 497, 403),
    ("SELECT * FROM cluster('default', 'ops', 'etl_runs')", 497, 403),
    ("SELECT * FROM clusterAllReplicas('default', 'ops', 'etl_runs')", 497, 403),
    ("SELECT * FROM postgresql('127.0.0.1:1', 'crm_db', 'users', 'u', 'p')", 497, 403),
    ("SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')", 497, 403),
    ("SELECT * FROM input('x UInt8')", 497, 403),
    ("SELECT * FROM executable('id', 'TSV', 'x String')", 497, 403),
    ("SELECT * FROM dictionary('any')", 497, 403),
    ("SELECT dictGet('ops.any', 'x', toUInt64(1))", 497, 403),
    ("SELECT joinGet('ops.any', 'x', 1)", 497, 403),
    ("SELECT * FROM view(SELECT * FROM ops.etl_runs)", 497, 403),
    ("WITH r AS (SELECT * FROM ops.etl_runs) SELECT * FROM r", 497, 403),
    ("SELECT count() FROM debezium.users WHERE user_id IN (SELECT 1 FROM ops.etl_runs)", 497, 403),
    ("SELECT 1 WHERE 1 IN ops.etl_runs", 497, 403),
    ("SELECT (SELECT count() FROM ops.etl_runs)", 497, 403),
    ("SELECT * FROM `ops`.`etl_runs`", 497, 403),
    ("SELECT * FROM /* gap */ ops . etl_runs", 497, 403),
    ("SHOW CREATE TABLE ops.etl_runs", 497, 403),
    ("SHOW TABLES FROM ops", 497, 403),
    ("SHOW COLUMNS FROM etl_runs FROM ops", 497, 403),
    ("DESCRIBE TABLE ops.etl_runs", 497, 403),
    ("EXISTS TABLE ops.etl_runs", 497, 403),
    ("EXPLAIN SELECT * FROM ops.etl_runs", 497, 403),
    ("SHOW SETTINGS LIKE '%'", 497, 403),
    ("SHOW PROCESSLIST", 164, 500),
    ("SELECT query FROM system.query_log", 497, 403),
    ("SELECT * FROM system.processes", 497, 403),
    ("SELECT * FROM system.disks", 497, 403),
    ("SELECT * FROM system.server_settings", 497, 403),
    ("SELECT getServerSetting('path')", 497, 403),
    ("SELECT 1 SETTINGS max_execution_time = 0", 497, 403),
    ("SELECT 1 SETTINGS readonly = 0", 164, 500),  # the engine refuses it first: READONLY
    ("SELECT 1 INTO OUTFILE '/tmp/bionicflow-leak.tsv'", 497, 403),
    ("SET max_memory_usage = 0", 164, 500),
    ("USE ops", 164, 500),
    ("KILL QUERY WHERE 1", 164, 500),
    ("SYSTEM FLUSH LOGS", 164, 500),
    ("CREATE TABLE default.evil (x UInt8) ENGINE = Memory", 164, 500),
    ("SELECT * FROM `ops.etl_runs`", 497, 403),  # a name the checker cannot split: refused, not guessed
]


def _url(stack) -> str:
    return f"http://{stack.host}:{stack.olap_port}/"


def _reader_auth(stack) -> tuple[str, str]:
    return stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value()


def _admin(stack, sql: str, **params) -> requests.Response:
    auth = (stack.clickhouse_user, stack.clickhouse_password.get_secret_value())
    return requests.post(_url(stack), params=params, data=sql.encode(), auth=auth, timeout=30)


@pytest.fixture(scope="module")
def fenced(stack):
    """Rows in ops, and views/materialized views in an allowed database that point at them."""
    for sql in ("DROP VIEW IF EXISTS debezium.isolation_view", "DROP VIEW IF EXISTS debezium.isolation_mv",
                "DROP TABLE IF EXISTS ops.isolation_secret", "CREATE DATABASE IF NOT EXISTS ops",
                "CREATE TABLE IF NOT EXISTS ops.isolation_secret (s String) ENGINE = MergeTree ORDER BY s",
                "INSERT INTO ops.isolation_secret VALUES ('the secret')",
                "CREATE DATABASE IF NOT EXISTS debezium",
                "CREATE VIEW IF NOT EXISTS debezium.isolation_view AS SELECT s FROM ops.isolation_secret",
                "CREATE MATERIALIZED VIEW IF NOT EXISTS debezium.isolation_mv TO ops.isolation_secret "
                "AS SELECT toString(dummy) AS s FROM system.one"):
        assert _admin(stack, sql).status_code == 200
    yield
    for sql in ("DROP VIEW IF EXISTS debezium.isolation_view", "DROP VIEW IF EXISTS debezium.isolation_mv",
                "DROP TABLE IF EXISTS ops.isolation_secret"):
        _admin(stack, sql)


@pytest.mark.parametrize("sql, code, status", ATTACKS)
def test_attack_requests_are_refused_with_clickhouse_codes(stack, fenced, sql, code, status):
    response = requests.post(_url(stack), data=sql.encode(), auth=_reader_auth(stack), timeout=30)
    assert (response.status_code, response.headers.get("X-ClickHouse-Exception-Code")) == (status, str(code)), response.text
    assert "the secret" not in response.text


@pytest.mark.parametrize("sql", ["SELECT * FROM debezium.isolation_view", "SELECT * FROM debezium.isolation_mv"])
def test_views_in_an_allowed_database_are_followed_to_what_they_read(stack, fenced, sql):
    response = requests.post(_url(stack), data=sql.encode(), auth=_reader_auth(stack), timeout=30)
    assert response.status_code == 403 and "ops.isolation_secret" in response.text
    assert _admin(stack, sql).text.strip() == "the secret"  # the admin reads through the same view


@pytest.mark.parametrize("params, code", [
    ({"database": "ops", "query": "SELECT * FROM isolation_secret"}, "497"),
    ({"max_execution_time": "0"}, "452"), ({"max_execution_time": "100000"}, "452"),
    ({"max_memory_usage": "0"}, "452"), ({"max_result_rows": "0"}, "452"),
    ({"readonly": "0"}, "164"), ({"additional_table_filters": "{}"}, "164"),
    ({"allow_introspection_functions": "1"}, "164"), ({"format_schema": "/etc/passwd:M"}, "164"),
])
def test_settings_and_parameters_cannot_lift_the_fence_or_the_limits(stack, fenced, params, code):
    body = b"" if "query" in params else b"SELECT 1"
    response = requests.post(_url(stack), params=params, data=body, auth=_reader_auth(stack), timeout=30)
    assert response.headers.get("X-ClickHouse-Exception-Code") == code, response.text
    assert response.status_code == {"497": 403, "452": 500, "164": 500}[code]  # ClickHouse's statuses


def test_a_second_identity_in_headers_or_parameters_is_refused(stack):
    admin_password = stack.clickhouse_password.get_secret_value()
    for extra in ({"headers": {"X-ClickHouse-User": stack.clickhouse_user, "X-ClickHouse-Key": admin_password}},
                  {"params": {"user": stack.clickhouse_user, "password": admin_password}}):
        response = requests.post(_url(stack), data=b"SELECT currentUser()", auth=_reader_auth(stack), timeout=30,
                                  **extra)
        assert (response.status_code, response.headers.get("X-ClickHouse-Exception-Code")) == (403, "516")


def test_the_catalogue_shows_a_reader_only_its_databases(stack, fenced):
    auth = _reader_auth(stack)
    shown = requests.post(_url(stack), data=b"SHOW DATABASES", auth=auth, timeout=30).text.split()
    assert "debezium" in shown and "ops" not in shown
    tables = requests.post(_url(stack), data=b"SELECT DISTINCT database FROM system.tables", auth=auth, timeout=30)
    assert "ops" not in tables.text.split() and "debezium" in tables.text.split()
    admin = _admin(stack, "SELECT DISTINCT database FROM system.tables").text.split()
    assert "ops" in admin  # hidden from the reader, not missing


def test_reader_queries_run_under_the_servers_limits(stack):
    auth = _reader_auth(stack)
    limit = requests.post(_url(stack), data=b"SELECT getSetting('max_execution_time'), getSetting('readonly')",
                          auth=auth, timeout=30)
    assert limit.text.split() == [str(stack.olap_reader_max_execution_time), "2"]
    slow = requests.post(_url(stack), params={"max_execution_time": "1"},
                         data=b"SELECT count() FROM numbers(1000000000000)", auth=auth, timeout=60)
    assert slow.headers.get("X-ClickHouse-Exception-Code") == "159", slow.text  # TIMEOUT_EXCEEDED


def _running(stack, marker: str) -> int:
    sql = "SELECT count() FROM system.processes WHERE query LIKE {m:String} AND query NOT LIKE '%system.processes%'"
    return int(_admin(stack, sql, param_m=f"%{marker}%").text)


def _wait(predicate, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_an_abandoned_query_is_cancelled_when_its_client_disconnects(stack):
    marker = f"abandoned_{time.time_ns()}"
    body = f"SELECT count() FROM numbers(1000000000000) WHERE number != 42 /* {marker} */".encode()
    token = base64.b64encode(":".join(_reader_auth(stack)).encode())
    client = socket.create_connection((stack.host, stack.olap_port))
    client.sendall(b"POST / HTTP/1.1\r\nHost: olap\r\nAuthorization: Basic " + token
                   + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    _wait(lambda: _running(stack, marker) == 1, 30, "the query never started")
    client.close()  # as curl does when interrupted: no response is awaited
    _wait(lambda: _running(stack, marker) == 0, 2, "the query still runs 2 s after its client went away")


def test_the_admin_kills_a_running_query(stack):
    marker = f"killable_{time.time_ns()}"
    outcome = {}

    def long_query():
        outcome["response"] = _admin(stack, f"SELECT count() FROM numbers(1000000000000) /* {marker} */")

    thread = threading.Thread(target=long_query)
    thread.start()
    _wait(lambda: _running(stack, marker) == 1, 30, "the query never started")
    found = _admin(stack, "SELECT query_id FROM system.processes WHERE query LIKE {m:String} "
                          "AND query NOT LIKE '%system.processes%'", param_m=f"%{marker}%").text.strip()
    killed = _admin(stack, "KILL QUERY WHERE query_id = {id:String} SYNC", param_id=found)
    assert killed.status_code == 200 and found in killed.text
    thread.join(30)
    assert outcome["response"].headers.get("X-ClickHouse-Exception-Code") == "394"  # QUERY_WAS_CANCELLED
