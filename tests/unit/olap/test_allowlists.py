"""The read-only user's allow-lists, on the engine's own catalogue and parse (chdb in-process)."""

from __future__ import annotations

import chdb
import pytest

from bionicflow.olap.access import Node, parse_explain_ast
from bionicflow.olap.allowlists import FunctionList, FunctionRow, literal_string, plain_structure, structure_statement
from bionicflow.olap.engine import _function_list


@pytest.fixture(scope="module")
def conn():
    connection = chdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def functions(conn) -> FunctionList:
    return _function_list(conn)


@pytest.mark.parametrize("name", [
    "sum", "SUM", "count", "sumIf", "uniqExactMerge", "quantileState", "avgOrNullIf", "toDate", "toStartOfDay",
    "plus", "equals", "in", "notIn", "tuple", "lambda", "arrayMap", "JSONExtractString", "caseWithExpression",
    "_CAST", "CAST", "row_number", "lagInFrame", "version", "currentDatabase", "timezone", "timeZone",
    "formatReadableSize", "cityHash64", "if", "multiIf", "coalesce", "toIntervalDay", "rand",
])
def test_pure_functions_clients_and_reports_call_are_listed(functions, name):
    assert functions.allows(name)


@pytest.mark.parametrize("name", [
    "file", "sleep", "sleepEachRow", "getServerSetting", "hasColumnInTable", "joinGet",
    "dictGet", "dictGetString", "currentRequestURL", "hostName", "FQDN", "filesystemAvailable", "showCertificate",
    "addressToSymbol", "logTrace", "aiGenerate", "naiveBayesClassifier", "getClientHTTPHeader", "getMacro",
    "globalVariable", "fuzzQuery", "no_such_function", "sleepIf", "fileIf",
])
def test_functions_that_reach_outside_or_are_unknown_are_not(functions, name):
    assert not functions.allows(name)


def test_an_admin_function_and_a_new_category_are_refused_until_listed():
    rows = [FunctionRow("sum", "", "Aggregate Functions", False, "System", True),
            FunctionRow("admin_fn", "", "", False, "SQLUserDefined", False),
            FunctionRow("newThing", "", "Shiny New Category", False, "System", False),
            FunctionRow("SUMMED", "sum", "", True, "System", True)]
    listed = FunctionList(rows, ["If", "State"])
    assert listed.allows("sum") and listed.allows("sumIfState") and listed.allows("summed")
    assert not listed.allows("admin_fn") and not listed.allows("newThing")


def _plain(conn, structure: str) -> bool:
    text = conn.query(f"EXPLAIN AST {structure_statement(structure)}", "TabSeparatedRaw").bytes().decode()
    return plain_structure(parse_explain_ast(text), Node.walk)


@pytest.mark.parametrize("structure", [
    "a UInt8", "a UInt8, b Nullable(String)", "c Enum8('p' = 1, 'q' = 2)", "d Tuple(x String, y Map(String, UInt8))",
    "e LowCardinality(Nullable(String))", "f DateTime64(3, 'UTC')", "g Nested(x UInt8)", "h Array(Decimal(10, 2))",
])
def test_structures_of_names_and_types_pass(conn, structure):
    assert _plain(conn, structure)


@pytest.mark.parametrize("structure", [
    "b String ALIAS file('/etc/passwd', 'RawBLOB')", "b String DEFAULT file('/x')", "b String MATERIALIZED now()",
    "b String EPHEMERAL 'x'", "b String CODEC(ZSTD)", "b String TTL now()", "b String DEFAULT 'x'",
    "a UInt8) ENGINE = Memory AS SELECT file('/etc/passwd')--",
])
def test_structures_with_expressions_do_not(conn, structure):
    try:
        assert not _plain(conn, structure)
    except RuntimeError:
        pass  # does not parse at all: refused by the checker as "cannot analyse"


def test_string_literals_are_read_as_the_engine_wrote_them():
    assert literal_string(r"'a \'b\' \\c'") == r"a 'b' \c"
    assert literal_string("UInt64_1") is None
