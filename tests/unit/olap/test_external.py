"""External data: a request's file parts as temporary tables, their structure never spliced into SQL."""

from __future__ import annotations

import chdb
import pytest

from bionicflow.olap.engine import Engine
from bionicflow.olap.external import external_parameter_names, external_tables
from bionicflow.olap.protocol import ClickHouseError


def test_structure_types_and_format_come_from_the_parameters():
    files = {"ids": b"1\n2\n", "pairs": b"a,1\n"}
    params = {"ids_types": "UInt64", "pairs_structure": "k String, v UInt8", "pairs_format": "CSV"}
    ids, pairs = external_tables(files, params)
    assert (ids.structure, ids.format) == ("_1 UInt64", "TabSeparated")
    assert (pairs.structure, pairs.format) == ("k String, v UInt8", "CSV")
    assert external_parameter_names(files) >= {"ids_types", "pairs_structure", "pairs_format"}


def test_a_part_without_structure_or_with_a_bad_format_is_refused():
    with pytest.raises(ClickHouseError, match="needs ids_structure"):
        external_tables({"ids": b"1"}, {})
    with pytest.raises(ClickHouseError, match="not a format name"):
        external_tables({"ids": b"1"}, {"ids_types": "UInt8", "ids_format": "CSV') , file('x"})


def test_tables_load_and_a_structure_cannot_smuggle_a_statement(tmp_path):
    conn = chdb.connect(str(tmp_path / "data"))
    try:
        (table,) = external_tables({"ids": b"3\n4\n"}, {"ids_structure": "id UInt64"})
        Engine.load_external(conn, table)
        assert conn.query("SELECT sum(id) FROM ids", "TabSeparated").bytes() == b"7\n"
        (evil,) = external_tables({"e": b""}, {"e_structure": "x UInt8) ENGINE = Memory AS SELECT 1 FROM file('/etc/passwd'"})
        with pytest.raises(ClickHouseError, match="SYNTAX_ERROR|Syntax error"):
            Engine.load_external(conn, evil)
    finally:
        conn.close()


@pytest.mark.parametrize("fmt", ["Parquet", "Arrow", "ORC", "CSV", "JSONEachRow"])
def test_external_data_in_any_format_the_engine_reads(tmp_path, fmt):
    """A file format (Parquet, Arrow, ORC) has no empty form: the table is made from the structure alone."""
    conn = chdb.connect(str(tmp_path / "data"))
    try:
        data = conn.query("SELECT number AS id, toString(number) AS s FROM numbers(4)", fmt).bytes()
        (table,) = external_tables({"t": data}, {"t_structure": "id UInt64, s String", "t_format": fmt})
        Engine.load_external(conn, table)
        assert conn.query("SELECT sum(id), max(s) FROM t", "TabSeparated").bytes() == b"6\t3\n"
    finally:
        conn.close()
