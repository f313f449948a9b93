"""The OLAP server through clickhouse-connect and raw HTTP, as real clients use it."""

import gzip
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from bionicflow.kernel.olap import connect
from bionicflow.olap.codecs import NativeBlocks


def _client(settings, user=None, password=None, **kw):
    return connect(settings.host, settings.olap_port, user or settings.clickhouse_user,
                   password if password is not None else settings.clickhouse_password.get_secret_value(), **kw)


@pytest.fixture
def admin(stack):
    return _client(stack)


@pytest.fixture
def table(admin):
    """A fresh table in a fresh database, dropped afterwards."""
    db = f"it_{uuid.uuid4().hex[:8]}"
    admin.command(f"CREATE DATABASE {db}")
    admin.command(f"CREATE TABLE {db}.t (id UInt64, s String, f Float64) ENGINE = MergeTree ORDER BY id")
    yield f"{db}.t"
    admin.command(f"DROP DATABASE {db}")


def _url(settings):
    return f"http://{settings.host}:{settings.olap_port}/"


def test_ddl_query_and_dataframe(admin, table):
    admin.insert(table, [[1, "a", 0.5], [2, "b", 1.5]], column_names=["id", "s", "f"])
    assert admin.query(f"SELECT id, s FROM {table} ORDER BY id").result_rows == [(1, "a"), (2, "b")]
    df = admin.query_df(f"SELECT * FROM {table} ORDER BY id")
    assert list(df.columns) == ["id", "s", "f"] and df["f"].sum() == 2.0
    assert admin.command("SELECT 40 + 2") == 42


def test_insert_of_a_million_rows(admin, table):
    rows = [[i, f"row-{i}", i / 3] for i in range(1_000_000)]
    summary = admin.insert(table, rows, column_names=["id", "s", "f"])
    assert summary.written_rows == 1_000_000
    count, ids = admin.query(f"SELECT count(), sum(id) FROM {table}").result_rows[0]
    assert (count, ids) == (1_000_000, sum(range(1_000_000)))


def test_dataframe_insert_with_lz4_compressed_blocks(stack, table):
    import pandas as pd

    client = _client(stack, compress="lz4")  # one LZ4 frame per block, several blocks
    df = pd.DataFrame({"id": range(300_000), "s": [f"v{i}" for i in range(300_000)], "f": [0.25] * 300_000})
    client.insert_df(table, df, settings={"max_insert_block_size": 50_000})
    assert client.query(f"SELECT count(), uniqExact(s) FROM {table}").result_rows == [(300_000, 300_000)]


def test_strings_round_trip_byte_identical(admin, table):
    values = ["", "плюс ünïcødé 🦾 中文", "x" * 2_000_000, "tab\tnew\nline\\back'quote\"", "\x00nul"]
    admin.insert(table, [[i, v, 0.0] for i, v in enumerate(values)], column_names=["id", "s", "f"])
    got = [r[0] for r in admin.query(f"SELECT s FROM {table} ORDER BY id").result_rows]
    assert got == values


def test_wrong_password_is_rejected(stack):
    with pytest.raises(DatabaseError, match="516"):
        _client(stack, password="wrong")
    response = requests.post(_url(stack), data="SELECT 1", timeout=10)  # nothing sent: asked to log in
    assert (response.status_code, response.headers["X-ClickHouse-Exception-Code"]) == (401, "194")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = requests.post(_url(stack), data="SELECT 1", auth=(stack.clickhouse_user, "wrong"), timeout=10)
    assert (wrong.status_code, wrong.headers["X-ClickHouse-Exception-Code"]) == (403, "516")  # as ClickHouse


@pytest.fixture
def default_table(admin):
    """A fresh table in `default`, one of the databases the read-only user may read."""
    name = f"default.it_{uuid.uuid4().hex[:8]}"
    admin.command(f"CREATE TABLE {name} (id UInt64, s String, f Float64) ENGINE = MergeTree ORDER BY id")
    yield name
    admin.command(f"DROP TABLE {name}")


def test_readonly_user_reads_but_cannot_write(stack, admin, default_table, table):
    reader = _client(stack, stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value())
    with pytest.raises(DatabaseError, match="497"):  # outside default/debezium: fenced off
        reader.query(f"SELECT count() FROM {table}")
    table = default_table
    admin.insert(table, [[1, "a", 0.0]], column_names=["id", "s", "f"])
    assert reader.query(f"SELECT count() FROM {table}").result_rows == [(1,)]
    for statement in (f"INSERT INTO {table} VALUES (9, 'x', 0)", f"DROP TABLE {table}", f"ALTER TABLE {table} DELETE WHERE 1"):
        with pytest.raises(DatabaseError, match="164"):
            reader.command(statement)
    with pytest.raises(DatabaseError, match="164"):
        reader.insert(table, [[2, "b", 0.0]], column_names=["id", "s", "f"])
    with pytest.raises(DatabaseError, match="497"):
        reader.query("SELECT * FROM file('/etc/hostname', 'LineAsString')")
    # bound identifiers (how reports name the schema) pass the read-only check; bound values cannot smuggle calls
    db, name = table.split(".")
    assert reader.query("SELECT count() FROM {db:Identifier}.{t:Identifier} WHERE s = {s:String}",
                        parameters={"db": db, "t": name, "s": "file('/etc/hostname')"}).result_rows == [(0,)]
    assert admin.query(f"SELECT count() FROM {table}").result_rows == [(1,)]


def _in_parallel(work, clients: int) -> list:
    """Run work(0..clients-1) in as many threads at once; returns each call's result in order."""
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(work, n) for n in range(clients)]
        return [f.result(timeout=120) for f in futures]  # re-raises a thread's exception here


def test_eight_concurrent_clients(stack, table):
    def work(n):
        client = _client(stack)
        client.insert(table, [[n * 10_000 + i, f"c{n}", float(i)] for i in range(10_000)], column_names=["id", "s", "f"])
        return client.query(f"SELECT count() FROM {table} WHERE s = {{s:String}}", parameters={"s": f"c{n}"}).result_rows[0][0]

    assert _in_parallel(work, 8) == [10_000] * 8
    assert _client(stack).query(f"SELECT count() FROM {table}").result_rows == [(80_000,)]


def test_more_concurrent_clients_than_query_slots_all_get_answers(stack):
    """64 clients at once against 16 slots: the waiting ones queue, none stalls or is refused."""
    def work(n):
        result = _client(stack, send_receive_timeout=60).query(
            "SELECT sum(number) + {n:UInt32} FROM numbers(3000000)", parameters={"n": n})
        return result.result_rows[0][0] - sum(range(3_000_000))

    assert _in_parallel(work, 64) == list(range(64))


def test_raw_http_get_post_insert_and_errors(stack, table):
    auth = (stack.clickhouse_user, stack.clickhouse_password.get_secret_value())
    assert requests.get(_url(stack) + "ping", timeout=10).text == "Ok.\n"
    got = requests.get(_url(stack), params={"query": "SELECT 1 + 1"}, auth=auth, timeout=10)
    assert (got.status_code, got.text) == (200, "2\n")
    # the statement and its data in one body, as curl --data-binary sends it
    body = f"INSERT INTO {table} FORMAT TabSeparated\n1\tone\t1.5\n2\ttwo\t2.5\n".encode()
    assert requests.post(_url(stack), data=body, auth=auth, timeout=10).status_code == 200
    # the statement in the URL, gzip-compressed data in the body
    gz = gzip.compress(b"3,three,3.5\n")
    posted = requests.post(_url(stack), params={"query": f"INSERT INTO {table} FORMAT CSV"}, data=gz,
                           headers={"Content-Encoding": "gzip"}, auth=auth, timeout=10)
    assert posted.status_code == 200, posted.text
    db, name = table.split(".")
    got = requests.post(_url(stack), params={"database": db, "default_format": "CSV", "max_threads": "1"},
                        data=f"SELECT id, s, getSetting('max_threads') FROM {name} ORDER BY id", auth=auth, timeout=10)
    assert got.text == '1,"one",1\n2,"two",1\n3,"three",1\n'
    assert got.headers["X-ClickHouse-Format"] == "CSV"
    bad = requests.post(_url(stack), data="SELEC 1", auth=auth, timeout=10)
    assert (bad.status_code, bad.headers["X-ClickHouse-Exception-Code"]) == (400, "62")
    assert bad.text.startswith("Code: 62. DB::Exception:") and "(SYNTAX_ERROR)" in bad.text
    unknown = requests.post(_url(stack), params={"default_format": "NoSuchFormat"}, data="SELECT 1", auth=auth, timeout=10)
    assert unknown.status_code >= 400 and "Exception" in unknown.text
    blocks = requests.post(_url(stack), params={"query": "SELECT 1", "compress": "1"}, auth=auth, timeout=10)
    assert blocks.status_code == 200 and NativeBlocks().decompress(blocks.content) == b"1\n"  # ClickHouse's own blocks
    assert requests.get(_url(stack) + "ping", timeout=10).text == "Ok.\n"  # still serving
    # GET is read-only, as in ClickHouse
    ro = requests.get(_url(stack), params={"query": f"INSERT INTO {table} VALUES (9,'x',0)"}, auth=auth, timeout=10)
    assert (ro.status_code, ro.headers["X-ClickHouse-Exception-Code"]) == (500, "164")  # READONLY, as ClickHouse


def test_header_and_parameter_credentials(stack):
    secret = stack.clickhouse_password.get_secret_value()
    by_header = requests.post(_url(stack), data="SELECT currentDatabase()", timeout=10,
                              headers={"X-ClickHouse-User": stack.clickhouse_user, "X-ClickHouse-Key": secret})
    assert by_header.text == "default\n"
    by_param = requests.post(_url(stack), params={"user": stack.clickhouse_user, "password": secret},
                             data="SELECT 7", timeout=10)
    assert by_param.text == "7\n"


def test_large_bound_parameters_arrive_as_form_fields(admin):
    # clickhouse-connect moves big parameters into a multipart form body (query + param_* fields)
    keys = list(range(20_000))
    result = admin.query("SELECT count() FROM numbers(30000) WHERE number IN {keys:Array(UInt64)}",
                         parameters={"keys": keys})
    assert result.result_rows == [(20_000,)]


def test_a_clickhouse_connect_session_keeps_temporary_tables_and_settings(stack):
    client = _client(stack)  # clickhouse-connect makes up a session_id per client by default
    client.command("CREATE TEMPORARY TABLE session_tmp (x UInt8)")
    client.command("INSERT INTO session_tmp VALUES (1), (2)")
    client.command("SET max_threads = 1")
    assert client.query("SELECT sum(x), getSetting('max_threads') FROM session_tmp").result_rows == [(3, 1)]
    other = _client(stack)  # another session sees none of it
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE|60"):
        other.query("SELECT count() FROM session_tmp")


def test_a_session_reapplies_its_settings_after_a_statement_that_may_change_them(stack):
    """A session skips re-applying the same USE/SET between plain reads; any other statement undoes the skip."""
    admin = _client(stack)
    reader = _client(stack, stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value())
    forced = reader.query("SELECT getSetting('max_execution_time')").result_rows
    with pytest.raises(DatabaseError):
        reader.command("SET max_execution_time = 0")  # a read-only user cannot lift its limit
    assert reader.query("SELECT getSetting('max_execution_time')").result_rows == forced
    assert admin.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows == [(1,)]
    admin.command("SET max_threads = 2")
    assert admin.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows == [(1,)], \
        "the session's SET left the next request's own setting unapplied"


def test_session_check_and_one_query_at_a_time(stack):
    auth = (stack.clickhouse_user, stack.clickhouse_password.get_secret_value())
    unknown = requests.post(_url(stack), params={"session_id": uuid.uuid4().hex, "session_check": "1"},
                            data="SELECT 1", auth=auth, timeout=10)
    assert (unknown.status_code, unknown.headers["X-ClickHouse-Exception-Code"]) == (500, "372")
    session, marker = {"session_id": uuid.uuid4().hex}, f"slow_{uuid.uuid4().hex}"
    running = ("SELECT count() FROM system.processes WHERE query LIKE {m:String} "
               "AND query NOT LIKE '%system.processes%'")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, _url(stack), params=session, data=f"SELECT sleep(3) /* {marker} */",
                           auth=auth, timeout=30)
        deadline = time.monotonic() + 20
        while requests.post(_url(stack), params={"param_m": f"%{marker}%"}, data=running, auth=auth,
                            timeout=10).text.strip() != "1":  # until the slow query holds the session
            assert time.monotonic() < deadline, "the slow query never started"
            time.sleep(0.05)
        second = requests.post(_url(stack), params=session, data="SELECT 1", auth=auth, timeout=10)
        assert (second.status_code, second.headers.get("X-ClickHouse-Exception-Code")) == (500, "373")
        assert slow.result().status_code == 200
    assert requests.post(_url(stack), params=session, data="SELECT 1", auth=auth, timeout=10).text == "1\n"


@pytest.mark.parametrize("reader", [False, True], ids=["admin", "reader"])
def test_external_data_is_a_table_for_the_one_query(stack, reader):
    from clickhouse_connect.driver.external import ExternalData

    user = (stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value()) if reader else (None, None)
    client = _client(stack, *user, autogenerate_session_id=False)
    data = ExternalData(data=b"1\tone\n2\ttwo\n3\tthree\n", file_name="lookup", structure=["id UInt64", "name String"])
    data.add_file(data=b"2\n3\n", file_name="wanted", types="UInt64")
    result = client.query("SELECT name FROM lookup WHERE id IN (SELECT _1 FROM wanted) ORDER BY id", external_data=data)
    assert result.result_rows == [("two",), ("three",)]
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE|60"):  # gone with its query
        client.query("SELECT count() FROM lookup")


def test_results_stream_and_an_error_after_the_first_bytes_arrives_in_the_stream(admin, stack):
    assert admin.query("SELECT number, toString(number) FROM numbers(2000000)").row_count == 2_000_000
    with pytest.raises(DatabaseError, match="395|FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"):
        admin.query("SELECT throwIf(number = 1900000) FROM numbers(2000000)")
    assert admin.query("SELECT 1").result_rows == [(1,)]  # the connection that failed is not handed on broken
    auth = (stack.clickhouse_user, stack.clickhouse_password.get_secret_value())
    raw = requests.post(_url(stack), data="SELECT throwIf(number = 1900000) FROM numbers(2000000)", auth=auth,
                        timeout=60)
    tag = raw.headers["X-ClickHouse-Exception-Tag"]
    assert raw.status_code == 200 and raw.content.startswith(b"0\n")  # the rows before the failure were sent
    assert raw.content.endswith(f" {tag}\r\n__exception__\r\n".encode()) and b"Code: 395" in raw.content[-2000:]


@pytest.mark.parametrize("sql", ["EXISTS TABLE system.one", "SHOW TABLES FROM system LIKE 'one'", "DESCRIBE system.one",
                                 "EXPLAIN SELECT 1", "SHOW DATABASES", "WITH 1 AS x SELECT x"])
def test_every_read_kind_answers_through_clickhouse_connect(stack, sql):
    """Statements the engine will not stream are answered whole (clickhouse-connect appends FORMAT Native)."""
    for user, password in ((stack.clickhouse_user, stack.clickhouse_password),
                           (stack.clickhouse_reader_user, stack.clickhouse_reader_password)):
        assert _client(stack, user, password.get_secret_value()).query(sql).row_count >= 1, (user, sql)


def test_clickhouse_connect_gets_its_protocol_revision_and_zoned_datetimes(stack, admin, table):
    """clickhouse-connect probes `client_protocol_version`; with it a DateTime column keeps its zone, as in ClickHouse."""
    db = table.split(".")[0]
    admin.command(f"CREATE TABLE {db}.zoned (id UInt32, t DateTime('America/Chicago'), s String, "
                  "t64 DateTime64(3, 'Asia/Tokyo')) ENGINE = MergeTree ORDER BY id")
    admin.command(f"INSERT INTO {db}.zoned SELECT number, number * 1000, toString(number), number FROM numbers(200000)")
    assert admin.protocol_version == 54405  # the probe saw the block info a revision asks for
    sql = f"SELECT id, t, s, t64 FROM {db}.zoned ORDER BY id"
    for settings in ({}, {"wait_end_of_query": 1}):  # streamed block by block, and answered whole
        rows = admin.query(sql, settings=settings).result_rows
        assert len(rows) == 200_000, settings
        assert rows[-1][1].isoformat() == "1976-05-03T14:16:40-05:00", settings  # Chicago's clock, with its zone
        assert rows[-1][3].tzinfo.key == "Asia/Tokyo" and rows[-1][2] == "199999", settings
    compressed = _client(stack, compress="lz4").query(f"SELECT t FROM {db}.zoned WHERE id = 1").result_rows
    assert compressed[0][0].isoformat() == "1969-12-31T18:16:40-06:00"
    reader = _client(stack, stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value())
    assert reader.protocol_version == 54405
    assert reader.query("SELECT toDateTime(0, 'America/Chicago') AS t").result_rows[0][0].tzinfo.key == "America/Chicago"
    frame = admin.query_df(f"SELECT t FROM {db}.zoned WHERE id < 3")
    assert str(frame["t"].dtype) == "datetime64[s, America/Chicago]"
