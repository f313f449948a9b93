"""The client's query_id where ClickHouse's clients meet it: queryID() and KILL QUERY."""

import chdb
import pytest

from bionicflow.olap.protocol import ClickHouseError
from bionicflow.olap.query_ids import RunningQueries, with_request_values


@pytest.mark.parametrize("sql, expected", [
    ("SELECT queryID()", "q-1"),
    ("SELECT query_id(), QUERY_ID ( ), currentQueryID(), initialQueryID(), initial_query_id()",
     "q-1\tq-1\tq-1\tq-1\tq-1"),
    ("SELECT 'queryID()', `queryID()` FROM (SELECT 1 AS `queryID()`) /* queryID() */", "queryID()\t1"),
    ("SELECT $$queryID()$$ -- queryID()\n", "queryID()"),
])
def test_the_engine_sees_the_clients_id_in_code_only(sql, expected):
    assert chdb.query(with_request_values(sql, "q-1", "u"), "TSV").bytes().decode().strip() == expected


def test_an_id_with_quotes_stays_one_literal():
    assert chdb.query(with_request_values("SELECT queryID()", "it's\\", "u"), "TSVRaw").bytes().decode().strip() == "it's\\"


def test_a_statement_without_the_functions_is_left_as_it_is():
    sql = "INSERT INTO t VALUES " + ", ".join(["('query_id', 1)"] * 1000)
    assert with_request_values(sql, "q", "u") is sql


def test_two_statements_cannot_run_under_one_id():
    running = RunningQueries()
    with running.running("same", "/* t1 */"):
        with pytest.raises(ClickHouseError) as refused:
            with running.running("same", "/* t2 */"):
                pass
        assert refused.value.name == "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING"
    with running.running("same", "/* t3 */"):  # free again once the first ended
        pass


def test_kill_by_a_running_clients_id_kills_its_tagged_statement():
    running = RunningQueries()
    with running.running("client's id", "/* bionicflow:x1 */"):
        assert running.kill_statement("KILL QUERY WHERE query_id = 'client\\'s id' SYNC") == \
            "KILL QUERY WHERE startsWith(query, '/* bionicflow:x1 */') SYNC"
        assert running.kill_statement("kill query where query_id='other'") == "kill query where query_id='other'"
        assert running.kill_statement("KILL QUERY WHERE user = 'x'") == "KILL QUERY WHERE user = 'x'"
    assert running.kill_statement("KILL QUERY WHERE query_id = 'client\\'s id'").endswith("'client\\'s id'")


def test_the_user_functions_answer_the_authenticated_user():
    sql = with_request_values("SELECT currentUser(), user(), CURRENT_USER(), authenticatedUser(), 'user()'", "q", "ann")
    assert chdb.query(sql, "TSV").bytes().decode().strip() == "ann\tann\tann\tann\tuser()"


def test_an_error_about_the_rewritten_statement_speaks_of_the_clients_text():
    from bionicflow.olap.query_ids import request_text

    client = "SELECT queryID(), 'é', user(), 1 +"
    text = request_text(client, "3f1c0a1e-1111-4222-8333-944445555666", "reports_reader")
    assert "queryID" not in text.sql and "user()" not in text.sql
    end = len(client.encode()) + 1  # "position N" is 1-based, in bytes
    engine_end = len(text.sql.encode()) + 1
    message = (f"Syntax error: failed at position {engine_end} (end of query): . Expected one of: … "
               f"In scope {text.sql}")
    assert text.client_message(message) == (f"Syntax error: failed at position {end} (end of query): . "
                                            f"Expected one of: … In scope {client}")
    # a position inside a replaced call points at the call; one before it stays
    inside = text.sql.encode().index(b"3f1c") + 1
    assert text.client_message(f"at position {inside}") == f"at position {client.index('queryID') + 1}"
    assert text.client_message("at position 3") == "at position 3"
