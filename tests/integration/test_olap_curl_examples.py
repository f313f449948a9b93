"""ClickHouse's curl examples from its HTTP interface documentation, run unchanged against the OLAP server.

Only the address differs (the test stack's port). The credentials come from a `.curlrc` in a
home of the test's own, as a user would keep them, so the command lines stay the documented ones.
"""

from __future__ import annotations

import subprocess

import pytest

EXAMPLES = [  # (shell command, expected standard output)
    ("curl 'http://localhost:8123/'", "Ok.\n"),
    ("curl 'http://localhost:8123/?query=SELECT%201'", "1\n"),
    ("echo 'SELECT 1' | curl 'http://localhost:8123/' --data-binary @-", "1\n"),
    ("echo 'CREATE TABLE docs_t (a UInt8) ENGINE = Memory' | curl 'http://localhost:8123/' --data-binary @-", ""),
    ("echo 'INSERT INTO docs_t VALUES (1),(2),(3)' | curl 'http://localhost:8123/' --data-binary @-", ""),
    ("echo '(4),(5),(6)' | curl 'http://localhost:8123/?query=INSERT%20INTO%20docs_t%20VALUES' --data-binary @-", ""),
    ("echo -ne '10\\n11\\n12\\n' | curl 'http://localhost:8123/?query=INSERT%20INTO%20docs_t%20FORMAT%20TabSeparated'"
     " --data-binary @-", ""),
    ("curl 'http://localhost:8123/?query=SELECT%20a%20FROM%20docs_t%20ORDER%20BY%20a'", "1\n2\n3\n4\n5\n6\n10\n11\n12\n"),
    ("echo 'SELECT 1' | gzip -c | curl -sS --data-binary @- -H 'Content-Encoding: gzip' 'http://localhost:8123/'", "1\n"),
    ("curl -sS 'http://localhost:8123/?enable_http_compression=1' -H 'Accept-Encoding: gzip' "
     "-d 'SELECT number FROM system.numbers LIMIT 3' | gunzip", "0\n1\n2\n"),
    ("curl -sS 'http://localhost:8123/?enable_http_compression=1' -H 'Accept-Encoding: br' --compressed "
     "-d 'SELECT number FROM system.numbers LIMIT 3'", "0\n1\n2\n"),
    ("curl -sS 'http://localhost:8123/?param_id=2&param_phrase=test' -d "
     "\"SELECT * FROM (SELECT 2 AS int_column, 'test' AS string_column) WHERE int_column = {id:UInt8} "
     "and string_column = {phrase:String}\"", "2\ttest\n"),
    ("curl -sS 'http://localhost:8123/?max_result_bytes=4000000&buffer_size=3000000&wait_end_of_query=1' "
     "-d 'SELECT toUInt8(number) FROM system.numbers LIMIT 9000 FORMAT RowBinary' | wc -c", "9000\n"),
    ("echo 'SELECT 1' | curl -H 'X-ClickHouse-Format: JSONCompact' 'http://localhost:8123/' -d @- | grep -c data",
     "1\n"),
    ("echo 'DROP TABLE docs_t' | curl 'http://localhost:8123/' --data-binary @-", ""),
]


@pytest.fixture(scope="module")
def curl_home(stack, tmp_path_factory):
    home = tmp_path_factory.mktemp("curl_home")
    secret = stack.clickhouse_password.get_secret_value()
    (home / ".curlrc").write_text(f'user = "{stack.clickhouse_user}:{secret}"\nsilent\nshow-error\n')
    return home


def _run(stack, curl_home, command: str) -> subprocess.CompletedProcess:
    command = command.replace("localhost:8123", f"{stack.host}:{stack.olap_port}")
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, text=True,
                          timeout=60, env={"HOME": str(curl_home), "PATH": "/usr/bin:/bin"})


def test_the_documented_examples_in_order(stack, curl_home):
    for command, expected in EXAMPLES:  # in order: they build and drop one table
        result = _run(stack, curl_home, command)
        assert (result.returncode, result.stdout) == (0, expected), f"{command}\n{result.stderr}"


def test_a_statement_without_a_result_answers_a_summary_not_a_format(stack, curl_home):
    result = _run(stack, curl_home, "curl -sS -D - -o /dev/null 'http://localhost:8123/' "
                                    "-d 'CREATE TEMPORARY TABLE IF NOT EXISTS docs_tmp (a UInt8)'")
    headers = result.stdout.lower()
    assert "x-clickhouse-summary" in headers and "x-clickhouse-format" not in headers
    progress = _run(stack, curl_home, "curl -sS -D - -o /dev/null "
                                      "'http://localhost:8123/?send_progress_in_http_headers=1' "
                                      "-d 'SELECT count() FROM numbers(1000)'").stdout.lower()
    assert '"read_rows":"1000"' in progress.split("x-clickhouse-progress:")[1].splitlines()[0]
    assert '"result_rows":"1"' in progress.split("x-clickhouse-summary:")[1].splitlines()[0]


@pytest.mark.parametrize("command, code, status", [
    ("curl -sS -D - 'http://localhost:8123/?param_id=300' -d 'SELECT {id:UInt8}'", "457", "500"),
    ("printf 'SELECT \\xff' | curl -sS -D - 'http://localhost:8123/' --data-binary @-", "62", "400"),
    ("echo 'CREATE TABLE IF NOT EXISTS docs_csv (a UInt8, b String) ENGINE = Memory' | curl 'http://localhost:8123/' "
     "--data-binary @- && echo -ne '1,x\\nabc,y\\n' | curl -sS -D - "
     "'http://localhost:8123/?query=INSERT%20INTO%20docs_csv%20FORMAT%20CSV' --data-binary @-", "27", "400"),
    ("curl -sS -D - 'http://localhost:8123/' -d 'SELECT 1; SELECT 2'", "62", "400"),
])
def test_bad_input_gets_clickhouses_code_and_status(stack, curl_home, command, code, status):
    out = _run(stack, curl_home, command).stdout
    assert f"x-clickhouse-exception-code: {code}" in out.lower() and out.startswith(f"HTTP/1.1 {status}"), out
