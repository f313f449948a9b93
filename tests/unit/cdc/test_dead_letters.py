"""Dead letters summarised and replayed, on the real engine (chdb in-process)."""

import json

from bionicflow.cdc import dead_letters
from bionicflow.kernel.tables import USERS
from tests.support.chdb_engine import ChdbClient, engine, insert_changes


ROW = {"id": 1, "user_uuid": "u1", "name": "v10", "email": "e", "age": None, "gender": None, "country": None,
       "address": None, "phone": None, "registered_at": 1_700_000_000_000_000}


def _dead_letter(conn, offset: int, image: dict, error: str) -> None:
    """A usable change that was dead-lettered for a passing reason (as the consumer records one)."""
    value = json.dumps({"payload": {"before": None, "after": image, "op": "c",
                                    "source": {"lsn": offset, "ts_us": 1, "table": "users"}}})
    conn.query("INSERT INTO debezium.dead_letters (topic, partition, offset, raw_value, error) VALUES "
               "({t:String}, 0, {o:UInt64}, {v:String}, {e:String})",
               params={"t": USERS.topic, "o": str(offset), "v": value, "e": error})


def _setup(tmp_path):
    conn = engine(tmp_path)
    insert_changes(conn, USERS, [("c", None, ROW), ("c", None, dict(ROW, id=2, age=1e30))], first_offset=10)
    conn.query("INSERT INTO debezium.users_kafka VALUES ('{oops', {t:String}, 0, 12)", params={"t": USERS.topic})
    insert_changes(conn, USERS, [("u", ROW, dict(ROW, name="v13"))], first_offset=13)
    _dead_letter(conn, 5, dict(ROW, name="stale"), "rejected by ClickHouse: Timeout exceeded")  # older than 13
    _dead_letter(conn, 14, dict(ROW, id=5, user_uuid="u5", name="late"), "rejected by ClickHouse: Timeout exceeded")
    return conn


def test_summary_groups_dead_letters_by_cause(tmp_path):
    causes = dead_letters.summary(ChdbClient(_setup(tmp_path)))
    assert {(c.table, c.cause, c.messages) for c in causes} == {
        ("users", "rejected by ClickHouse", 2), ("users", "column age", 1), ("users", "not valid JSON", 1)}
    assert causes[0].cause == "rejected by ClickHouse"  # the most frequent first
    assert next(c.example for c in causes if c.cause == "column age") == "column age: value 1e30 does not fit Nullable(Int64)"


def test_replay_applies_what_is_usable_now_and_keeps_the_rest(tmp_path):
    conn = _setup(tmp_path)
    result = dead_letters.replay(ChdbClient(conn), USERS)
    assert (result.applied, result.remaining) == (2, 2)
    final = conn.query("SELECT user_id, name FROM debezium.users FINAL ORDER BY user_id", "TSV").bytes().decode()
    assert final == "1\tv13\n5\tlate\n"  # the replayed offset 5 is older than offset 13: it does not win
    left = conn.query("SELECT offset FROM debezium.dead_letters ORDER BY offset", "TSV").bytes().decode()
    assert left.split() == ["11", "12"]
    again = dead_letters.replay(ChdbClient(conn), USERS)
    assert (again.applied, again.remaining) == (0, 2)
