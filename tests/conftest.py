"""The embedded stack for integration tests: started once per test session.

It runs on its own ports (a developer's stack on the default ports can stay up) and
its own state directory, wiped at the start so every run begins from empty.
Set BIONICFLOW_TEST_REUSE=1 to reuse a test stack that is already running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bionicflow.config import project_root

TEST_PORTS = {
    "CRM_DB_PORT": 15444, "TELEMETRY_DB_PORT": 15445, "AIRFLOW_DB_PORT": 15446,
    "KAFKA_PORT": 19092, "KAFKA_CONTROLLER_PORT": 19093, "KAFKA_CONNECT_PORT": 18083,
    "OLAP_PORT": 18123, "AIRFLOW_PORT": 18080, "REPORTS_API_PORT": 18000,
}
STATE_DIR = Path(os.environ.get("BIONICFLOW_TEST_STATE_DIR", project_root() / ".bionicflow-test"))

# Set before any Settings object exists, so the tests and the stack agree.
for _name, _port in TEST_PORTS.items():
    os.environ.setdefault(f"BIONICFLOW_{_name}", str(_port))
os.environ["BIONICFLOW_STATE_DIR"] = str(STATE_DIR)
# Tests register the connectors themselves, after seeding rows the snapshot must carry.
os.environ["BIONICFLOW_AUTO_BOOTSTRAP"] = "0"
SNAPSHOT_MARK = "snapshot-row"


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `bionicflow` command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bionicflow.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def seed_snapshot_rows(settings) -> None:
    """Rows that exist before any test registers the connectors: the initial snapshot carries them."""
    import psycopg2

    for db, port, user, password, sql in (
        ("crm_db", settings.crm_db_port, settings.crm_user, settings.crm_password,
         "INSERT INTO users (name, email, age) SELECT %(mark)s || g, 'snap' || g || '@example.org', g "
         "FROM generate_series(1, 200) g"),
        ("telemetry_db", settings.telemetry_db_port, settings.telemetry_user, settings.telemetry_password,
         "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
         " signal_amplitude, created_ts) SELECT gen_random_uuid(), 'hand', %(mark)s, g, g * 2, g / 7.0,"
         " now() - g * interval '1 minute' FROM generate_series(1, 300) g"),
    ):
        conn = psycopg2.connect(host=settings.host, port=port, dbname=db, user=user,
                                password=password.get_secret_value())
        with conn, conn.cursor() as cur:
            cur.execute(sql, {"mark": SNAPSHOT_MARK})
        conn.close()


@pytest.fixture(scope="session")
def settings():
    from bionicflow.config import Settings

    return Settings()


@pytest.fixture(scope="session")
def stack(settings):
    """A running, healthy embedded stack; stopped at the end unless it was reused."""
    reuse = os.environ.get("BIONICFLOW_TEST_REUSE") == "1"
    if not reuse and STATE_DIR.exists():
        cli("down", timeout=180)
        shutil.rmtree(STATE_DIR)
    result = cli("up", timeout=900)
    assert result.returncode == 0, f"bionicflow up failed:\n{result.stderr[-4000:]}"
    if not reuse:
        seed_snapshot_rows(settings)
    yield settings
    if not reuse:
        result = cli("down", timeout=300)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def airflow(stack):
    """An authenticated client of the stack's Airflow REST API."""
    from bionicflow.airflow_api import AirflowClient

    return AirflowClient(f"http://{stack.host}:{stack.airflow_port}", stack.airflow_admin_user,
                         stack.airflow_admin_password.get_secret_value())


def run_ok(airflow, dag_id: str, conf: dict | None = None) -> dict:
    """Trigger a DAG, wait, and fail with the task states unless it succeeded."""
    run = airflow.run(dag_id, conf)
    assert run["state"] == "success", airflow.task_states(dag_id, run["dag_run_id"])
    return run


@pytest.fixture(scope="session")
def report_data(stack, airflow):
    """Demo data carried by both roads, plus a CRM user without events (returns that user's uuid)."""
    import uuid

    import psycopg2

    from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
    from tests.integration.test_cdc import wait_converged

    run_ok(airflow, "cdc_bootstrap")
    run_ok(airflow, "demo_data", {"users": 300, "events": 6000, "updates": 10, "deletes": 30})
    lonely = str(uuid.uuid4())  # added after the events, so none of them is theirs
    conn = psycopg2.connect(host=stack.host, port=stack.crm_db_port, dbname="crm_db", user=stack.crm_user,
                            password=stack.crm_password.get_secret_value())
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (user_uuid, name, email) VALUES (%s, 'No Events', 'none@example.org')", (lonely,))
    conn.close()
    for table in (USERS, TELEMETRY_EVENTS):
        wait_converged(stack, table)
    run_ok(airflow, "etl_default", {"mode": "full"})
    return lonely
