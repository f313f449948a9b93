"""A fuzzer for the read-only user, judged by an oracle, not by a list of known attacks (issue "guard", item 7).

Requests are drawn from a grammar over the engine's own catalogue — every function of
``system.functions``, every table function, every setting, every statement kind — with
arguments aimed at the canaries: a file outside the data directory, a row in ``ops``, a
listening port. Whatever the server answers, no answer may hold the canary, no file may appear
outside the data directory, no connection may reach the listener, no answer may be a 500, and
the admin must still be served. Bounded (``BIONICFLOW_FUZZ_EXAMPLES``, default 400); a failure
prints Hypothesis's seed and its ``@reproduce_failure`` blob, so it replays exactly
(``pytest --hypothesis-seed=N``).
"""

from __future__ import annotations

import json
import os
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.olap_private import (
    CANARY,
    READER,
    private_root,
    server_broke,
    start_private_olap,
    stop_private_olap,
)

EXAMPLES = int(os.environ.get("BIONICFLOW_FUZZ_EXAMPLES", "400"))
STATEMENT_KINDS = ["SELECT", "WITH x AS (SELECT 1) SELECT", "SHOW", "SHOW CREATE TABLE", "DESCRIBE TABLE",
                   "EXISTS TABLE", "EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "INSERT INTO", "CREATE TABLE",
                   "CREATE TEMPORARY TABLE", "ALTER TABLE", "DROP TABLE", "SET", "USE", "SYSTEM", "KILL QUERY WHERE",
                   "OPTIMIZE TABLE", "TRUNCATE TABLE", "RENAME TABLE", "ATTACH TABLE", "DETACH TABLE", "GRANT",
                   "BACKUP TABLE", "CHECK TABLE", "SHOW PROCESSLIST", "SHOW GRANTS", "SHOW USERS", "WATCH"]


@pytest.fixture(scope="module")
def target():
    # the server's own cap for readers, lowered: a drawn statement that would run for minutes (the default
    # cap is 120 s) is stopped by the server after 5 s, so the run's length does not depend on the draw
    server = start_private_olap(private_root("fuzz"), {"BIONICFLOW_OLAP_READER_MAX_EXECUTION_TIME": "5"})
    vocabulary = {
        "functions": server.admin_ok("SELECT name FROM system.functions").split(),
        "table_functions": server.admin_ok("SELECT name FROM system.table_functions").split(),
        "settings": server.admin_ok("SELECT name FROM system.settings").split(),
        "tables": server.admin_ok("SELECT concat(database, '.', name) FROM system.tables").split(),
    }
    yield server, vocabulary
    stop_private_olap(server)


def _strings(server):
    inside = server.root / "fuzz-written.txt"
    return st.sampled_from([
        str(server.canary_file), str(server.root / "outside.txt"), str(inside), "/etc/passwd", "/proc/self/environ",
        f"http://127.0.0.1:{server.listener.port}/x", f"127.0.0.1:{server.listener.port}", "ops", "secret",
        "ops.secret", "s String", f"s String ALIAS file('{server.canary_file}', 'RawBLOB')", "default", "t",
        "x UInt8, s String DEFAULT hostName()", f"x UInt8, s String DEFAULT file('{server.canary_file}', 'RawBLOB')",
        f"s String DEFAULT (SELECT s FROM ops.secret)", "RawBLOB", "TSV", "JSONEachRow", "", "1",
    ])


def _expressions(server, vocab):
    leaves = st.one_of(st.integers(-5, 5).map(str), _strings(server).map(lambda s: "'" + s.replace("'", "''") + "'"),
                       st.sampled_from(["s", "x", "number", "*", "NULL", "(SELECT s FROM ops.secret)",
                                        "(SELECT * FROM secret)"]))
    return st.recursive(leaves, lambda inner: st.builds(
        lambda name, args: f"{name}({', '.join(args)})", st.sampled_from(vocab["functions"]),
        st.lists(inner, max_size=3)), max_leaves=6)


# Placeholders as the engine takes them, plainly and in the spellings a checker might not read.
PLACEHOLDERS = ["{d:Identifier}", "{d/**/:Identifier}", "{ d : Identifier }", "{d--x\n:Identifier}",
                "{s:String}", "{s/**/:String}"]


def _tables(server, vocab):
    function = st.builds(lambda name, args: f"{name}({', '.join(args)})", st.sampled_from(vocab["table_functions"]),
                         st.lists(st.one_of(_expressions(server, vocab), st.sampled_from(PLACEHOLDERS)), max_size=3))
    bound = st.builds(lambda db, table: f"{db}.{table}", st.sampled_from(PLACEHOLDERS[:4] + ["default", "ops"]),
                      st.sampled_from(["t", "secret", "{t:Identifier}"]))
    return st.one_of(st.sampled_from(vocab["tables"] + ["secret", "ops.secret", "t", "system.processes"]), function,
                     bound)


def _requests(server, vocab):
    statement = st.builds(
        lambda kind, expr, table, outfile: (f"{kind} {expr}" + (f" FROM {table}" if table else "") + outfile)
        if kind.endswith("SELECT") else f"{kind} {table or 't'}" + outfile,
        st.one_of(st.just("SELECT"), st.sampled_from(STATEMENT_KINDS)),  # reads half the time: they get furthest
        st.one_of(st.sampled_from(["*", "1", "s", "count()"]), _expressions(server, vocab)),
        st.one_of(st.none(), _tables(server, vocab)),
        st.sampled_from(["", "", "", f" INTO OUTFILE '{server.root / 'fuzz-written.txt'}'"]))
    names = st.sampled_from(["ops", "secret", "default", "t", "system", "processes", "debezium", "one"])
    structures = st.sampled_from(["x UInt8", "x UInt8, s String", "x UInt8, s String DEFAULT hostName()",
                                  f"x UInt8, s String DEFAULT file('{server.canary_file}', 'RawBLOB')",
                                  "x UInt8, s String ALIAS getServerSetting('path')"])
    bound = st.fixed_dictionaries({}, optional={"param_d": names, "param_t": names, "param_s": structures,
                                                "param_x": _strings(server)})
    settings_ = st.one_of(st.just({}), st.dictionaries(
        st.sampled_from(vocab["settings"] + ["database", "session_id", "default_format", "query_id", "readonly"]),
        _strings(server), max_size=2))
    params = st.builds(lambda b, o: {**o, **b}, bound, settings_)
    return st.tuples(statement, params, st.sampled_from(["POST", "GET"]))


# What a statement is first sent with, so that a verdict it earns is there to be reused by the drawn values.
INNOCUOUS = {"param_d": "default", "param_t": "t", "param_s": "x UInt8", "param_x": "1"}


def send(sql: str, params: dict, method: str) -> requests.Response | None:
    try:
        if method == "GET":
            return requests.get(TARGET_URL[0], params={**params, "query": sql}, auth=READER, timeout=30)
        return requests.post(TARGET_URL[0], params=params, data=sql.encode(), auth=READER, timeout=30)
    except requests.Timeout:
        return None  # a slow statement: the oracle still judges what it left behind


TARGET_URL: list[str] = []


def test_no_reader_request_reaches_a_canary(target):
    server, vocab = target
    TARGET_URL[:] = [server.url]
    started, connections = time.time(), server.listener.connections
    seen = {"requests": 0, "answered": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(_requests(server, vocab))
    def one(request):
        sql, params, method = request
        send(sql, INNOCUOUS, method)  # a verdict earned with harmless values, then the drawn ones
        response = send(sql, params, method)
        seen["requests"] += 1
        context = json.dumps({"sql": sql, "params": params, "method": method})
        if response is not None:
            seen["answered"] += response.status_code == 200
            assert CANARY not in response.text, context
            assert not server_broke(response), f"{context} -> {response.text[:300]}"
        assert server.listener.connections == connections, f"a connection reached the listener after {context}"
        assert server.files_written(started) == [], f"a file appeared after {context}"
        if seen["requests"] % 50 == 0:
            server.admin_answers_within(5)

    one()
    server.admin_answers_within(5)
    print(f"fuzz: {seen['requests']} reader requests, {seen['answered']} answered 200")
    assert seen["requests"] >= EXAMPLES // 2, "the grammar drew too few requests to mean anything"


# --- a verdict earned with harmless values, reused with hostile ones ----------------------------------
# Every placeholder spelling the engine takes, in every position a value can change what a read
# reaches; each statement is sent first with harmless values, then with each hostile set. Exhaustive
# rather than drawn: the space is small, and one such hole reads everything (issue "guard").

def _spellings(name: str, typ: str) -> list[str]:
    return [f"{{{name}:{typ}}}", f"{{{name}/**/:{typ}}}", f"{{ {name} : {typ} }}", f"{{{name}--c\n:{typ}}}",
            f"{{/**/{name}:{typ}}}", f"{{{name}:/**/{typ}}}", f"{{{name}:{typ}/**/}}"]


SOURCES = [
    lambda d, t, s: f"{d}.{t}", lambda d, t, s: f"{d}.secret", lambda d, t, s: f"default.{t}",
    lambda d, t, s: f"format(JSONEachRow, {s}, '{{\"x\":1}}')", lambda d, t, s: f"values({s}, (1, 'a'))",
    lambda d, t, s: f"generateRandom({s}) LIMIT 1", lambda d, t, s: f"null({s})",
]
HARMLESS = {"param_d": "default", "param_t": "t", "param_s": "x UInt8, s String"}


def _hostile(server) -> list[dict]:
    return [{"param_d": "ops", "param_t": "secret"}, {"param_d": "system", "param_t": "processes"},
            {"param_s": f"x UInt8, s String DEFAULT file('{server.canary_file}', 'RawBLOB')"},
            {"param_s": "x UInt8, s String DEFAULT hostName()"},
            {"param_s": "x UInt8, s String ALIAS getServerSetting('path')"}]


def test_no_remembered_verdict_serves_other_bound_values(target):
    server, _ = target
    TARGET_URL[:] = [server.url]
    secrets_seen = [CANARY, __import__("socket").gethostname(), str(server.root)]
    tried = 0
    for index, spelling in enumerate(zip(_spellings("d", "Identifier"), _spellings("t", "Identifier"),
                                         _spellings("s", "String"))):
        for source in SOURCES:
            sql = f"SELECT * /* {index} */ FROM {source(*spelling)}"
            send(sql, HARMLESS, "POST")
            for hostile in _hostile(server):
                response = send(sql, {**HARMLESS, **hostile}, "POST")
                tried += 1
                assert response is not None and not any(secret in response.text for secret in secrets_seen), \
                    f"{sql!r} with {hostile} -> {response.text[:300] if response is not None else 'timeout'}"
    assert tried == 7 * len(SOURCES) * 5
    server.admin_answers_within(5)
