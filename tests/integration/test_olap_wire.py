"""ClickHouse's wire details a client reads, on a private OLAP server: content types, compressed errors, the
server's defaults, external data in a file format (issue "clients"; the peers' suites check the same by hand)."""

from __future__ import annotations

import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bionicflow.olap.native_revision import BLOCK_INFO
from tests.support.olap_private import ADMIN, READER, private_root, start_private_olap, stop_private_olap


@pytest.fixture(scope="module")
def olap():
    server = start_private_olap(private_root("wire"))
    yield server
    stop_private_olap(server)


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
    ("JSON", "application/json; charset=UTF-8"),
    ("TSV", "text/tab-separated-values; charset=UTF-8"),
    ("CSV", "text/csv; charset=UTF-8; header=absent"),
    ("CSVWithNames", "text/csv; charset=UTF-8; header=present"),
    ("Native", "application/octet-stream"),
])
def test_each_result_names_its_formats_content_type(olap, fmt, content_type):
    answer = olap.query(f"SELECT 42 AS x FORMAT {fmt}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == content_type


def _post(olap, params: dict, data: bytes) -> requests.Response:
    return requests.post(olap.url, params=params, data=data, auth=ADMIN, timeout=30)


def test_an_insert_answers_in_its_default_formats_type_and_an_error_in_plain_text(olap):
    olap.admin_ok("CREATE TABLE IF NOT EXISTS wire_t (x UInt8) ENGINE = Memory")
    for inserted in (olap.query("INSERT INTO wire_t VALUES (1)"),  # whole, and streamed from the body
                     _post(olap, {"query": "INSERT INTO wire_t FORMAT CSV"}, b"2\n")):
        assert inserted.status_code == 200, inserted.text
        assert inserted.headers["content-type"] == "text/tab-separated-values; charset=UTF-8"
    failed = olap.query("SELECT * FROM no_such_table")
    assert failed.status_code == 404 and failed.headers["content-type"] == "text/plain; charset=UTF-8"


def test_an_error_is_compressed_like_a_result_when_the_client_asks(olap):
    failed = requests.post(olap.url, params={"enable_http_compression": "1"}, data="SELECT * FROM no_such_table",
                           auth=ADMIN, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    assert failed.headers.get("content-encoding") == "gzip"
    assert b"UNKNOWN_TABLE" in gzip.decompress(failed.raw.read())


def test_the_server_defaults_are_a_servers_not_clickhouse_locals(olap):
    bare = olap.query("invalid")  # implicit_select=0: not run as SELECT invalid
    assert bare.status_code == 400 and "SYNTAX_ERROR" in bare.text, bare.text
    olap.admin_ok("CREATE TABLE IF NOT EXISTS wire_dates (t DateTime('UTC')) ENGINE = Memory")
    late = b"\"2 January 2026 03:04:05\"\n"
    refused = _post(olap, {"query": "INSERT INTO wire_dates FORMAT CSV"}, late)
    assert refused.status_code != 200, "a date-time only best_effort parses was read under the default"
    asked = _post(olap, {"query": "INSERT INTO wire_dates FORMAT CSV", "date_time_input_format": "best_effort"}, late)
    assert asked.status_code == 200, asked.text
    names = ("allow_introspection_functions", "materialize_statistics_on_insert",
             "output_format_arrow_use_native_writer")
    shown = olap.admin_ok(f"SELECT name, value FROM system.settings WHERE name IN {names} ORDER BY name")
    assert shown == "allow_introspection_functions\t0\nmaterialize_statistics_on_insert\t1\n" \
                    "output_format_arrow_use_native_writer\t1\n"
    assert olap.admin_ok("SELECT toUInt64(4) AS c, toInt32(5) AS i FORMAT JSONEachRow") == '{"c":"4","i":5}\n'


def test_a_syntax_errors_position_is_counted_in_the_clients_text(olap):
    failed = olap.query("SELECT * FRON wire_t")
    assert failed.status_code == 400 and "position 15" in failed.text and "bionicflow:" not in failed.text, \
        failed.text


def test_external_data_in_parquet_is_read(olap):
    import chdb

    data = chdb.query("SELECT number AS id FROM numbers(5)", "Parquet").bytes()
    answer = requests.post(olap.url, params={"query": "SELECT sum(id) FROM ids", "ids_structure": "id UInt64",
                                             "ids_format": "Parquet"},
                           files={"ids": ("ids.parquet", data)}, auth=ADMIN, timeout=30)
    assert answer.status_code == 200 and answer.text.strip() == "10", answer.text


def test_external_data_refused_in_a_session_leaves_the_sessions_own_table(olap):
    session = {"session_id": f"ext-{time.monotonic_ns()}"}
    assert olap.query("CREATE TEMPORARY TABLE mine (a UInt8)", params=session).status_code == 200
    assert olap.query("INSERT INTO mine VALUES (7), (8), (9)", params=session).status_code == 200
    clash = requests.post(olap.url, params={**session, "query": "SELECT 1", "mine_types": "UInt8,String"},
                          files={"mine": ("mine.tsv", b"1\tx\n")}, auth=ADMIN, timeout=30)
    assert clash.headers.get("X-ClickHouse-Exception-Code") == "57", clash.text  # TABLE_ALREADY_EXISTS
    bad = requests.post(olap.url, params={**session, "query": "SELECT 1", "other_types": "UInt8"},
                        files={"other": ("other.tsv", b"not a number\n")}, auth=ADMIN, timeout=30)
    assert bad.status_code != 200, bad.text
    assert olap.query("SELECT sum(a) FROM mine", params=session).text == "24\n", "the session's table was dropped"
    assert olap.query("EXISTS TEMPORARY TABLE other", params=session).text == "0\n", "a half-made external table"


@pytest.mark.parametrize("name", ["gz", "GZIP", "x-gzip"])
def test_a_gzip_body_under_any_of_its_names(olap, name):
    answer = requests.post(olap.url, data=gzip.compress(b"SELECT 41 + 1"), headers={"Content-Encoding": name},
                           auth=ADMIN, timeout=30)
    if name == "x-gzip":  # not one of ClickHouse's names either
        assert answer.headers.get("X-ClickHouse-Exception-Code") == "48", answer.text
    else:
        assert answer.text == "42\n", answer.text


def test_the_response_is_compressed_in_the_encoding_clickhouse_prefers(olap):
    answer = requests.post(olap.url, params={"enable_http_compression": "1"}, data=b"SELECT 1", auth=ADMIN,
                           headers={"Accept-Encoding": "lz4, zstd"}, timeout=30, stream=True)
    assert answer.headers.get("Content-Encoding") == "zstd"


def test_insert_select_from_input_is_refused_and_writes_nothing(olap):
    olap.admin_ok("CREATE TABLE IF NOT EXISTS wire_input (x Int64) ENGINE = Memory")
    answer = requests.post(olap.url, params={"query": "INSERT INTO wire_input (x) SELECT x * 2 FROM input('x Int64') "
                                                      "FORMAT TSV"}, data=b"90\n", auth=ADMIN, timeout=30)
    assert (answer.status_code, answer.headers.get("X-ClickHouse-Exception-Code")) == (501, "48"), answer.text
    assert olap.admin_ok("SELECT count() FROM wire_input") == "0\n"


def test_cors_and_custom_response_headers_asked_in_the_url(olap):
    answer = olap.query("SELECT 1", params={"add_http_cors_header": "1", "http_response_headers": "{'X-My': 'yes'}"})
    assert answer.status_code == 200, answer.text
    assert (answer.headers.get("Access-Control-Allow-Origin"), answer.headers.get("X-My")) == ("*", "yes")
    failed = olap.query("SELECT nope", params={"add_http_cors_header": "1"})
    assert failed.status_code == 404 and failed.headers.get("Access-Control-Allow-Origin") == "*"


def test_an_error_position_is_counted_in_the_clients_text_around_query_id(olap):
    failed = olap.query("SELECT queryID(), 1 +")
    assert failed.status_code == 400 and "position 22" in failed.text, failed.text


SLOW = "SELECT count() FROM numbers_mt(100000000000) WHERE sleepEachRow(0) = 0"


def _wait_running(olap, running) -> None:
    """Until the engine runs SLOW (polled: a request takes a moment to reach it)."""
    deadline = time.monotonic() + 30
    probe = "SELECT count() FROM system.processes WHERE query LIKE '%sleepEachRow(0) = 0' AND query NOT LIKE '%system%'"
    while olap.admin_ok(probe).strip() != "1":
        assert time.monotonic() < deadline and not running.done(), f"the slow query never started: {running}"


def test_the_clients_query_id_is_what_queryid_returns_and_what_kill_query_names(olap):
    assert olap.query("SELECT queryID(), query_id()", params={"query_id": "wire-7"}).text == "wire-7\twire-7\n"
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(olap.query, SLOW, params={"query_id": "wire-slow"}, timeout=120)
        _wait_running(olap, running)
        killed = olap.query("KILL QUERY WHERE query_id = 'wire-slow' SYNC")
        assert killed.status_code == 200 and killed.text, killed.text
        answer = running.result()
    assert answer.headers["X-ClickHouse-Exception-Code"] == "394", answer.text  # QUERY_WAS_CANCELLED


def test_a_second_request_under_a_running_id_is_refused_as_clickhouse_refuses_it(olap):
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(olap.query, SLOW, params={"query_id": "wire-dup"}, timeout=120)
        _wait_running(olap, running)
        second = olap.query("SELECT 1", params={"query_id": "wire-dup"})
        olap.admin_ok("KILL QUERY WHERE query_id = 'wire-dup' SYNC")
        running.result()
    assert second.headers["X-ClickHouse-Exception-Code"] == "216", second.text
    assert "already running" in second.text
    assert olap.query("SELECT 1", params={"query_id": "wire-dup"}).status_code == 200  # free once it ended


def test_every_setting_the_server_lists_can_be_sent_back_with_its_value(olap):
    """What @clickhouse/client's suite does: each setting of system.settings as a URL parameter on SELECT 1."""
    listed = [list(json.loads(line).values())
              for line in olap.admin_ok("SELECT name, value FROM system.settings FORMAT JSONEachRow").splitlines()]
    assert len(listed) > 1000

    def refused(setting: list[str]) -> str | None:
        answer = olap.query("SELECT 1", params={setting[0]: setting[1]})
        return None if answer.status_code == 200 else f"{setting[0]}={setting[1]}: {answer.text[:200]}"

    with ThreadPoolExecutor(8) as pool:
        failures = [failure for failure in pool.map(refused, listed) if failure]
    assert failures == []


@pytest.mark.parametrize("encoding, body, code", [
    ("br", b"x", "448"),  # one byte brotli cannot end: BROTLI_READ_FAILED, not an empty query
    ("gzip", b"\x1f\x8b\x08\x00garbage", "354"),  # ZLIB_INFLATE_FAILED
    ("zstd", b"\x28\xb5\x2f\xfd" + b"\xff" * 8, "561"),  # ZSTD_DECODER_FAILED
    ("xz", b"\xfd7zXZ\x00garbage", "554"),  # LZMA_STREAM_DECODER_FAILED
    ("snappy", b"SELECT 1", "48"),  # an encoding the server does not read: NOT_IMPLEMENTED, 501
])
def test_a_body_that_does_not_decode_gets_its_decoders_error_and_clickhouses_status(olap, encoding, body, code):
    answer = requests.post(olap.url, data=body, auth=ADMIN, timeout=30, headers={"Content-Encoding": encoding})
    assert answer.headers.get("X-ClickHouse-Exception-Code") == code, answer.text
    assert answer.status_code == (501 if code == "48" else 500)


def test_a_whole_results_progress_rows_come_first_as_a_server_writes_them(olap):
    sql = ("SELECT number % 3 AS k, count() AS c FROM numbers(30) GROUP BY k WITH TOTALS ORDER BY k "
           "SETTINGS extremes = 1 FORMAT JSONEachRowWithProgress")
    kinds = [next(iter(json.loads(line))) for line in olap.admin_ok(sql).splitlines()]
    assert kinds == ["progress", "meta", "row", "row", "row", "totals", "min", "max"], kinds


def test_an_insert_with_its_data_in_the_query_parameter_writes_it(olap):
    olap.admin_ok("CREATE TABLE IF NOT EXISTS wire_url (a UInt32, s String) ENGINE = Memory")
    sent = _post(olap, {"query": "INSERT INTO wire_url FORMAT TSV\n12\tl"}, b"")
    assert sent.status_code == 200, sent.text
    both = _post(olap, {"query": "INSERT INTO wire_url FORMAT TSV\n13\tm"}, b"14\tn\n")  # the parameter, newline, body
    assert both.status_code == 200, both.text
    assert olap.admin_ok("SELECT a, s FROM wire_url ORDER BY a") == "12\tl\n13\tm\n14\tn\n"


def test_a_streamed_insert_that_fails_in_the_table_is_an_error_not_a_200(olap):
    olap.admin_ok("CREATE TABLE IF NOT EXISTS wire_parts (a UInt32) ENGINE = MergeTree PARTITION BY a ORDER BY a")
    failed = _post(olap, {"query": "INSERT INTO wire_parts FORMAT TSV"}, b"".join(b"%d\n" % i for i in range(150)))
    assert failed.headers.get("X-ClickHouse-Exception-Code") == "252", failed.text  # TOO_MANY_PARTS
    assert olap.admin_ok("SELECT count() FROM wire_parts") == "0\n"


def test_the_format_clause_is_found_before_its_settings_and_comments(olap):
    answer = olap.query("SELECT number FROM numbers(3) FORMAT CSVWithNames SETTINGS max_block_size = 1")
    assert answer.headers["X-ClickHouse-Format"] == "CSVWithNames" and answer.text == '"number"\n0\n1\n2\n'
    commented = olap.query("SELECT 1 AS x -- FORMAT JSON")
    assert commented.headers["X-ClickHouse-Format"] == "TabSeparated" and commented.text == "1\n"


def test_json_each_row_as_one_array_is_one_json_document(olap):
    answer = olap.query("SELECT number FROM numbers(5) FORMAT JSONEachRow",
                        params={"output_format_json_array_of_rows": "1", "max_block_size": "2"})
    assert answer.headers["content-type"] == "application/json; charset=UTF-8"
    assert [row["number"] for row in json.loads(answer.text)] == ["0", "1", "2", "3", "4"]


def test_the_session_time_zone_is_the_one_the_client_is_told(olap):
    answer = olap.query("SELECT toDateTime('2024-01-02 03:04:05')", params={"session_timezone": "Asia/Tokyo"})
    assert answer.headers["X-ClickHouse-Timezone"] == "Asia/Tokyo" and answer.text == "2024-01-02 03:04:05\n"
    assert olap.query("SELECT 1").headers["X-ClickHouse-Timezone"] == "Etc/UTC"


def test_a_native_result_whose_column_name_is_not_utf8_is_sent_to_a_revision_client(olap):
    answer = olap.query("SELECT '\\xff' AS ok FORMAT Native", params={"client_protocol_version": "54405"})
    assert answer.status_code == 200, answer.text
    unnamed = olap.query("SELECT '\\xff' FORMAT Native", params={"client_protocol_version": "54405"})
    assert unnamed.status_code == 200 and unnamed.content.startswith(BLOCK_INFO), unnamed.text


def test_into_outfile_is_refused_to_everyone_as_over_clickhouses_http(olap):
    target = olap.root / "state" / "olap" / "outfile.tsv"
    refused = olap.query(f"SELECT 42 INTO OUTFILE '{target}'")
    assert refused.headers.get("X-ClickHouse-Exception-Code") == "358" and not target.exists(), refused.text
    assert olap.query("SELECT 'INTO OUTFILE' AS x").text == "INTO OUTFILE\n"  # the words in a string are no clause


def test_a_query_of_comments_only_is_an_empty_query(olap):
    for text in ("-- nothing here\n/* nor here */", "", " \n"):
        answer = olap.query(text)
        assert (answer.status_code, answer.headers.get("X-ClickHouse-Exception-Code")) == (400, "62"), answer.text
        assert "Empty query. (SYNTAX_ERROR)" in answer.text


def test_current_user_is_the_authenticated_user(olap):
    assert olap.query("SELECT currentUser(), user()", auth=READER).text == "reports_reader\treports_reader\n"


def test_a_get_that_is_no_statement_gets_its_syntax_error_not_readonly(olap):
    garbage = requests.get(olap.url, params={"query": "SELEKT 1"}, auth=ADMIN, timeout=30)
    assert garbage.headers.get("X-ClickHouse-Exception-Code") == "62", garbage.text
    write = requests.get(olap.url, params={"query": "CREATE TABLE wire_get (x UInt8) ENGINE = Memory"}, auth=ADMIN,
                         timeout=30)
    assert write.headers.get("X-ClickHouse-Exception-Code") == "164", write.text
