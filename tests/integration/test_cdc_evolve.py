"""A column added to a source table appears in `debezium` and, at the next batch load, in `default`,
on the live stack, without a restart.

Runs after tests/integration/test_airflow_dags.py (whose drift test expects a source without
extra columns); this module takes its columns out again at the end, in the source and in
ClickHouse, for the modules after it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from bionicflow.cdc import evolve
from bionicflow.kernel.tables import USERS

from tests.support.rows import apply_sql, no_duplicate_keys, olap_admin, pg, wait_converged
from tests.support.stack import cli, run_ok, status_document

ADDED = ("note", "score", "seen_at", "memo")


def _utc(value):
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).replace(tzinfo=None)
    return value


def _source(settings, columns: tuple[str, ...]) -> dict:
    conn = pg(settings, "crm_db")
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id, {', '.join(columns)} FROM users")
            return {row[0]: tuple(_utc(v) for v in row[1:]) for row in cur.fetchall()}
    finally:
        conn.close()


def _debezium(settings, columns: tuple[str, ...], schema: str = "debezium") -> dict | None:
    olap = olap_admin(settings)
    present = {name for (name,) in olap.query("SELECT name FROM system.columns WHERE database = {s:String} "
                                              "AND table = 'users'", parameters={"s": schema}).result_rows}
    if not set(columns) <= present:
        return None
    rows = olap.query(f"SELECT user_id, {', '.join(columns)} FROM {schema}.users FINAL").result_rows
    return {row[0]: tuple(_utc(v) for v in row[1:]) for row in rows}


def _wait_equal(settings, columns: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        src, dst = _source(settings, columns), _debezium(settings, columns)
        if src == dst:
            return src
        if time.monotonic() > deadline:
            differ = "columns missing" if dst is None else [(k, src.get(k), dst.get(k)) for k in sorted(set(src) | set(dst))
                                                              if src.get(k) != dst.get(k)][:5]
            raise AssertionError(f"debezium.users {columns} != source after {timeout}s: {differ}")
        time.sleep(1)


def _users_loads_since(settings, since) -> list[tuple[str, str]]:
    """(mode, reason) of every load of `default.users` recorded after ``since``, oldest first.

    Not only the run a test triggers: on a freshly unpaused DAG the schedule's own run may come
    first (`max_active_runs=1` queues ours behind it) and make the change the test looks for.
    """
    return [tuple(r) for r in olap_admin(settings).query(
        "SELECT mode, reason FROM ops.etl_runs WHERE table = 'users' AND finished_at > {t:DateTime64(6)} "
        "ORDER BY finished_at", parameters={"t": since}).result_rows]


def _now(settings):
    return olap_admin(settings).command("SELECT now64(6)")


def _warnings() -> list[str]:
    doc = status_document()  # the warnings and the columns on their way to the other road (notices)
    return [w for w in doc["warnings"] + doc["notices"] if "crm_db.users" in w]


def test_added_columns_appear_typed_with_defaults_and_a_rename_is_reported(stack, cdc, airflow):
    wait_converged(stack, USERS)
    olap = olap_admin(stack)
    dead_before = olap.command("SELECT count() FROM debezium.dead_letters")
    try:
        added_at = _now(stack)
        apply_sql(stack, "crm_db", ["ALTER TABLE users ADD COLUMN note text", "ALTER TABLE users ADD COLUMN score integer DEFAULT 7",
                     "ALTER TABLE users ADD COLUMN seen_at timestamp NULL"])
        apply_sql(stack, "crm_db", [
            "INSERT INTO users (name, email, note, score, seen_at) VALUES "
            "('evolve 1', 'e1@example.org', 'first note', 42, '2026-12-01 10:00:00.123456'), "
            "('evolve 2', 'e2@example.org', NULL, NULL, NULL), ('evolve 3', 'e3@example.org', 'ünïcode ✓', 3, NULL)",
            "UPDATE users SET note = 'an old row, updated' WHERE id = (SELECT min(id) FROM users)",
        ])
        rows = _wait_equal(stack, ("note", "score", "seen_at"))  # old rows: note NULL, score 7 (the source's default)
        assert sum(1 for note, score, _ in rows.values() if note is None and score == 7) > 10, "no old row read the default"
        assert (None, 7, None) in rows.values() and ("first note", 42, datetime(2026, 12, 1, 10, 0, 0, 123456)) in rows.values()
        types = dict(olap.query("SELECT name, type FROM system.columns WHERE database = 'debezium' AND table = 'users' "
                                "AND name IN ('note', 'score', 'seen_at')").result_rows)
        assert types == {"note": "Nullable(String)", "score": "Nullable(Int64)", "seen_at": "Nullable(DateTime64(6))"}
        lines = _warnings()
        assert len(lines) == 3 and all("added by the CDC road" in line for line in lines), lines
        assert not [w for w in status_document()["warnings"] if "crm_db.users" in w], "columns on their way: no fault"

        # the batch road: the next etl_default run (the default form, logical_date null) copies the table whole
        # once with the new columns, so old rows carry the source's default too; then incremental again
        run_ok(airflow, "etl_default")
        loads = _users_loads_since(stack, added_at)
        assert any(mode == "full" and "note, score, seen_at" in reason for mode, reason in loads), loads
        assert _debezium(stack, ("note", "score", "seen_at"), "default") == _source(stack, ("note", "score", "seen_at"))
        types = dict(olap.query("SELECT name, type FROM system.columns WHERE database = 'default' AND table = 'users' "
                                "AND name IN ('note', 'score', 'seen_at')").result_rows)
        assert types == {"note": "Nullable(String)", "score": "Nullable(Int64)", "seen_at": "Nullable(DateTime64(6))"}
        updated_at = _now(stack)
        apply_sql(stack, "crm_db", ["UPDATE users SET note = 'changed later', score = 8 WHERE name = 'evolve 2'"])
        run_ok(airflow, "etl_default")
        assert {mode for mode, _ in _users_loads_since(stack, updated_at)} == {"incremental"}
        assert _debezium(stack, ("note", "score", "seen_at"), "default") == _source(stack, ("note", "score", "seen_at"))
        assert _warnings() == [], "both roads copy the new columns: nothing left to report"

        # a rename: reported (the old name gone, the new one carried from its first change on); the stream flows
        apply_sql(stack, "crm_db", ["ALTER TABLE users RENAME COLUMN note TO memo",
                     "INSERT INTO users (name, email, memo) VALUES ('evolve 4', 'e4@example.org', 'renamed')"])
        wait_converged(stack, USERS)
        lines = _warnings()
        assert any("has no column note any more" in line for line in lines), lines
        # batch loads go on: the source's view keeps the old name for the renamed column
        run_ok(airflow, "etl_default")
        assert _debezium(stack, ("note",), "default") == _source(stack, ("memo",))
        assert any("column memo that `debezium` copies" in line for line in lines), lines
        # `memo` is carried from the rename on; rows not changed since keep their value under `note` until a
        # re-read (the `backfill` DAG), as docs/cdc.md says
        deadline = time.monotonic() + 60
        while ("renamed",) not in (_debezium(stack, ("memo",)) or {}).values():
            assert time.monotonic() < deadline, "the renamed column's first value never reached debezium"
            time.sleep(1)
        assert ("first note",) in (_debezium(stack, ("note",)) or {}).values()

        # the source drops a column the batch road added (the view no longer blocks the drop): the next load
        # copies the table whole without it
        dropped_at = _now(stack)
        apply_sql(stack, "crm_db", ["ALTER TABLE users DROP COLUMN score"])
        run_ok(airflow, "etl_default")
        loads = _users_loads_since(stack, dropped_at)
        assert any(mode == "full" and "dropped column(s) score" in reason for mode, reason in loads), loads
        assert _debezium(stack, ("score",), "default") is None, "default.users still has the dropped column"
        assert _debezium(stack, ("note", "seen_at"), "default") == _source(stack, ("memo", "seen_at"))
        no_duplicate_keys(stack, USERS)
        assert olap.command("SELECT count() FROM debezium.dead_letters") == dead_before
    finally:  # the source and `debezium` as they were, for the modules after this one
        apply_sql(stack, "crm_db", [f"ALTER TABLE users DROP COLUMN IF EXISTS {name}" for name in ADDED])
        assert cli("stop", "cdc_consumer").returncode == 0
        try:
            for name in ADDED:
                olap.command(f"ALTER TABLE debezium.users DROP COLUMN IF EXISTS {name}")
                olap.command(f"ALTER TABLE default.users DROP COLUMN IF EXISTS {name}")
            olap.command("DELETE FROM debezium.added_columns WHERE table_name = 'users'")
            evolve.rebuild_views(olap, USERS)
        finally:
            assert cli("start", "cdc_consumer").returncode == 0
    assert _warnings() == []
    wait_converged(stack, USERS)
