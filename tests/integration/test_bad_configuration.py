"""Misconfiguration: the CLI exits non-zero and says what to change, before starting anything."""

import shutil

import pytest

from tests.support.stack import STATE_DIR, cli

# Ports nothing in the test session listens on, so only the broken setting fails.
FREE_PORTS = {
    "BIONICFLOW_CRM_DB_PORT": "25444", "BIONICFLOW_TELEMETRY_DB_PORT": "25445",
    "BIONICFLOW_AIRFLOW_DB_PORT": "25446", "BIONICFLOW_KAFKA_PORT": "29092",
    "BIONICFLOW_KAFKA_CONTROLLER_PORT": "29093", "BIONICFLOW_KAFKA_CONNECT_PORT": "28083",
    "BIONICFLOW_OLAP_PORT": "28123", "BIONICFLOW_AIRFLOW_PORT": "28080", "BIONICFLOW_REPORTS_API_PORT": "28000",
}


@pytest.fixture
def other_state(tmp_path):
    # Beside the test stack's state (pytest's own tmp folders are private to root, which the
    # PostgreSQL user could not reach: a different misconfiguration than the one under test).
    state = STATE_DIR.parent / ".bionicflow-test-other" / tmp_path.name
    yield {"BIONICFLOW_STATE_DIR": str(state)}
    shutil.rmtree(state.parent, ignore_errors=True)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_taken_port_names_port_and_variable(stack, other_state):
    # the running test stack holds its OLAP port; a second stack asking for it must refuse
    env = {**FREE_PORTS, **other_state, "BIONICFLOW_OLAP_PORT": str(stack.olap_port)}
    result = cli("up", env=env, timeout=120)
    assert result.returncode == 2
    assert f"port {stack.olap_port}" in result.stderr and "BIONICFLOW_OLAP_PORT" in result.stderr
    assert len(_error_lines(result.stderr)) == 1, result.stderr


def test_missing_jdk_is_reported_with_the_fix(other_state, tmp_path):
    result = cli("up", env={**FREE_PORTS, **other_state, "BIONICFLOW_JAVA_HOME": str(tmp_path / "no-jdk")}, timeout=120)
    assert result.returncode == 2
    assert "java not found" in result.stderr and "BIONICFLOW_JAVA_HOME" in result.stderr
    assert len(_error_lines(result.stderr)) == 1, result.stderr


def test_missing_postgres_binaries_are_reported_with_the_fix(other_state, tmp_path):
    result = cli("up", env={**FREE_PORTS, **other_state, "BIONICFLOW_PG_BINDIR": str(tmp_path)}, timeout=120)
    assert result.returncode == 2
    assert "apt-get install postgresql" in result.stderr and "BIONICFLOW_PG_BINDIR" in result.stderr
    assert len(_error_lines(result.stderr)) == 1, result.stderr


def test_unknown_initial_load_is_refused_before_connecting(other_state):
    # FREE_PORTS: nothing listens there, so reaching for a service would fail differently
    result = cli("cdc", "bootstrap", "--initial-load", "fast", env={**FREE_PORTS, **other_state}, timeout=60)
    assert result.returncode == 2
    assert "unknown initial load 'fast'" in result.stderr and "'olap'" in result.stderr
    assert len(_error_lines(result.stderr)) == 1, result.stderr
