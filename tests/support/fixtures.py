"""Session fixtures of the embedded stack, shared by tests/integration and tests/faults (tests/conftest.py
registers them once as a plugin; each suite's conftest asks for the stack's environment for all its tests).

The stack starts once per test session; BIONICFLOW_TEST_REUSE=1 reuses a running test stack.
Every test of those suites is marked `integration`: `pytest -m "not integration"` runs the rest.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.stack import STATE_DIR, cli, run_ok, seed_snapshot_rows, stack_environment


@pytest.fixture(scope="session")
def _test_stack_environment():
    """The settings, the CLI and the stack see the test stack's ports and state directory."""
    from bionicflow.kernel.config import get_settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in stack_environment().items():
            patch.setenv(name, value)
        get_settings.cache_clear()  # a unit test may have read the defaults
        yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(_test_stack_environment):
    from bionicflow.kernel.config import Settings

    return Settings()


@pytest.fixture(scope="session")
def stack(settings):
    """A running, healthy embedded stack; stopped at the end unless it was reused."""
    reuse = os.environ.get("BIONICFLOW_TEST_REUSE") == "1"
    if not reuse and STATE_DIR.exists():
        cli("down", timeout=180)
        shutil.rmtree(STATE_DIR)
    result = cli("up", timeout=900)
    if result.returncode != 0 and not reuse:
        cli("down", "--force", timeout=300)  # a half-started stack must not outlive the failed run
    assert result.returncode == 0, f"bionicflow up failed:\n{result.stderr[-4000:]}"
    if not reuse:
        seed_snapshot_rows(settings)
    yield settings
    if not reuse:
        result = cli("down", timeout=300)
        assert result.returncode == 0, result.stderr
        from bionicflow.stack import proctree

        left = proctree.stack_processes(STATE_DIR)
        assert not left, "processes of the test stack outlived `down`:\n" + "\n".join(p.describe() for p in left)


@pytest.fixture(scope="session")
def airflow(stack):
    """An authenticated client of the stack's Airflow REST API."""
    from bionicflow.kernel.airflow_api import AirflowClient

    return AirflowClient(f"http://{stack.host}:{stack.airflow_port}", stack.airflow_admin_user,
                         stack.airflow_admin_password.get_secret_value())


@pytest.fixture(scope="session")
def report_data(stack, airflow, bootstrapped):
    """Demo data carried by both roads, plus a CRM user without events (returns that user's uuid)."""
    import uuid

    import psycopg2

    from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
    from tests.support.rows import wait_converged

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


@pytest.fixture(scope="session")
def cdc(stack):
    """The CDC bootstrap as `bionicflow cdc bootstrap` runs it (idempotent; the stack fixture seeded the snapshot
    rows before it); returns a Kafka Connect client."""
    from bionicflow.cdc.connectors import KafkaConnectClient
    from bionicflow.platform.bootstrap import from_settings, run_all

    result = run_all(from_settings(stack, initial="debezium"))
    assert set(result.connectors) >= {"crm-connector", "telemetry-connector"}
    return KafkaConnectClient(f"http://{stack.host}:{stack.kafka_connect_port}")


@pytest.fixture(scope="session")
def bootstrapped(airflow):
    """cdc_bootstrap run once through Airflow, as an operator triggers it (idempotent)."""
    return run_ok(airflow, "cdc_bootstrap")


STACK_FIXTURES = frozenset({"stack", "fresh"})  # the tests on a suite's own stack, never beside it


def mark_integration(items) -> None:
    """Mark the suite's tests `integration`, and those that do not use the shared stack `own_servers`.

    `make test` runs the `own_servers` tests (private OLAP servers, a scratch PostgreSQL) in a
    second pytest process while the first runs the shared stack's tests one at a time.
    """
    for item in items:
        item.add_marker(pytest.mark.integration)
        # `fresh`: a test that starts its suite's stack from nothing (tests/faults/test_console_fresh_stack.py)
        if not STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.own_servers)
