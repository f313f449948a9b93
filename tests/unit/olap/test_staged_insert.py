"""A streamed INSERT into a table whose write can fail after parsing reports that failure (chdb hides it)."""

import chdb
import pytest

from bionicflow.olap.engine import StreamingInsert
from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.staged_insert import InsertTarget, StagedInsert, insert_target, open_insert


@pytest.fixture()
def conn(tmp_path):
    connection = chdb.connect(str(tmp_path / "db"))
    connection.query("CREATE TABLE checked (x UInt32, y UInt32 DEFAULT x * 2, z UInt32 MATERIALIZED x + 1, "
                     "CONSTRAINT small CHECK x < 10) ENGINE = MergeTree ORDER BY x")
    connection.query("CREATE TABLE plain (x UInt32) ENGINE = MergeTree ORDER BY x")
    connection.query("CREATE TABLE fed (x UInt32) ENGINE = MergeTree ORDER BY x")
    connection.query("CREATE TABLE sink (x UInt32) ENGINE = MergeTree ORDER BY x")
    connection.query("CREATE MATERIALIZED VIEW feeder TO sink AS SELECT throwIf(x = 13, 'unlucky') + x AS x FROM fed")
    yield connection
    connection.close()


def _insert(conn, statement: str, fmt: str, data: bytes) -> dict:
    insert = open_insert(conn, statement, fmt)
    try:
        insert.append(data)
        return insert.finish()
    except BaseException:
        insert.cancel()
        raise


def _rows(conn, sql: str) -> str:
    return conn.query(sql, "TSV").bytes().decode()


def test_chdb_still_swallows_the_error_the_staging_is_for(conn):
    """If this fails, chdb reports the sink's errors itself and the staging can go."""
    raw = conn.send_insert("INSERT INTO checked (x)", "TSV")
    raw.append(b"4\n60\n")
    assert raw.finish().rows_written == 2 and _rows(conn, "SELECT count() FROM checked") == "0\n"


def test_a_violated_constraint_is_reported_and_nothing_is_written(conn):
    with pytest.raises(ClickHouseError) as failed:
        _insert(conn, "INSERT INTO checked (x)", "TSV", b"4\n60\n")
    assert failed.value.name == "VIOLATED_CONSTRAINT"
    assert _rows(conn, "SELECT count() FROM checked") == "0\n"
    assert _rows(conn, "SHOW TEMPORARY TABLES") == ""  # the stage is gone


def test_rows_that_pass_arrive_with_the_tables_defaults_in_the_clients_column_order(conn):
    _insert(conn, "INSERT INTO default.checked", "JSONEachRow", b'{"x": 4}\n{"x": 5, "y": 1}\n')
    _insert(conn, "INSERT INTO checked (y, x) SETTINGS input_format_tsv_empty_as_default = 1", "TSV", b"\t3\n")
    assert _rows(conn, "SELECT x, y, z FROM checked ORDER BY x") == "3\t6\t4\n4\t8\t5\n5\t1\t6\n"


def test_binary_rows_are_staged_as_they_are(conn):
    _insert(conn, "INSERT INTO checked (x)", "RowBinary", (7).to_bytes(4, "little"))
    with pytest.raises(ClickHouseError):
        _insert(conn, "INSERT INTO checked (x)", "RowBinary", (70).to_bytes(4, "little"))
    assert _rows(conn, "SELECT x FROM checked") == "7\n"


def test_a_materialized_view_that_throws_fails_the_insert(conn):
    with pytest.raises(ClickHouseError) as failed:
        _insert(conn, "INSERT INTO fed", "TSV", b"12\n13\n")
    assert "unlucky" in failed.value.message
    _insert(conn, "INSERT INTO fed", "TSV", b"12\n")
    assert _rows(conn, "SELECT x FROM sink") == "12\n"


def test_only_tables_that_can_fail_after_parsing_are_staged(conn):
    assert isinstance(open_insert(conn, "INSERT INTO plain", "TSV"), StreamingInsert)
    assert isinstance(open_insert(conn, "INSERT INTO TABLE FUNCTION null('x UInt8')", "TSV"), StreamingInsert)
    staged = open_insert(conn, "INSERT INTO checked", "TSV")
    assert isinstance(staged, StagedInsert)
    staged.cancel()


@pytest.mark.parametrize("statement, target", [
    ("INSERT INTO t", InsertTarget("", "t", ())),
    ("INSERT INTO default.`my t` (x, `y z`) SETTINGS async_insert = 1", InsertTarget("default", "my t", ("x", "y z"))),
    ("INSERT INTO TABLE FUNCTION null('x UInt8')", None),
])
def test_the_target_is_read_from_the_engines_parse(statement, target):
    explained = chdb.query(f"EXPLAIN AST {statement} FORMAT TabSeparated", "TabSeparatedRaw").bytes().decode()
    assert insert_target(explained) == target
