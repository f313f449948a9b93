"""Forgetting a column the source dropped on purpose: refused when it must be; both copies cleaned (real engine)."""

import contextlib

import pytest

from bionicflow.cdc import evolve
from bionicflow.kernel import tables
from bionicflow.platform import drift, forget_column
from bionicflow.platform.forget_column import ForgetColumnError, check
from tests.support.chdb_engine import ChdbClient, engine_with_sources, insert_changes

USERS = tables.USERS
SOURCE = [c.source for c in USERS.columns]  # the source as bionicflow's definition has it
ROW = {"id": 1, "user_uuid": "u1", "name": "a", "email": "e", "age": None, "gender": None, "country": "DE",
       "address": "", "phone": None, "registered_at": 1_700_000_000_000_000}
NICKNAME = evolve.Column("nickname", "Nullable(String)", "nickname", "string", added=True)


class Olap(ChdbClient):
    """The chdb client, taking the settings clickhouse-connect's `command` takes."""

    def command(self, sql, parameters=None, settings=None):
        for name, value in (settings or {}).items():
            self.conn.query(f"SET {name} = {value}")
        return super().command(sql, parameters)


class SourceConnection:
    """A source database's catalogue, as `read_source_columns` reads it."""

    def __init__(self, columns):
        self.columns = columns

    @contextlib.contextmanager
    def cursor(self):
        class Cursor:
            def execute(_, sql, params):
                pass

            def fetchall(_):
                return [(c,) for c in self.columns]

        yield Cursor()

    def close(self):
        pass


def test_a_column_the_source_still_has_is_refused_with_the_fix():
    with pytest.raises(ForgetColumnError, match="crm_db.users still has column nickname: .* DROP COLUMN nickname"):
        check(USERS, "nickname", [*SOURCE, "nickname"], {"nickname"}, True)


def test_bionicflow_own_columns_and_unknown_ones_are_refused():
    with pytest.raises(ForgetColumnError, match="one of bionicflow's own columns of users"):
        check(USERS, "phone", [s for s in SOURCE if s != "phone"], set(), False)
    with pytest.raises(ForgetColumnError, match="nothing to forget .*beyond bionicflow's definition: other"):
        check(USERS, "nickname", SOURCE, {"other"}, False)
    with pytest.raises(ForgetColumnError, match="missing or has no columns: cannot verify"):
        check(USERS, "nickname", [], {"nickname"}, True)
    with pytest.raises(ForgetColumnError, match="no table 'orders'"):
        forget_column.find_table("orders")


def test_both_copies_forget_the_column_and_drift_is_gone(tmp_path):
    conn = engine_with_sources(tmp_path)
    olap = Olap(conn)
    evolve.evolve(olap, USERS, (NICKNAME,))  # the CDC road added it at the first change carrying it
    conn.query("ALTER TABLE default.users ADD COLUMN nickname Nullable(String)")  # the batch road at its load
    insert_changes(conn, USERS, [("c", None, ROW | {"nickname": "nick"}), ("c", None, ROW | {"id": 2})])
    conn.query("INSERT INTO default.users (user_id, user_uuid, nickname) VALUES (1, 'u1', 'nick')")
    dropped = {"users": SOURCE}  # the source dropped nickname
    lines = drift.source_drift(olap, lambda t: SourceConnection(dropped[t.name]), (USERS,))
    [line] = lines  # one line for both copies, naming the command that accepts the drop
    assert "has no column nickname any more" in line and "bionicflow cdc forget-column users nickname" in line, line

    with pytest.raises(ForgetColumnError, match="still has column"):
        forget_column.plan(olap, "users", "nickname", [*SOURCE, "nickname"])
    planned = forget_column.plan(olap, "users", "nickname", SOURCE)
    assert (planned.registered, planned.in_debezium, planned.in_default) == (True, True, True)
    assert planned.values == {"debezium": 1, "default": 1}
    assert planned.describe()[0] == "debezium.users: drop column nickname (1 row holds a value in it; lost with it)"

    paused = []

    @contextlib.contextmanager
    def writers_paused():
        paused.append("in")
        yield
        paused.append("out")

    forget_column.forget(olap, planned, writers_paused)
    assert paused == ["in", "out"]
    for db in ("debezium", "default"):
        assert "nickname" not in {r[0] for r in olap.query(forget_column.COPY_COLUMNS_SQL, {
            "database": db, "table": "users"}).result_rows}
    assert evolve.added_columns(olap, USERS) == () and not evolve.views_lack(olap, USERS)
    assert drift.source_drift(olap, lambda t: SourceConnection(dropped[t.name]), (USERS,)) == []
    insert_changes(conn, USERS, [("c", None, ROW | {"id": 3, "user_uuid": "u3"})], first_offset=10)  # still flowing
    assert olap.command("SELECT count() FROM debezium.users FINAL") == 3
    assert olap.command("SELECT count() FROM debezium.dead_letters") == 0
