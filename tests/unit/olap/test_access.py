"""The read-only allow-list on chdb's own parse of real statements, with a catalogue made up here."""

from __future__ import annotations

import chdb
import pytest

from bionicflow.olap.access import ReadCheck, TableInfo, catalogue_filters, parse_explain_ast
from bionicflow.olap.protocol import ClickHouseError, quote_string

ALLOWED = frozenset({"default", "debezium"})
CATALOGUE = {
    ("debezium", "users"): TableInfo("ReplacingMergeTree", "CREATE TABLE debezium.users ...", ""),
    ("debezium", "over_users"): TableInfo("View", "CREATE VIEW debezium.over_users ...", "SELECT id FROM debezium.users"),
    ("debezium", "over_ops"): TableInfo("View", "CREATE VIEW debezium.over_ops ...", "SELECT * FROM ops.etl_runs"),
    ("debezium", "view_of_view"): TableInfo("View", "CREATE VIEW ...", "SELECT * FROM debezium.over_ops"),
    ("debezium", "users_mv"): TableInfo("MaterializedView", "CREATE MATERIALIZED VIEW debezium.users_mv TO debezium.users (`id` Int32) AS SELECT 1", "SELECT 1"),
    ("debezium", "mv_into_ops"): TableInfo("MaterializedView", "CREATE MATERIALIZED VIEW debezium.mv_into_ops TO ops.etl_runs (`x` Int32) AS SELECT 1", "SELECT 1"),
    ("debezium", "mv_from_ops"): TableInfo("MaterializedView", "CREATE MATERIALIZED VIEW debezium.mv_from_ops (`x` Int32) ENGINE = MergeTree ORDER BY x AS SELECT x FROM ops.etl_runs", "SELECT x FROM ops.etl_runs"),
    ("debezium", "users_kafka"): TableInfo("Kafka", "CREATE TABLE debezium.users_kafka ...", ""),
    ("default", "pg"): TableInfo("PostgreSQL", "CREATE TABLE default.pg ...", ""),
    ("default", "loop_a"): TableInfo("View", "", "SELECT * FROM default.loop_b"),
    ("default", "loop_b"): TableInfo("View", "", "SELECT * FROM default.loop_a"),
}


@pytest.fixture(scope="module")
def conn():
    connection = chdb.connect(":memory:")
    yield connection
    connection.close()


def check(conn, sql: str, current: str = "default") -> None:
    def parse(text: str):
        return parse_explain_ast(conn.query(f"EXPLAIN AST {text}", "TabSeparatedRaw").bytes().decode())

    normalized = conn.query("SELECT formatQuery({q:String})", "TabSeparatedRaw", params={"q": sql}).bytes().decode()
    ReadCheck(ALLOWED, current, lambda db, t: CATALOGUE.get((db, t)), parse).statement(parse(sql), normalized.strip())


@pytest.mark.parametrize("sql", [
    "SELECT count() FROM debezium.users FINAL WHERE id > 3",
    "SELECT * FROM users",
    "SELECT id FROM debezium.over_users",
    "SELECT * FROM debezium.users_mv",
    "WITH recent AS (SELECT id FROM debezium.users) SELECT * FROM recent",
    "SELECT 1 WHERE 1 IN (SELECT id FROM debezium.users)",
    "SELECT 1 WHERE 1 IN debezium.users",
    "SELECT * FROM numbers(10) AS n JOIN debezium.users AS u ON n.number = u.id",
    "SELECT * FROM view(SELECT id FROM debezium.users)",
    "SELECT a FROM values('a UInt8', 1, 2) UNION ALL SELECT id FROM debezium.users",
    "SELECT name, engine FROM system.tables WHERE database = 'debezium'",
    "SELECT table_name FROM information_schema.tables",
    "SHOW DATABASES", "SHOW TABLES", "SHOW TABLES FROM debezium LIKE 'u%'", "SHOW COLUMNS FROM users FROM debezium",
    "SHOW CREATE TABLE debezium.users", "DESCRIBE TABLE debezium.users", "EXISTS TABLE debezium.users",
    "EXPLAIN SELECT * FROM debezium.users", "EXPLAIN header = 1 SELECT 1", "SHOW FUNCTIONS LIKE 'count%'",
    # as clickhouse-connect sends them: with the output format appended
    "SHOW DATABASES FORMAT Native", "SHOW TABLES FROM debezium LIKE 'u%' FORMAT Native", "SHOW TABLES FORMAT JSON",
    "EXISTS TABLE debezium.users FORMAT Native", "SHOW CREATE TABLE debezium.users FORMAT Native",
    "SHOW COLUMNS FROM users FROM debezium FORMAT Native", "SELECT 1 FORMAT Native", "EXPLAIN SELECT 1 FORMAT Native",
    "DESCRIBE TABLE debezium.users FORMAT Native", "EXISTS DATABASE debezium FORMAT Native",
])
def test_reads_of_the_users_databases_pass(conn, sql):
    check(conn, sql)


@pytest.mark.parametrize("sql, reason", [
    ("SELECT * FROM ops.etl_runs", "not ops.etl_runs"),
    ("SELECT * FROM `ops`.`etl_runs`", "not ops.etl_runs"),
    ("SELECT * FROM loop('ops', 'etl_runs')", "table function loop"),
    ("SELECT * FROM loop(ops, etl_runs)", "table function loop"),
    ("SELECT * FROM merge('ops', '.*')", "table function merge"),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "table function file"),
    ("SELECT * FROM url('http://127.0.0.1/', 'CSV')", "table function url"),
    ("SELECT * FROM postgresql('h:1', 'd', 't', 'u', 'p')", "table function postgresql"),
    ("SELECT * FROM remote('127.0.0.1', 'ops', 'etl_runs')", "table function remote"),
    ("SELECT * FROM s3('http://x/y.csv')", "table function s3"),
    ("SELECT * FROM input('x UInt8')", "table function input"),
    ("SELECT * FROM executable('x.sh', 'TSV', 'x UInt8')", "table function executable"),
    ("SELECT * FROM dictionary('d')", "table function dictionary"),
    ("SELECT file('/etc/passwd')", "function file"),
    ("SELECT dictGetString('ops.d', 'x', toUInt64(1))", "function dictGetString"),
    ("SELECT joinGet('ops.j', 'x', 1)", "function joinGet"),
    ("SELECT getServerSetting('path')", "function getServerSetting"),
    ("SELECT * FROM view(SELECT * FROM ops.etl_runs)", "not ops.etl_runs"),
    ("WITH r AS (SELECT * FROM ops.etl_runs) SELECT * FROM r", "not ops.etl_runs"),
    ("SELECT 1 WHERE 1 IN ops.etl_runs", "not ops.etl_runs"),
    ("SELECT 1 WHERE 1 GLOBAL NOT IN ops.etl_runs", "not ops.etl_runs"),
    ("SELECT (SELECT max(x) FROM ops.etl_runs)", "not ops.etl_runs"),
    ("SELECT * FROM debezium.users AS u JOIN ops.etl_runs AS e ON 1", "not ops.etl_runs"),
    ("SELECT * FROM debezium.over_ops", "not ops.etl_runs"),
    ("SELECT * FROM debezium.view_of_view", "not ops.etl_runs"),
    ("SELECT * FROM debezium.mv_into_ops", "not ops.etl_runs"),
    ("SELECT * FROM debezium.mv_from_ops", "not ops.etl_runs"),  # without TO: its rows are what it made of ops
    ("SELECT * FROM debezium.users_kafka", "Kafka table"),
    ("SELECT * FROM default.pg", "PostgreSQL table"),
    ("SELECT * FROM default.loop_a", "nest too deep"),
    ("SELECT * FROM `a.b`.c", "cannot tell the database"),
    ("SELECT query FROM system.query_log", "system.query_log"),
    ("SELECT * FROM system.processes", "system.processes"),
    ("SELECT * FROM system.disks", "system.disks"),
    ("SELECT 1 SETTINGS max_execution_time = 0", "SETTINGS clause"),
    ("SELECT * FROM view(SELECT 1 SETTINGS readonly = 0)", "SETTINGS clause"),
    ("SELECT 1 INTO OUTFILE '/tmp/out.tsv'", "INTO OUTFILE"),
    ("SHOW CREATE TABLE ops.etl_runs", "not ops.etl_runs"),
    ("SHOW TABLES FROM ops", "not ops"),
    ("SHOW TABLES FROM ops FORMAT Native", "not ops"),
    ("SHOW SETTINGS LIKE 'max%'", "SHOW forms"),
    ("SHOW COLUMNS FROM etl_runs FROM ops", "not ops.etl_runs"),
    ("DESCRIBE ops.etl_runs", "not ops.etl_runs"),
    ("DESCRIBE file('/etc/passwd')", "table function file"),
    ("EXISTS ops.etl_runs", "not ops.etl_runs"),
    ("EXISTS DATABASE ops", "not ops"),
    ("EXPLAIN SELECT * FROM ops.etl_runs", "not ops.etl_runs"),
    ("EXPLAIN ESTIMATE SELECT * FROM ops.etl_runs", "not ops.etl_runs"),
])
def test_everything_else_is_refused_with_access_denied(conn, sql, reason):
    with pytest.raises(ClickHouseError) as refused:
        check(conn, sql)
    assert (refused.value.code, refused.value.name) == (497, "ACCESS_DENIED")
    assert reason in refused.value.message


@pytest.mark.parametrize("sql, kind", [
    ("SET max_memory_usage = 0", "Set"), ("USE ops", "UseQuery"), ("INSERT INTO default.t VALUES (1)", "InsertQuery"),
    ("CREATE TABLE default.x (a UInt8) ENGINE = Memory", "CreateQuery"), ("KILL QUERY WHERE 1", "KillQueryQuery"),
    ("SYSTEM FLUSH LOGS", "SYSTEM"), ("DROP TABLE debezium.users", "DropQuery"), ("TRUNCATE debezium.users", "TruncateQuery"),
])
def test_statements_that_are_not_reads_are_refused_as_readonly(conn, sql, kind):
    with pytest.raises(ClickHouseError) as refused:
        check(conn, sql)
    assert (refused.value.code, refused.value.name) == (164, "READONLY")
    assert f"not {kind}" in refused.value.message


def test_a_fenced_current_database_is_refused_even_for_unqualified_names(conn):
    with pytest.raises(ClickHouseError, match="database ops is not one of"):
        check(conn, "SELECT * FROM etl_runs", current="ops")


def test_unknown_ast_lines_do_not_become_a_pass():
    assert parse_explain_ast("SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Weird thing\n").children[0].children[0].kind == "Weird"
    with pytest.raises(ClickHouseError, match="more than one statement"):
        parse_explain_ast("SelectWithUnionQuery\nSelectWithUnionQuery\n")


def test_catalogue_filters_show_only_the_users_databases(conn):
    conn.query("CREATE DATABASE IF NOT EXISTS ops")
    conn.query("CREATE TABLE IF NOT EXISTS ops.secret (x UInt8) ENGINE = Memory")
    conn.query("CREATE DATABASE IF NOT EXISTS debezium")
    conn.query("CREATE TABLE IF NOT EXISTS debezium.users (id UInt8) ENGINE = Memory")
    conn.query(f"SET additional_table_filters = {quote_string(catalogue_filters(ALLOWED))}")  # as the server does
    try:
        shown = conn.query("SELECT DISTINCT database FROM system.tables", "TabSeparated").bytes().decode()
    finally:
        conn.query("SET additional_table_filters = '{}'")
    assert "ops" not in shown.split() and "debezium" in shown.split()
    everything = conn.query("SELECT DISTINCT database FROM system.tables", "TabSeparated").bytes().decode()
    assert "ops" in everything.split()  # the filter, not an empty catalogue, hid it
