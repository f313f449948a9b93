"""The embedded test stack: its ports and state directory, the CLI as a user runs it, seed rows.

It runs on its own ports (a developer's stack on the default ports can stay up) and its
own state directory, wiped at the start of a run so every run begins from empty. Helpers
only: the fixtures are in tests/support/fixtures.py, used by the integration and fault suites.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from bionicflow.kernel.config import project_root

# `make test` runs the fault suite on a second test stack (BIONICFLOW_TEST_STACK=2) while the
# integration suite runs on the first: the second has its own state directory and every port
# 1000 higher, so neither suite's kills, outages and restarts reach the other's stack.
STACK_NUMBER = int(os.environ.get("BIONICFLOW_TEST_STACK", "1"))
_SHIFT = 1000 * (STACK_NUMBER - 1)
TEST_PORTS = {name: port + _SHIFT for name, port in {
    "CRM_DB_PORT": 15444, "TELEMETRY_DB_PORT": 15445, "AIRFLOW_DB_PORT": 15446,
    "KAFKA_PORT": 19092, "KAFKA_CONTROLLER_PORT": 19093, "KAFKA_CONNECT_PORT": 18083,
    "OLAP_PORT": 18123, "AIRFLOW_PORT": 18080, "REPORTS_API_PORT": 18000,
}.items()}
_STATE_NAME = ".bionicflow-test" if STACK_NUMBER == 1 else f".bionicflow-test-{STACK_NUMBER}"
STATE_DIR = Path(os.environ.get("BIONICFLOW_TEST_STATE_DIR", project_root() / _STATE_NAME))

SNAPSHOT_MARK = "snapshot-row"


def stack_environment() -> dict[str, str]:
    """The variables that point the settings, the CLI and the stack at the test stack."""
    env = {f"BIONICFLOW_{name}": os.environ.get(f"BIONICFLOW_{name}", str(port)) for name, port in TEST_PORTS.items()}
    env["BIONICFLOW_STATE_DIR"] = str(STATE_DIR)
    # Tests register the connectors themselves, after seeding rows the snapshot must carry.
    env["BIONICFLOW_AUTO_BOOTSTRAP"] = "0"
    # A task a test makes fail (a source stopped, a service killed) is retried after 5 s, not 10–30 s.
    env["BIONICFLOW_TASK_RETRY_DELAY_SECONDS"] = "5"
    return env


def status_document(cdc: bool = True, **overrides) -> dict:
    """`bionicflow status --json`'s document, built in-process (the command's own start costs ~1.7 s a call).

    ``overrides``: settings fields as the command would read them from the environment. Tests of
    the command itself (its exit code, its text) run it with `cli`.
    """
    from bionicflow.kernel.config import Settings
    from bionicflow.stack import status

    return status.status(Settings(**overrides), cdc=cdc)


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `bionicflow` command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bionicflow.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **stack_environment(), **(env or {})},
    )


def forget_failed_logins() -> None:
    """Restart reports_api, whose login throttle is in-process: earlier tests' failed log-ins from 127.0.0.1 (20 lock
    the address for 15 min, bionicflow/reports/throttle.py) must not turn a test's wrong password into a lock-out."""
    for step in ("stop", "start"):
        done = cli(step, "reports_api", timeout=180)
        assert done.returncode == 0, f"bionicflow {step} reports_api: {done.stderr[-2000:]}"


@functools.lru_cache(maxsize=None)  # one CLI run per account, not one per request
def token(user: str) -> str:
    """A reports_api bearer token for one of the demo accounts (`bionicflow token --user …`)."""
    result = cli("token", "--user", user)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


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


def run_ok(airflow, dag_id: str, conf: dict | None = None) -> dict:
    """Trigger a DAG, wait, and fail with the task states unless it succeeded."""
    run = airflow.run(dag_id, conf)
    assert run["state"] == "success", airflow.task_states(dag_id, run["dag_run_id"])
    return run
