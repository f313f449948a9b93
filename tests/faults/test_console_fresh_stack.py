"""The brief's check from nothing, in the CDC console: connectors present before any data, the tables' topics
absent (Debezium creates each with its table's first change) while `bionicflow status` is healthy with a known
lag, then after the brief's "generate" the topics there and full, the first user in `debezium.users` within 30 s
of its insert, and the rows just written among the latest messages.

It needs a stack started from an empty state directory as `make run` starts one (auto-bootstrap on, no
seeded rows), so it WIPES its stack's state first and stops it at the end. `make test` runs it first on the
fault suite's stack (2), whose suite then starts that stack from nothing again; never on a reused stack
(BIONICFLOW_TEST_REUSE=1). Alone:

    BIONICFLOW_TEST_STACK=3 .venv/bin/python -m pytest -q -p no:cacheprovider tests/faults/test_console_fresh_stack.py

(ports 2000 above the defaults of tests/support/stack.py, state in .bionicflow-test-3).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from markupsafe import escape

from tests.support.console_pages import (
    BRIEF_TOPICS as TOPICS, connector_states, console_get, message_offsets, topic_messages)
from tests.support.rows import olap_admin, pg
from tests.support.stack import STATE_DIR, cli

USERS, EVENTS = 1000, 10000  # the brief's button
SECONDS = 600  # generating and carrying 11,000 changes on two shared cores
FIRST_CHANGE_SECONDS = 30  # a new topic is noticed at the consumer's next metadata refresh (2 s), not in 5 min
HEARTBEAT_WAIT = 90  # the connectors' first heartbeats after a fresh start (every 10 s once streaming)


@pytest.fixture(scope="module")
def fresh(_test_stack_environment):
    """A stack of its own from an empty state directory, as `make run` starts it (connectors registered at start)."""
    if os.environ.get("BIONICFLOW_TEST_REUSE") == "1":
        pytest.skip("starts its stack from nothing, which a reused stack must not be (see this module's docstring)")
    from bionicflow.kernel.config import Settings

    if STATE_DIR.exists():
        cli("down", "--force", timeout=300)
        shutil.rmtree(STATE_DIR)
    up = cli("up", env={"BIONICFLOW_AUTO_BOOTSTRAP": "1"}, timeout=1200)
    try:
        assert up.returncode == 0, f"bionicflow up failed:\n{up.stderr[-4000:]}"
        yield Settings()
    finally:
        down = cli("down", "--force", timeout=300)
        assert down.returncode == 0, down.stderr


def _token(settings) -> str:
    import requests

    answer = requests.post(f"http://{settings.host}:{settings.airflow_port}/auth/token", timeout=30, json={
        "username": settings.airflow_admin_user, "password": settings.airflow_admin_password.get_secret_value()})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["access_token"]


def _count(settings, db: str, table: str) -> int:
    with pg(settings, db) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
        return cur.fetchone()[0]


def test_before_data_connectors_run_and_topics_are_absent_after_generate_the_latest_messages_hold_the_rows(fresh):
    from bionicflow.kernel.airflow_api import AirflowClient

    base = f"http://{fresh.host}:{fresh.airflow_port}"
    token = _token(fresh)
    assert (_count(fresh, "crm_db", "users"), _count(fresh, "telemetry_db", "telemetry_events")) == (0, 0), \
        "a fresh stack's sources hold rows: the 'before data' half would prove nothing"

    connectors = connector_states(console_get(base, token, "/connectors").text)
    for name in ("crm-connector", "telemetry-connector"):
        assert connectors.get(name) == ("RUNNING", ["RUNNING"]), connectors
    before = topic_messages(console_get(base, token, "/topics", perPage=100).text)
    assert not set(TOPICS) & set(before), f"the tables' topics exist before any data: {before}"
    empty = console_get(base, token, "/topics/crm.public.users/messages", keySerde="String", valueSerde="String",
                        limit=100)
    assert empty.status_code == 404 and message_offsets(empty.text) == [], empty.text[-1000:]
    _status_healthy_without_topics(base, token)

    airflow = AirflowClient(base, fresh.airflow_admin_user, fresh.airflow_admin_password.get_secret_value())
    run_id = airflow.trigger("demo_data", {"users": USERS, "events": EVENTS, "updates": 0, "deletes": 0})["dag_run_id"]
    delay = _first_user_delay(fresh)
    print(f"first user: in debezium.users {delay:.1f} s after it was in crm_db")  # noqa: T201 (the measurement)
    assert delay < FIRST_CHANGE_SECONDS, f"the first user reached debezium.users {delay:.0f} s after its insert"
    run = airflow.wait("demo_data", run_id, timeout=SECONDS)
    assert run["state"] == "success", run

    deadline, after = time.monotonic() + SECONDS, {}
    while time.monotonic() < deadline:
        after = topic_messages(console_get(base, token, "/topics", perPage=100).text)
        if after.get(TOPICS[0], 0) >= USERS and after.get(TOPICS[1], 0) >= EVENTS:
            break
        time.sleep(2)
    assert after.get(TOPICS[0], 0) >= USERS and after.get(TOPICS[1], 0) >= EVENTS, \
        f"the topics did not fill within {SECONDS}s: {after}"

    with pg(fresh, "crm_db") as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM users ORDER BY id DESC LIMIT 1")
        newest = cur.fetchone()[0]
    latest = console_get(base, token, "/topics/crm.public.users/messages", keySerde="String", valueSerde="String",
                         limit=100)
    assert latest.status_code == 200 and len(message_offsets(latest.text)) == 100
    assert str(escape(newest)) in latest.text, f"the newest user {newest!r} is not among the latest messages"
    events = console_get(base, token, "/ui/clusters/debezium-cluster/all-topics/telemetry.public.telemetry_events"
                                      "/messages", keySerde="String", valueSerde="String", limit=100)
    assert events.status_code == 200 and len(message_offsets(events.text)) == 100  # the brief's own address


def _status_healthy_without_topics(base: str, token: str) -> None:
    """Before data: `bionicflow status` exits 0 and knows each table's lag from the heartbeats (no change yet);
    asking for it created no topic."""
    import json

    from bionicflow.cdc.heartbeat_lag import NO_CHANGE_YET

    deadline, lag = time.monotonic() + HEARTBEAT_WAIT, {}
    while time.monotonic() < deadline:
        status = cli("status", "--json", timeout=120)
        lag = json.loads(status.stdout)["lag"]
        if all(entry.get("lag_seconds") is not None for entry in lag.values()):
            break
        time.sleep(2)
    assert status.returncode == 0, f"status unhealthy before data:\n{status.stdout[-3000:]}{status.stderr[-2000:]}"
    for table in ("users", "telemetry_events"):
        assert lag[table].get("lag_seconds") is not None, f"{table}: lag unknown before data: {lag[table]}"
        assert lag[table]["lag_basis"].endswith(NO_CHANGE_YET) and "kafka_error" not in lag[table], lag[table]
    after = topic_messages(console_get(base, token, "/topics", perPage=100).text)
    assert not set(TOPICS) & set(after), f"reading the lag or a missing topic's page created it: {after}"


def _first_user_delay(settings) -> float:
    """Seconds from the first user visible in crm_db to the first user in debezium.users."""
    deadline = time.monotonic() + SECONDS
    while _count(settings, "crm_db", "users") == 0:
        assert time.monotonic() < deadline, f"demo_data wrote no user within {SECONDS}s"
        time.sleep(0.2)
    inserted, olap = time.monotonic(), olap_admin(settings)
    while olap.query("SELECT count() FROM debezium.users").result_rows[0][0] == 0:
        assert time.monotonic() - inserted < SECONDS, f"no user reached debezium.users within {SECONDS}s"
        time.sleep(0.2)
    return time.monotonic() - inserted
