"""Airflow 3 of the embedded stack: environment, metadata migration, components."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from bionicflow.kernel.tables import DEFAULT_DB
from bionicflow.kernel.config import Settings, project_root
from bionicflow.kernel.errors import ServiceStartError
from bionicflow.stack.supervisor import Program

COMPONENTS = {
    "airflow_api_server": "api-server",
    "airflow_scheduler": "scheduler",
    "airflow_dag_processor": "dag-processor",
    "airflow_triggerer": "triggerer",
}


def airflow_home(settings: Settings) -> Path:
    return settings.state_dir / "airflow"


def _persistent_secret(settings: Settings, name: str, make=lambda: secrets.token_urlsafe(32)) -> str:
    path = settings.secrets_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        os.chmod(path, 0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def connection_env(settings: Settings) -> dict[str, str]:
    """Airflow connections as AIRFLOW_CONN_* values.

    crm_db / telemetry_db: the databases' owners (demo data, backfill signals);
    crm_db_reader / telemetry_db_reader: the read-only ETL role (batch loads, reconciliation).
    """
    h = settings.host

    def pg(user: str, password: str, port: int, db: str) -> str:
        return f"postgres://{quote(user, safe='')}:{quote(password, safe='')}@{h}:{port}/{db}"

    return {
        "AIRFLOW_CONN_CRM_DB": pg(settings.crm_user, settings.crm_password.get_secret_value(),
                                  settings.crm_db_port, "crm_db"),
        "AIRFLOW_CONN_TELEMETRY_DB": pg(
            settings.telemetry_user, settings.telemetry_password.get_secret_value(),
            settings.telemetry_db_port, "telemetry_db",
        ),
        "AIRFLOW_CONN_CRM_DB_READER": pg(settings.etl_reader_user, settings.etl_reader_password.get_secret_value(),
                                         settings.crm_db_port, "crm_db"),
        "AIRFLOW_CONN_TELEMETRY_DB_READER": pg(settings.etl_reader_user,
                                               settings.etl_reader_password.get_secret_value(),
                                               settings.telemetry_db_port, "telemetry_db"),
        "AIRFLOW_CONN_OLAP_DB": json.dumps({
            "conn_type": "clickhouse", "host": h, "port": settings.olap_port,
            "login": settings.clickhouse_user, "password": settings.clickhouse_password.get_secret_value(),
            "schema": DEFAULT_DB,
            "extra": {"secure": False, "cdc_schema_mode": settings.cdc_schema_mode,
                      "kafka_broker_list": settings.kafka_broker_list},
        }),
        "AIRFLOW_CONN_KAFKA_CONNECT": json.dumps({
            "conn_type": "kafka_connect", "host": h, "port": settings.kafka_connect_port, "schema": "http",
            # the Kafka cluster this Connect worker writes to (the bootstrap checks its topics there)
            "extra": {"kafka_bootstrap": f"{h}:{settings.kafka_port}"},
        }),
    }


def airflow_env(settings: Settings) -> dict[str, str]:
    """Every AIRFLOW_* variable the components share."""
    home = airflow_home(settings)
    base_url = f"http://{settings.host}:{settings.airflow_port}"
    db_password = quote(settings.airflow_db_password.get_secret_value(), safe="")
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "bionicflow_airflow" / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project_root() / "bionicflow_airflow" / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the UI's Test button on a connection (off by default since Airflow 2.7): admins only here
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__FERNET_KEY": _persistent_secret(settings, "airflow_fernet_key", _fernet_key),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://{settings.airflow_db_user}:{db_password}"
            f"@{settings.host}:{settings.airflow_db_port}/airflow"
        ),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__HOST": settings.host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": _persistent_secret(settings, "airflow_api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _persistent_secret(settings, "airflow_jwt_secret"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir / "airflow"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # a scheduler that died (its tree dies with it) leaves running task instances: the new one
        # resets them after 30 s instead of Airflow's default 300 s
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": settings.host,
        # Airflow's internal servers (task and trigger logs, scheduler health) follow the api-server's
        # port, so two stacks on one machine (a developer's and the tests') bind different ones; with
        # the default 8080 they are Airflow's own defaults 8793, 8794 and 8974.
        **{name: str(settings.airflow_port + offset) for name, offset in INTERNAL_PORT_OFFSETS.items()},
        "PYTHONPATH": str(project_root()),
        **connection_env(settings),
    }


INTERNAL_PORT_OFFSETS = {
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": 8793 - 8080,
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": 8794 - 8080,
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": 8974 - 8080,
}


def prepare(settings: Settings, env: dict[str, str]) -> None:
    """Write the admin password file and migrate the metadata database when needed."""
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({settings.airflow_admin_user: settings.airflow_admin_password.get_secret_value()}))
    os.chmod(passwords, 0o600)
    marker = home / "migrated-version"
    version = _airflow_version()
    if marker.exists() and marker.read_text().strip() == version:
        return
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **env}, capture_output=True, text=True, check=False, cwd=home,
    )
    (settings.logs_dir / "airflow_db_migrate.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise ServiceStartError(
            f"`airflow db migrate` failed; see {settings.logs_dir / 'airflow_db_migrate.log'}: "
            + (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        )
    marker.write_text(version)


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow-core")


def programs(settings: Settings) -> list[Program]:
    home = airflow_home(settings)
    result = []
    for name, command in COMPONENTS.items():
        args = [sys.executable, "-m", "airflow", command]
        if command == "api-server":
            args += ["--host", settings.host, "--port", str(settings.airflow_port), "--workers", "1"]
        if command in ("scheduler", "triggerer"):
            # Airflow's log server binds every interface; task logs are local files the api-server reads.
            args.append("--skip-serve-logs")
        result.append(Program(name=name, command=args, directory=home, stopwaitsecs=45, startsecs=3))
    return result
