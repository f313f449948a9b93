"""A streamed INSERT into a table whose write can fail after parsing reports that failure (chdb hides it)."""

import chdb
import pytest

from bionicflow.olap.engine import StreamingInsert
from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.staged_insert import InsertTarget, StagedInsert, TargetTables, insert_target, open_insert


@pytest.fixture()
def conn(tmp_path):
    connection = chdb.connect(str(tmp_path / "db"))
    for ddl in (
        "CREATE TABLE checked (x UInt32, y UInt32 DEFAULT x * 2, z UInt32 MATERIALIZED x + 1, "
        "CONSTRAINT small CHECK x < 10) ENGINE = MergeTree ORDER BY x",
        "CREATE TABLE plain (x UInt32) ENGINE = MergeTree ORDER BY x",
        "CREATE TABLE fed (x UInt32) ENGINE = MergeTree ORDER BY x",
        "CREATE TABLE sink (x UInt32) ENGINE = MergeTree ORDER BY x",
        "CREATE MATERIALIZED VIEW feeder TO sink AS SELECT throwIf(x = 13, 'unlucky') + x AS x FROM fed",
        "CREATE TABLE parted (a UInt32) ENGINE = MergeTree PARTITION BY a ORDER BY a",
        "CREATE TABLE computed (a UInt32, c UInt8 MATERIALIZED throwIf(a = 5)) ENGINE = MergeTree ORDER BY a",
        "CREATE TABLE defaulted (a UInt32, d UInt8 DEFAULT throwIf(a = 5)) ENGINE = MergeTree ORDER BY a",
        "CREATE TABLE odd (`settings` UInt32, `format` String) ENGINE = MergeTree ORDER BY tuple() "
        "PARTITION BY settings",
    ):
        connection.query(ddl)
    yield connection
    connection.close()


TABLES = TargetTables(lambda: 0)


def _insert(conn, statement: str, fmt: str, data: bytes) -> dict:
    insert = open_insert(conn, statement, fmt, TABLES, "default")
    try:
        insert.append(data)
        return insert.finish()
    except BaseException:
        insert.cancel()
        raise


def _rows(conn, sql: str) -> str:
    return conn.query(sql, "TSV").bytes().decode()


def test_chdb_still_swallows_the_error_the_staging_is_for(conn):
    """If this fails, chdb reports the table's errors itself and the staging can go."""
    raw = conn.send_insert("INSERT INTO checked (x)", "TSV")
    raw.append(b"4\n60\n")
    assert raw.finish().rows_written == 2 and _rows(conn, "SELECT count() FROM checked") == "0\n"


@pytest.mark.parametrize("statement, data, name, table", [
    ("INSERT INTO checked (x)", b"4\n60\n", "VIOLATED_CONSTRAINT", "checked"),
    # the view feeding sink: as in ClickHouse the source's rows may stay, the view's never came
    ("INSERT INTO default.fed", b"12\n13\n", "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", "sink"),
    ("INSERT INTO parted", b"".join(b"%d\n" % i for i in range(150)), "TOO_MANY_PARTS", "parted"),
    ("INSERT INTO computed", b"4\n5\n", "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", "computed"),  # a MATERIALIZED one
    ("INSERT INTO defaulted (a)", b"4\n5\n", "INCORRECT_DATA", "defaulted"),  # a DEFAULT for the omitted column
])
def test_a_failure_after_parsing_is_reported(conn, statement, data, name, table):
    with pytest.raises(ClickHouseError) as failed:
        _insert(conn, statement, "TSV", data)
    assert failed.value.name == name, failed.value.message
    assert _rows(conn, f"SELECT count() FROM {table}") == "0\n"
    assert _rows(conn, "SHOW TEMPORARY TABLES") == ""  # the stage is gone


def test_a_temporary_tables_constraint_is_reported_too(conn):
    conn.query("CREATE TEMPORARY TABLE tmp_checked (x UInt32, CONSTRAINT small CHECK x < 10) ENGINE = Memory")
    with pytest.raises(ClickHouseError) as failed:
        _insert(conn, "INSERT INTO tmp_checked", "TSV", b"60\n")
    assert failed.value.name == "VIOLATED_CONSTRAINT"


def test_rows_that_pass_arrive_with_the_tables_defaults_in_the_clients_column_order(conn):
    _insert(conn, "INSERT INTO default.checked", "JSONEachRow", b'{"x": 4}\n{"x": 5, "y": 1}\n')
    _insert(conn, "INSERT INTO checked (y, x) SETTINGS input_format_tsv_empty_as_default = 1", "TSV", b"\t3\n")
    assert _rows(conn, "SELECT x, y, z FROM checked ORDER BY x") == "3\t6\t4\n4\t8\t5\n5\t1\t6\n"


def test_columns_named_like_keywords_are_staged_as_columns(conn):
    _insert(conn, "INSERT INTO odd (format, settings)", "TSV", b"x\t1\n")
    _insert(conn, "INSERT INTO odd (settings, format) SETTINGS max_insert_block_size = 10", "TSV", b"2\ty\n")
    assert _rows(conn, "SELECT settings, format FROM odd ORDER BY settings") == "1\tx\n2\ty\n"


def test_binary_rows_are_staged_as_they_are(conn):
    _insert(conn, "INSERT INTO checked (x)", "RowBinary", (7).to_bytes(4, "little"))
    with pytest.raises(ClickHouseError):
        _insert(conn, "INSERT INTO checked (x)", "RowBinary", (70).to_bytes(4, "little"))
    assert _rows(conn, "SELECT x FROM checked") == "7\n"


def test_only_tables_that_can_fail_after_parsing_are_staged(conn):
    assert isinstance(open_insert(conn, "INSERT INTO plain", "TSV", TABLES, "default"), StreamingInsert)
    assert isinstance(open_insert(conn, "INSERT INTO TABLE FUNCTION null('x UInt8')", "TSV", TABLES, "default"),
                      StreamingInsert)
    staged = open_insert(conn, "INSERT INTO checked", "TSV", TABLES, "default")
    assert isinstance(staged, StagedInsert)
    staged.cancel()


def test_a_remembered_table_is_read_again_after_a_catalogue_change(conn):
    generation = [0]
    tables = TargetTables(lambda: generation[0])
    assert isinstance(open_insert(conn, "INSERT INTO default.plain", "TSV", tables, "default"), StreamingInsert)
    conn.query("ALTER TABLE plain ADD CONSTRAINT small CHECK x < 10")
    assert isinstance(open_insert(conn, "INSERT INTO default.plain", "TSV", tables, "default"), StreamingInsert)
    generation[0] += 1  # what the server does after a DDL
    staged = open_insert(conn, "INSERT INTO default.plain", "TSV", tables, "default")
    assert isinstance(staged, StagedInsert)
    staged.cancel()


@pytest.mark.parametrize("statement, target", [
    ("INSERT INTO t", InsertTarget("", "t", ())),
    ("INSERT INTO default.`my t` (x, `y z`) SETTINGS async_insert = 1",
     InsertTarget("default", "my t", ("x", "y z"), has_settings=True)),
    ("INSERT INTO TABLE FUNCTION null('x UInt8')", None),
])
def test_the_target_is_read_from_the_engines_parse(statement, target):
    explained = chdb.query(f"EXPLAIN AST {statement} FORMAT TabSeparated", "TabSeparatedRaw").bytes().decode()
    assert insert_target(explained) == target
