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


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `bionicflow` command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bionicflow.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


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
    yield settings
    if not reuse:
        result = cli("down", timeout=300)
        assert result.returncode == 0, result.stderr
