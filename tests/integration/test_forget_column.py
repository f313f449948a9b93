"""`bionicflow cdc forget-column` on the live stack: a column both roads copied, dropped in the source on purpose,
is reported until the command drops it from the copies; then `status` has nothing to say about it.

The column is this module's own (`forget_probe`, added to crm_db.users and dropped again); the
existing columns of `users` are never touched. Cleans up in the source and in ClickHouse.
"""

from __future__ import annotations

import json
import time

from bionicflow.cdc import evolve
from bionicflow.kernel.tables import USERS

from tests.support.rows import apply_sql, olap_admin, wait_converged
from tests.support.stack import cli, run_ok, status_document

COLUMN = "forget_probe"
MARK = "forget-column probe"


def _columns(olap, schema: str) -> set[str]:
    return {name for (name,) in olap.query("SELECT name FROM system.columns WHERE database = {s:String} "
                                           "AND table = 'users'", parameters={"s": schema}).result_rows}


def _wait_for_value(olap, timeout: float = 120) -> None:
    """Poll until the CDC road added the column and stored the probe row's value in it."""
    deadline = time.monotonic() + timeout
    while not (COLUMN in _columns(olap, "debezium") and olap.command(
            f"SELECT count() FROM debezium.users FINAL WHERE {COLUMN} = 'kept'")):
        assert time.monotonic() < deadline, f"debezium.users never got {COLUMN} with the probe's value"
        time.sleep(1)


def _warnings() -> list[str]:
    return [w for w in status_document()["warnings"] if COLUMN in w]


def test_a_column_dropped_on_purpose_is_forgotten_and_status_is_green_again(stack, cdc, airflow):
    wait_converged(stack, USERS)
    olap = olap_admin(stack)
    dead_before = olap.command("SELECT count() FROM debezium.dead_letters")
    try:
        apply_sql(stack, "crm_db", [
            f"ALTER TABLE users ADD COLUMN {COLUMN} text",
            f"INSERT INTO users (name, email, {COLUMN}) VALUES ('{MARK}', 'f@example.org', 'kept')"])
        _wait_for_value(olap)  # the CDC road has it
        run_ok(airflow, "etl_default")  # the batch road: its next load copies users whole, with the column
        assert COLUMN in _columns(olap, "default")
        refused = cli("cdc", "forget-column", "users", COLUMN, "--yes")
        assert refused.returncode == 2 and f"crm_db.users still has column {COLUMN}" in refused.stderr, refused.stderr
        own = cli("cdc", "forget-column", "users", "email", "--yes")
        assert own.returncode == 2 and "one of bionicflow's own columns" in own.stderr, own.stderr

        apply_sql(stack, "crm_db", [f"ALTER TABLE users DROP COLUMN {COLUMN}"])
        [line] = _warnings()  # reported for good: the copies keep it
        assert f"has no column {COLUMN} any more" in line and f"bionicflow cdc forget-column users {COLUMN}" in line

        asked = cli("cdc", "forget-column", "users", COLUMN)  # no terminal, no --yes: shows the plan, drops nothing
        assert asked.returncode == 1 and "run again with --yes" in asked.stderr, asked.stderr
        assert f"debezium.users: drop column {COLUMN} (1 row holds a value in it; lost with it)" in asked.stderr
        assert f"default.users: drop column {COLUMN} (1 row holds a value" in asked.stderr
        assert COLUMN in _columns(olap, "debezium") and COLUMN in _columns(olap, "default")

        done = cli("cdc", "forget-column", "users", COLUMN, "--yes")
        assert done.returncode == 0, done.stderr
        assert f"users.{COLUMN} forgotten" in done.stdout
        assert COLUMN not in _columns(olap, "debezium") | _columns(olap, "default")
        assert COLUMN not in {c.name for c in evolve.added_columns(olap, USERS)}
        assert _warnings() == []
        status = cli("status", "--json")
        doc = json.loads(status.stdout)
        assert not [w for w in doc["warnings"] if COLUMN in w], doc["warnings"]
        unwell = bool(doc["orphans"] or doc["warnings"] or not all(s["healthy"] for s in doc["services"].values()))
        assert status.returncode == (1 if unwell else 0), (status.returncode, doc["warnings"])

        # the stream flows on after the consumer's pause: a new row arrives, nothing dead-lettered
        apply_sql(stack, "crm_db", [f"INSERT INTO users (name, email) VALUES ('{MARK} 2', 'f2@example.org')"])
        wait_converged(stack, USERS)
        assert olap.command("SELECT count() FROM debezium.dead_letters") == dead_before
    finally:  # the source and both copies as they were, for the modules after this one
        apply_sql(stack, "crm_db", [f"ALTER TABLE users DROP COLUMN IF EXISTS {COLUMN}",
                                    f"DELETE FROM users WHERE name LIKE '{MARK}%'"])
        if COLUMN in _columns(olap, "debezium") | _columns(olap, "default"):
            assert cli("stop", "cdc_consumer").returncode == 0
            try:
                olap.command(f"DELETE FROM debezium.added_columns WHERE table_name = 'users' AND name = '{COLUMN}'")
                evolve.rebuild_views(olap, evolve.extended(olap, USERS))
                for schema in ("debezium", "default"):
                    olap.command(f"ALTER TABLE {schema}.users DROP COLUMN IF EXISTS {COLUMN}")
            finally:
                assert cli("start", "cdc_consumer").returncode == 0
    wait_converged(stack, USERS)
