import base64

import pytest

from bionicflow.olap.protocol import (
    ClickHouseError,
    Credentials,
    output_format,
    parse_insert_head,
    quote_string,
    read_credentials,
    read_options,
)


@pytest.mark.parametrize(
    "text, statement, fmt, data",
    [
        (b"INSERT INTO t FORMAT Native\n\x00\x01\n", "INSERT INTO t", "Native", b"\x00\x01\n"),
        (b"insert into db.t (a, b) format TSV\n1\t2\n", "insert into db.t (a, b)", "TSV", b"1\t2\n"),
        # data after spaces only, without a newline, starts at the first non-space
        (b"INSERT INTO t FORMAT CSV 1,2\n", "INSERT INTO t", "CSV", b"1,2\n"),
        # only the first newline is eaten: a leading blank line is data
        (b"INSERT INTO t FORMAT TSV \n\n1\n", "INSERT INTO t", "TSV", b"\n1\n"),
        # a FORMAT inside a string or parentheses is not the clause
        (b"INSERT INTO t (`FORMAT`) SETTINGS x='FORMAT y' FORMAT JSONEachRow\n{}", "INSERT INTO t (`FORMAT`) SETTINGS x='FORMAT y'", "JSONEachRow", b"{}"),
    ],
)
def test_insert_head_splits_statement_and_data(text, statement, fmt, data):
    head = parse_insert_head(text)
    assert head is not None
    assert (head.statement, head.format, text[head.data_offset:]) == (statement, fmt, data)


@pytest.mark.parametrize(
    "text",
    [b"SELECT 1 FORMAT Native", b"INSERT INTO t VALUES (1)", b"INSERT INTO t SELECT * FROM s FORMAT TSV",
     b"WITH 1 AS x SELECT x", b"INSERT INTO t", b""],
)
def test_statements_without_separate_data_are_not_insert_heads(text):
    assert parse_insert_head(text) is None


def test_engine_error_is_parsed_into_code_name_and_status():
    err = ClickHouseError.from_engine(
        "Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT. (UNKNOWN_TABLE)\nStack..."
    )
    assert (err.code, err.name, err.http_status) == (60, "UNKNOWN_TABLE", 404)
    assert err.body("26.9").startswith("Code: 60. DB::Exception: Unknown table expression identifier 'nope'")
    assert err.body("26.9").rstrip().endswith("(UNKNOWN_TABLE) (version 26.9)")


def test_engine_error_with_prefix_and_unknown_text():
    assert ClickHouseError.from_engine("Streaming insert finish failed: Code: 27. DB::Exception: bad (CANNOT_PARSE_INPUT_ASSERTION_FAILED)").code == 27
    fallback = ClickHouseError.from_engine("segfault-ish text")
    assert (fallback.code, fallback.http_status) == (1001, 500)


def test_credentials_come_from_basic_auth_headers_or_params():
    basic = {"authorization": "Basic " + base64.b64encode(b"alice:p:w").decode()}
    assert read_credentials(basic, {}) == Credentials("alice", "p:w")
    assert read_credentials({"x-clickhouse-user": "bob", "x-clickhouse-key": "k"}, {}).user == "bob"
    assert read_credentials({}, {"user": "carol", "password": "x"}).password == "x"
    assert read_credentials({}, {}).user == "default"
    with pytest.raises(ClickHouseError, match="not several"):
        read_credentials(basic, {"user": "admin", "password": "x"})


def test_url_parameters_split_into_settings_query_params_and_http_options():
    opts = read_options({"database": "db", "max_threads": "2", "param_id": "7", "session_id": "s", "query": "q"})
    assert opts.database == "db"
    assert opts.settings == {"max_threads": "2"}
    assert opts.query_params == {"id": "7"}
    with pytest.raises(ClickHouseError) as info:
        read_options({"bad name; DROP": "1"})
    assert info.value.name == "UNKNOWN_SETTING"


def test_setting_values_are_quoted_not_spliced():
    assert quote_string("a'b\\c") == "'a\\'b\\\\c'"


def test_output_format_from_query_or_default():
    assert output_format("SELECT 1 FORMAT JSONEachRow", None) == ("JSONEachRow", True)
    assert output_format("SELECT 'FORMAT x'", "CSV") == ("CSV", False)
    assert output_format("SELECT 1", None) == ("TabSeparated", False)


@pytest.mark.parametrize("sql, count", [
    ("SELECT 1", 1), ("SELECT 1;", 1), ("SELECT 1 ;  -- done\n", 1), ("SELECT 1; /* c */ ;", 1),
    ("SELECT 1; SELECT 2", 2), ("SELECT 'a;b'", 1), ("SELECT 'it''s; fine'", 1), ("SELECT 'esc\\'; x'", 1),
    ("SELECT `a;b` FROM t", 1), ('SELECT "a;b"', 1), ("SELECT 1 -- ; SELECT 2", 1), ("SELECT 1 # ; x", 1),
    ("SELECT /* ; /* nested ; */ still ; */ 1", 1), ("SELECT $$ ; $$", 1), ("SELECT $tag$ ; $$ ; $tag$", 1),
    ("SELECT 1;SELECT 2;SELECT 3", 3), ("", 0), (" ; ", 0),
])
def test_statements_are_counted_outside_quotes_comments_and_heredocs(sql, count):
    from bionicflow.olap.protocol import statement_count

    assert statement_count(sql) == count


@pytest.mark.parametrize("sql, word", [
    ("select 1", "SELECT"), ("  /* x */ -- y\n (SELECT 1)", "SELECT"), ("WITH a AS (SELECT 1) SELECT * FROM a", "WITH"),
    ("create table t", "CREATE"), ("", ""),
])
def test_first_keyword(sql, word):
    from bionicflow.olap.protocol import first_keyword

    assert first_keyword(sql) == word


@pytest.mark.parametrize("sql, params", [
    ("SELECT {x:UInt8}", {"x": "300"}), ("SELECT {x:UInt8}", {"x": "-1"}), ("SELECT {x:Int8}", {"x": "-129"}),
    ("SELECT {x:Nullable(Int16)}", {"x": "40000"}), ("SELECT {x:UInt64}", {"x": "1.5"}), ("SELECT {x:Int32}", {"x": "x"}),
])
def test_integer_parameters_outside_their_type_are_refused(sql, params):
    from bionicflow.olap.protocol import check_query_params

    with pytest.raises(ClickHouseError) as refused:
        check_query_params(sql, params)
    assert (refused.value.code, refused.value.name, refused.value.http_status) == (457, "BAD_QUERY_PARAMETER", 500)


def test_parameters_within_their_type_pass():
    from bionicflow.olap.protocol import check_query_params

    check_query_params("SELECT {a:UInt8}, {b:Int8}, {c:Nullable(UInt64)}, {d:String}, {e:UInt8}",
                       {"a": "255", "b": "-128", "c": "\\N", "d": "300", "e": " 7"})


def test_an_error_named_at_the_end_of_a_long_message_keeps_its_name():
    text = ("Streaming insert finish failed: Code: 27. DB::Exception: Cannot parse input: expected ',' before: "
            "'abc': (at row 2)\n: \nRow 2:\nColumn 0, name: a, type: UInt8, ERROR\n. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)")
    error = ClickHouseError.from_engine(text)
    assert (error.code, error.http_status) == (27, 400)
    assert error.message.startswith("Cannot parse input: expected ','")


@pytest.mark.parametrize("name, status", [
    ("REQUIRED_PASSWORD", 401), ("AUTHENTICATION_FAILED", 403), ("ACCESS_DENIED", 403), ("SYNTAX_ERROR", 400),
    ("UNKNOWN_TABLE", 404), ("NOT_IMPLEMENTED", 501), ("TIMEOUT_EXCEEDED", 408), ("UNSUPPORTED_MEDIA_TYPE", 415),
    # every code ClickHouse's exceptionCodeToHTTPStatus leaves out is 500 there, so here
    ("READONLY", 500), ("SETTING_CONSTRAINT_VIOLATION", 500), ("SESSION_NOT_FOUND", 500),
    ("SESSION_IS_LOCKED", 500), ("ZLIB_INFLATE_FAILED", 500), ("MEMORY_LIMIT_EXCEEDED", 500), ("LOGICAL_ERROR", 500),
])
def test_http_statuses_are_clickhouses_for_every_code(name, status):
    assert ClickHouseError(0, name, "m").http_status == status


def test_every_error_the_server_raises_pairs_the_engines_code_with_its_name():
    import re
    from pathlib import Path

    import chdb

    package = Path(__file__).resolve().parents[3] / "bionicflow" / "olap"
    raised = set()
    for path in package.glob("*.py"):
        raised |= {(int(c), n) for c, n in re.findall(r'ClickHouseError\(\s*(\d+),\s*"([A-Z_]+)"', path.read_text())}
    assert len(raised) > 15
    conn = chdb.connect(":memory:")
    try:
        wrong = {(code, name) for code, name in raised
                 if conn.query(f"SELECT errorCodeToName({code})", "TabSeparatedRaw").bytes().decode().strip() != name}
    finally:
        conn.close()
    assert not wrong, f"codes that the engine names otherwise: {sorted(wrong)}"


@pytest.mark.parametrize("sql, plain, provable", [
    ("SELECT {u:String}, {n:UInt64}", (("u", "String"), ("n", "UInt64")), True),
    ("SELECT '{x:Identifier}', `{y:Identifier}`, {u:String} -- {z:Identifier}\n", (("u", "String"),), True),
    ("SELECT * FROM {d/**/:Identifier}.t", (), False),
    ("SELECT {d:String} /* ' */, * FROM {d/**/:Identifier} /* ' */", (("d", "String"),), False),
    ("SELECT { d : Identifier }", (), False),
    ("SELECT $$ {d:Identifier} $$, {u:DateTime64(6, 'UTC')}", (), False),
    ("SELECT {t:Array(String)}", (("t", "Array(String)"),), True),
])
def test_placeholders_are_found_as_the_lexer_finds_them(sql, plain, provable):
    from bionicflow.olap.protocol import placeholders

    found = placeholders(sql)
    assert (found.plain, found.provable) == (plain, provable)


def test_an_engine_error_keeps_every_line_of_its_message():
    text = ("Code: 27. DB::Exception: Cannot parse input: expected '\\n' before: 'abc\\n': (at row 2)\n: \nRow 1:\n"
            "Column 0,   name: a, type: UInt32, parsed text: \"1\"\n\nRow 2:\nColumn 0,   name: a, type: UInt32, "
            "ERROR: text \"abc<LINE FEED>\" is not like UInt32\n\n: While executing ParallelParsingBlockInputFormat. "
            "(CANNOT_PARSE_INPUT_ASSERTION_FAILED)")
    error = ClickHouseError.from_engine(text)
    assert (error.code, error.name) == (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED")
    assert "Row 2:" in error.message and error.message.endswith("ParallelParsingBlockInputFormat")
    thrown = ClickHouseError.from_engine("Code: 395. DB::Exception: a\nb: while executing 'FUNCTION throwIf'. "
                                         "(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)")
    assert thrown.message.startswith("a\nb: while executing")


@pytest.mark.parametrize("sql, fmt, bare", [
    ("SELECT 1 FORMAT CSVWithNames SETTINGS max_block_size = 10", "CSVWithNames", "SELECT 1  SETTINGS max_block_size = 10"),
    ("SELECT 1 FORMAT Native -- a comment", "Native", "SELECT 1  -- a comment"),
    ("SELECT 1 AS x -- FORMAT JSON", None, "SELECT 1 AS x -- FORMAT JSON"),
    ("SELECT 'FORMAT JSON' AS x", None, "SELECT 'FORMAT JSON' AS x"),
    ("SELECT * FROM (SELECT 1 FORMAT JSON)", None, "SELECT * FROM (SELECT 1 FORMAT JSON)"),
    ("SELECT format FROM t", None, "SELECT format FROM t"),
    ("SELECT * FROM format(JSONEachRow, '{}') FORMAT TSV;", "TSV", "SELECT * FROM format(JSONEachRow, '{}')"),
])
def test_the_format_clause_is_the_statements_own_wherever_its_settings_and_comments_are(sql, fmt, bare):
    from bionicflow.olap.protocol import output_format, without_format

    assert output_format(sql, None) == ((fmt, True) if fmt else ("TabSeparated", False))
    assert without_format(sql) == bare


@pytest.mark.parametrize("text, statement, fmt", [
    (b"INSERT INTO format FORMAT TSV\n1\n", "INSERT INTO format", "TSV"),
    (b"INSERT INTO db.format (a) FORMAT CSV\n1\n", "INSERT INTO db.format (a)", "CSV"),
    (b"INSERT INTO TABLE format FORMAT JSONEachRow {}", "INSERT INTO TABLE format", "JSONEachRow"),
])
def test_a_table_named_format_is_a_name_not_the_clause(text, statement, fmt):
    from bionicflow.olap.protocol import parse_insert_head

    head = parse_insert_head(text)
    assert head is not None and (head.statement, head.format) == (statement, fmt)


@pytest.mark.parametrize("text", [b"INSERT INTO `db`.`t` (`a`) FORMAT Native\n", b'INSERT INTO "t" FORMAT Native\n',
                                  b"INSERT INTO t (a) FORMAT Native\n"])
def test_the_format_after_a_quoted_table_or_a_column_list_is_the_clause(text):
    from bionicflow.olap.protocol import parse_insert_head

    head = parse_insert_head(text)
    assert head is not None and head.format == "Native"


def test_a_wrapped_engine_error_is_said_once():
    from bionicflow.olap.protocol import ClickHouseError

    nested = ("Code: 73. DB::Exception: Code: 73. DB::Exception: Code: 73. DB::Exception: Unknown format X. "
              "(UNKNOWN_FORMAT) (version 26.9.2.1). (UNKNOWN_FORMAT) (version 26.9.2.1). (UNKNOWN_FORMAT)")
    assert ClickHouseError.from_engine(nested).body("26.9.2.1") == \
        "Code: 73. DB::Exception: Unknown format X. (UNKNOWN_FORMAT) (version 26.9.2.1)\n"
    # another code inside a message is the engine's description of a bad row: kept
    row = ("Code: 27. DB::Exception: Cannot parse input: (at row 1)\nCode: 27. DB::Exception: inner. (CANNOT_PARSE_"
           "INPUT_ASSERTION_FAILED) (version 26.9.2.1)\n: While executing X. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)")
    assert "\nCode: 27. DB::Exception: inner." in ClickHouseError.from_engine(row).message


def test_insert_select_from_input_is_refused_not_run_without_its_data():
    from bionicflow.olap.protocol import ClickHouseError, refuse_input_function

    with pytest.raises(ClickHouseError) as refused:
        refuse_input_function("INSERT INTO t (x) SELECT x * 2 FROM input('x Int64') FORMAT TSV\n90\n", "INSERT")
    assert refused.value.name == "NOT_IMPLEMENTED" and "INSERT INTO <table> FORMAT" in refused.value.message
    refuse_input_function("INSERT INTO t SELECT 'input(' AS s", "INSERT")  # in a string: no call
    refuse_input_function("SELECT input_rows FROM t", "SELECT")


def test_cors_and_custom_response_headers_come_from_the_url_settings():
    from bionicflow.olap.protocol import ClickHouseError, asked_response_headers

    assert asked_response_headers({"add_http_cors_header": "1"})["Access-Control-Allow-Origin"] == "*"
    assert asked_response_headers({}) == {}
    custom = asked_response_headers({"http_response_headers": "{'X-My': '1', 'Content-Type': 'text/x-mine', "
                                                              "'X-ClickHouse-Query-Id': 'forged'}"})
    assert custom == {"X-My": "1", "Content-Type": "text/x-mine"}  # the server's own headers stay its own
    with pytest.raises(ClickHouseError):
        asked_response_headers({"http_response_headers": "{'X-Bad': 'a\r\nSet-Cookie: x=1'}"})
