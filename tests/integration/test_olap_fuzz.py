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

from tests.integration.olap_private import CANARY, READER, private_root, start_private_olap, stop_private_olap

EXAMPLES = int(os.environ.get("BIONICFLOW_FUZZ_EXAMPLES", "400"))
STATEMENT_KINDS = ["SELECT", "WITH x AS (SELECT 1) SELECT", "SHOW", "SHOW CREATE TABLE", "DESCRIBE TABLE",
                   "EXISTS TABLE", "EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "INSERT INTO", "CREATE TABLE",
                   "CREATE TEMPORARY TABLE", "ALTER TABLE", "DROP TABLE", "SET", "USE", "SYSTEM", "KILL QUERY WHERE",
                   "OPTIMIZE TABLE", "TRUNCATE TABLE", "RENAME TABLE", "ATTACH TABLE", "DETACH TABLE", "GRANT",
                   "BACKUP TABLE", "CHECK TABLE", "SHOW PROCESSLIST", "SHOW GRANTS", "SHOW USERS", "WATCH"]


@pytest.fixture(scope="module")
def target():
    server = start_private_olap(private_root("fuzz"))
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
        "ops.secret", "s String", f"s String ALIAS file('{server.canary_file}', 'RawBLOB')",
        f"s String DEFAULT (SELECT s FROM ops.secret)", "RawBLOB", "TSV", "JSONEachRow", "", "1",
    ])


def _expressions(server, vocab):
    leaves = st.one_of(st.integers(-5, 5).map(str), _strings(server).map(lambda s: "'" + s.replace("'", "''") + "'"),
                       st.sampled_from(["s", "x", "number", "*", "NULL", "(SELECT s FROM ops.secret)",
                                        "(SELECT * FROM secret)"]))
    return st.recursive(leaves, lambda inner: st.builds(
        lambda name, args: f"{name}({', '.join(args)})", st.sampled_from(vocab["functions"]),
        st.lists(inner, max_size=3)), max_leaves=6)


def _tables(server, vocab):
    function = st.builds(lambda name, args: f"{name}({', '.join(args)})", st.sampled_from(vocab["table_functions"]),
                         st.lists(_expressions(server, vocab), max_size=3))
    return st.one_of(st.sampled_from(vocab["tables"] + ["secret", "ops.secret", "t", "system.processes"]), function)


def _requests(server, vocab):
    statement = st.builds(
        lambda kind, expr, table, outfile: (f"{kind} {expr}" + (f" FROM {table}" if table else "") + outfile)
        if kind.endswith("SELECT") else f"{kind} {table or 't'}" + outfile,
        st.sampled_from(STATEMENT_KINDS), _expressions(server, vocab), st.one_of(st.none(), _tables(server, vocab)),
        st.sampled_from(["", f" INTO OUTFILE '{server.root / 'fuzz-written.txt'}'"]))
    params = st.dictionaries(st.sampled_from(vocab["settings"] + ["database", "session_id", "default_format",
                                                                   "query_id", "readonly", "param_x"]),
                             _strings(server), max_size=3)
    return st.tuples(statement, params, st.sampled_from(["POST", "GET"]))


def test_no_reader_request_reaches_a_canary(target):
    server, vocab = target
    started, connections = time.time(), server.listener.connections
    seen = {"requests": 0, "answered": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(_requests(server, vocab))
    def one(request):
        sql, params, method = request
        try:
            if method == "GET":
                response = requests.get(server.url, params={**params, "query": sql}, auth=READER, timeout=30)
            else:
                response = requests.post(server.url, params=params, data=sql.encode(), auth=READER, timeout=30)
        except requests.Timeout:
            response = None  # a slow statement: the oracle below still judges it
        seen["requests"] += 1
        context = json.dumps({"sql": sql, "params": params, "method": method})
        if response is not None:
            seen["answered"] += response.status_code == 200
            assert CANARY not in response.text, context
            assert response.status_code != 500, f"{context} -> {response.text[:300]}"
        assert server.listener.connections == connections, f"a connection reached the listener after {context}"
        assert server.files_written(started) == [], f"a file appeared after {context}"
        if seen["requests"] % 50 == 0:
            server.admin_answers_within(5)

    one()
    server.admin_answers_within(5)
    print(f"fuzz: {seen['requests']} reader requests, {seen['answered']} answered 200")
    assert seen["requests"] >= EXAMPLES // 2, "the grammar drew too few requests to mean anything"
