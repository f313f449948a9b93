"""The batch road converges: after one default-form `etl_default` run, `default` equals the source.

Data arrives as it really does: rows dated years in the past, several updates of several
columns, deletes, an insert and a delete in one transaction, a TRUNCATE. Runs are
triggered through the REST API with `logical_date: null` and an empty conf (the default
form, as scripts and `airflow dags trigger` send it). Every column of every row is
compared, read from PostgreSQL directly and from `default` under FINAL.
"""

from __future__ import annotations

import json
import threading
import time

import psycopg2
import pytest

from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
from tests.support.dags import etl_loads
from tests.support.rows import apply_sql, default_rows, olap_admin, pg, source_rows
from tests.support.stack import run_ok

CHANGES = {
    "crm_db": [
        # inserted today, dated three years ago: the business-time window would never see them
        "INSERT INTO users (name, email, age, country, registered_at) SELECT 'backdated ' || g, 'b' || g || "
        "'@example.org', 30 + g % 40, 'PT', now() - interval '3 years' - g * interval '1 day' "
        "FROM generate_series(1, 60) g",
        # several columns, several times
        "UPDATE users SET age = coalesce(age, 0) + 1, country = 'NL' WHERE id IN (SELECT id FROM users ORDER BY id "
        "LIMIT 25)",
        "UPDATE users SET email = 'moved-' || id || '@example.org', phone = '+31 ' || id WHERE id IN "
        "(SELECT id FROM users ORDER BY id LIMIT 25)",
        "UPDATE users SET age = age * 2 WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 10)",
        "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE name = 'baseline' ORDER BY id LIMIT 15)",
        "BEGIN; INSERT INTO users (name, email) VALUES ('fleeting', 'f@example.org'); "
        "DELETE FROM users WHERE name = 'fleeting'; COMMIT",
    ],
    "telemetry_db": [
        "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
        " signal_amplitude, created_ts) SELECT gen_random_uuid(), 'arm', 'biceps', g, g * 2, g / 7.0, "
        "now() - interval '2 years' - g * interval '1 hour' FROM generate_series(1, 200) g",
        "UPDATE telemetry_events SET signal_amplitude = -signal_amplitude, muscle_group = 'triceps' WHERE id IN "
        "(SELECT id FROM telemetry_events ORDER BY id LIMIT 40)",
        "UPDATE telemetry_events SET signal_frequency = signal_frequency + 1 WHERE id IN "
        "(SELECT id FROM telemetry_events ORDER BY id LIMIT 40)",
        "DELETE FROM telemetry_events WHERE id IN (SELECT id FROM telemetry_events WHERE muscle_group = 'baseline' "
        "ORDER BY id LIMIT 30)",
        # an event moved to another user: its sorting key in `default` changes
        "UPDATE telemetry_events SET user_uuid = gen_random_uuid() WHERE id IN (SELECT id FROM telemetry_events "
        "WHERE muscle_group = 'baseline' ORDER BY id DESC LIMIT 12)",
    ],
}
# rows loaded before the changes: the deletes above remove some of them
BASELINE = {
    "crm_db": ["INSERT INTO users (name, email) SELECT 'baseline', 'base' || g || '@example.org' "
               "FROM generate_series(1, 40) g"],
    "telemetry_db": ["INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
                     "signal_duration, signal_amplitude, created_ts) SELECT gen_random_uuid(), 'leg', 'baseline', g, g, "
                     "g / 3.0, now() FROM generate_series(1, 100) g"],
}


@pytest.fixture(scope="module")
def loaded(stack, airflow, bootstrapped):
    """Baseline rows, and `default` freshly loaded: every later run has a cursor to resume from."""
    for db, statements in BASELINE.items():
        apply_sql(stack, db, statements)
    run_ok(airflow, "etl_default", {"mode": "full"})
    return stack


def test_default_form_run_brings_every_insert_update_and_delete(loaded, airflow):
    settings = loaded
    for db, statements in CHANGES.items():
        apply_sql(settings, db, statements)
    run = run_ok(airflow, "etl_default")  # logical_date null, conf {}: the default form
    for table in (USERS, TELEMETRY_EVENTS):
        assert default_rows(settings, table) == source_rows(settings, table), f"{table.name} differs"
        rows, keys = olap_admin(settings).query(f"SELECT count(), uniqExact({table.key}) FROM default.{table.name} FINAL"
                                           ).result_rows[0]
        assert rows == keys, f"default.{table.name}: {rows - keys} keys twice under FINAL (a moved row kept)"
    loads = etl_loads(settings, run["dag_run_id"])
    assert {t: (mode, reason) for t, (mode, _, _, reason, _) in loads.items()} == {
        "users": ("incremental", ""), "telemetry_events": ("incremental", "")}
    # the loaded rows deleted since (the fleeting row was never loaded)
    assert (loads["users"][2], loads["telemetry_events"][2]) == (15, 30), loads
    # read from the change journal, which covers the cursor the full load left: no table scan
    assert {t: skipped for t, (*_, skipped) in loads.items()} == {
        t: "table scans (the change journal named the keys)" for t in ("users", "telemetry_events")}, loads
    journal = pg(settings, "crm_db")
    with journal, journal.cursor() as cur:  # what the run read was forgotten, and only that
        cur.execute("SELECT count(*) FROM users_changes AS j JOIN bionicflow_source_state AS s "
                    "ON s.table_name = 'users' WHERE j.xid < s.snapshot_xmin")
        assert cur.fetchone()[0] == 0
    journal.close()


def test_with_a_journal_trigger_disabled_the_load_reads_the_table_and_converges(loaded, airflow):
    """Changes the journal missed (its trigger off) are found by the table scans; with the trigger back, the
    first load after it scans too, and the next reads the journal again."""
    settings = loaded
    run_ok(airflow, "etl_default")
    apply_sql(settings, "crm_db", [
        "ALTER TABLE users DISABLE TRIGGER bionicflow_journal_update",
        "UPDATE users SET country = 'unjournaled' WHERE id IN (SELECT id FROM users ORDER BY id DESC LIMIT 7)"])
    try:
        run = run_ok(airflow, "etl_default")
        assert etl_loads(settings, run["dag_run_id"])["users"][4] == "", "a load trusted a journal with a trigger off"
        assert default_rows(settings, USERS) == source_rows(settings, USERS)
    finally:
        apply_sql(settings, "crm_db", ["ALTER TABLE users ENABLE ALWAYS TRIGGER bionicflow_journal_update"])
    # re-enabled: changes between the load above and here were not journaled either
    apply_sql(settings, "crm_db", ["UPDATE users SET age = 77 WHERE id = (SELECT max(id) FROM users)"])
    run = run_ok(airflow, "etl_default")
    assert etl_loads(settings, run["dag_run_id"])["users"][4] == "", "the journal was trusted across its re-enabling"
    apply_sql(settings, "crm_db", ["UPDATE users SET age = 78 WHERE id = (SELECT max(id) FROM users)"])
    run = run_ok(airflow, "etl_default")
    assert etl_loads(settings, run["dag_run_id"])["users"][4].startswith("table scans"), "the journal was not used again"
    assert default_rows(settings, USERS) == source_rows(settings, USERS)


def test_nothing_changed_loads_nothing_and_keeps_default_equal(loaded, airflow):
    settings = loaded
    run_ok(airflow, "etl_default")
    run = run_ok(airflow, "etl_default")
    loads = etl_loads(settings, run["dag_run_id"])
    assert {t: (mode, rows, deleted) for t, (mode, rows, deleted, _, _) in loads.items()} == {
        "users": ("incremental", 0, 0), "telemetry_events": ("incremental", 0, 0)}, loads
    # PostgreSQL's row counters did not move between the two runs: neither table was scanned
    assert {t: skipped for t, (*_, skipped) in loads.items()} == {
        "users": "row scan and key sync", "telemetry_events": "row scan and key sync"}, loads
    assert default_rows(settings, USERS) == source_rows(settings, USERS)


# across a wraparound: tests/integration/test_xid_wraparound.py (a scratch cluster set there)
def test_a_rows_xid_is_its_writers_64_bit_id_before_and_after_freezing(stack):
    from bionicflow.stack.status import superuser_connector

    conn = pg(stack, "crm_db")
    with conn, conn.cursor() as cur:  # one transaction: the row's writer
        cur.execute("INSERT INTO users (name, email) VALUES ('xid-check', 'x@example.org') RETURNING id")
        key = cur.fetchone()[0]
        cur.execute("SELECT pg_current_xact_id()::text::bigint")
        writer = cur.fetchone()[0]

    def row(sql: str):
        with conn.cursor() as cur:
            cur.execute(sql, (key,))
            return cur.fetchone()[0]

    row_xid = "SELECT _xid FROM users_olap WHERE id = %s"
    assert row(row_xid) == writer
    admin = superuser_connector(stack)("crm_db")
    admin.autocommit = True
    deadline = time.monotonic() + 60
    with admin.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_visibility")
        block = int(row("SELECT ctid::text FROM users WHERE id = %s").strip("()").split(",")[0])
        while True:  # another session's snapshot may hold the freeze back for a moment
            cur.execute("VACUUM (FREEZE) users")
            cur.execute("SELECT all_frozen FROM pg_visibility_map('users'::regclass, %s)", (block,))
            if cur.fetchone()[0]:
                break
            assert time.monotonic() < deadline, "VACUUM FREEZE did not freeze the row's page within 60s"
            time.sleep(1)
    assert row(row_xid) == writer, "freezing changed the row's transaction id"
    admin.close()
    conn.close()


def test_reconcile_repairs_a_default_corrupted_behind_its_back(loaded, airflow):
    settings = loaded
    run_ok(airflow, "etl_default")
    olap = olap_admin(settings)
    damaged_at = olap.query("SELECT now64(6)").result_rows[0][0]
    victims = [k for (k,) in olap.query("SELECT user_id FROM default.users FINAL ORDER BY user_id LIMIT 3").result_rows]
    olap.command("DELETE FROM default.users WHERE user_id IN {k:Array(Int64)}", parameters={"k": victims[:2]})
    olap.command("ALTER TABLE default.users UPDATE name = 'tampered' WHERE user_id = {k:Int64} "
                 "SETTINGS mutations_sync = 1", parameters={"k": victims[2]})
    # a key the source never had: no source row was deleted since the load, so it cannot be lag
    olap.command("INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) "
                 "VALUES (987654321, generateUUIDv4(), 'phantom', 'p@example.org', now64(6), 1)")
    run_ok(airflow, "cdc_reconcile")
    # the schedule's own run may find the damage first (max_active_runs=1 queues ours behind it): whichever did
    found = olap.query(
        "SELECT run_id, stale_rows FROM ops.reconciliation_tables WHERE side = 'default' AND table = 'users' "
        "AND started_at >= {t:DateTime64(6)} AND stale_rows > 0 ORDER BY started_at LIMIT 1",
        parameters={"t": damaged_at}).result_rows
    assert found, "no reconciliation after the damage found default.users wrong"
    run_id, stale = found[0]
    assert int(stale) == 4, stale  # two rows gone, one different, one phantom: all wrong, none lag
    states = airflow.task_states("cdc_reconcile", run_id)
    assert states["fallback_etl_default"] == "success" and states["verify_default"] == "success", states
    details = json.loads(olap.command("SELECT details FROM ops.reconciliation_runs WHERE run_id = {r:String}",
                                      parameters={"r": run_id}))
    assert details["etl_default_conf"] == {"mode": "repair", "tables": ["users"]}, details
    # the repair reloaded by key what reconciliation recorded, deleted the phantom, and forgot the keys
    mode, rows, deleted = olap.query("SELECT mode, rows, deleted FROM ops.etl_runs WHERE table = 'users' "
                                     "ORDER BY finished_at DESC LIMIT 1").result_rows[0]
    assert (mode, deleted) == ("repair", 1) and rows >= 3, (mode, rows, deleted)
    assert int(olap.command("SELECT count() FROM ops.default_repair_keys WHERE table = 'users'")) == 0
    assert default_rows(settings, USERS) == source_rows(settings, USERS)


def test_default_only_behind_is_not_repaired(loaded, airflow):
    settings = loaded
    run_ok(airflow, "etl_default")
    apply_sql(settings, "crm_db", ["UPDATE users SET age = coalesce(age, 0) + 1 WHERE id = (SELECT min(id) FROM users)",
                                "INSERT INTO users (name, email) VALUES ('later', 'later@example.org')"])
    run = run_ok(airflow, "cdc_reconcile")
    rows = olap_admin(settings).query(
        "SELECT missing_keys, differing_rows, stale_rows FROM ops.reconciliation_tables WHERE run_id = {r:String} "
        "AND side = 'default' AND table = 'users'", parameters={"r": run["dag_run_id"]}).result_rows
    assert rows == [(1, 1, 0)], rows  # changes since the load: lag, not an error
    details = olap_admin(settings).command("SELECT details FROM ops.reconciliation_runs WHERE run_id = {r:String}",
                                      parameters={"r": run["dag_run_id"]})
    assert json.loads(details)["repair_default"] == [], details


def _rows_written(settings) -> int:
    conn = pg(settings, "telemetry_db")
    with conn.cursor() as cur:
        cur.execute("SELECT rows_written FROM bionicflow_source_state WHERE table_name = 'telemetry_events'")
        written = cur.fetchone()[0]
    conn.close()
    return written


JOURNAL_TRIGGERS = ("bionicflow_journal_insert", "bionicflow_journal_update", "bionicflow_journal_delete")


@pytest.mark.parametrize("journal", ["on", "off"])
def test_a_commit_the_row_counters_have_not_counted_yet_is_loaded_by_the_next_run(loaded, airflow, journal):
    """PostgreSQL counts a session's writes when the session goes idle: a writer that commits and stays busy
    leaves the counters as they were. The load must not skip its rows for that: the journal decides, or, with
    the journal off, the cluster's latest commit (above the cursor) says the counters cannot be trusted."""
    settings = loaded
    if journal == "off":
        apply_sql(settings, "telemetry_db", [f"ALTER TABLE telemetry_events DISABLE TRIGGER {t}"
                                             for t in JOURNAL_TRIGGERS])
    try:
        _busy_writer_is_loaded(settings, airflow, f"uncounted-{journal}")
    finally:
        if journal == "off":
            apply_sql(settings, "telemetry_db", [f"ALTER TABLE telemetry_events ENABLE ALWAYS TRIGGER {t}"
                                                 for t in JOURNAL_TRIGGERS])


def _busy_writer_is_loaded(settings, airflow, marker: str) -> None:
    run_ok(airflow, "etl_default")  # nothing left over from the tests before
    counted = _rows_written(settings)
    writer = pg(settings, "telemetry_db")
    with writer.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    busy = threading.Thread(target=lambda: _ignore_cancel(writer, (
        "BEGIN; INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
        f"signal_duration, signal_amplitude, created_ts) SELECT gen_random_uuid(), 'arm', '{marker}', g, g, g, now() "
        "FROM generate_series(1, 25) g; COMMIT; SELECT pg_sleep(600)")))
    busy.start()
    watcher = pg(settings, "telemetry_db")
    try:
        deadline = time.monotonic() + 60
        with watcher.cursor() as cur:
            while True:
                cur.execute("SELECT count(*) FROM telemetry_events WHERE muscle_group = %s", (marker,))
                if cur.fetchone()[0] == 25:
                    break
                assert time.monotonic() < deadline, "the writer's rows were not committed within 60 s"
                time.sleep(0.2)
        assert _rows_written(settings) == counted, "the counters counted the commit already: nothing to prove"
        run = run_ok(airflow, "etl_default")
        assert _rows_written(settings) == counted, "the writer went idle during the run: the test proved nothing"
        loads = etl_loads(settings, run["dag_run_id"])
        copied = olap_admin(settings).command("SELECT count() FROM default.telemetry_events FINAL "
                                              "WHERE muscle_group = {m:String}", parameters={"m": marker})
        assert copied == 25, f"the load skipped rows its counters had not counted: {loads}"
        assert default_rows(settings, TELEMETRY_EVENTS) == source_rows(settings, TELEMETRY_EVENTS)
    finally:
        with watcher.cursor() as cur:
            cur.execute("SELECT pg_cancel_backend(%s)", (pid,))
        watcher.close()
        busy.join(timeout=60)
        writer.close()


def _ignore_cancel(conn, sql: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except psycopg2.errors.QueryCanceled:
        pass  # the test ends the writer's sleep
