"""PostgreSQL clusters of the embedded stack: initdb, configuration, first-start SQL."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from bionicflow.kernel.config import Settings, project_root
from bionicflow.kernel.errors import ConfigurationError, ServiceStartError
from bionicflow.stack.preflight import find_pg_bindir, find_psql
from bionicflow.stack.supervisor import Program

SUPERUSER = "postgres"
INITIALIZED_MARKER = "bionicflow-initialized"


@dataclass(frozen=True)
class Cluster:
    """One PostgreSQL server and the database it was made for."""

    name: str  # service name: crm_db, telemetry_db, airflow_db
    port_field: str
    database: str
    owner_field: str  # settings field of the owning role
    init_sql: Path | None  # project SQL run once as superuser (tables, users, publication)
    views_sql: Path | None = None  # project SQL run as superuser on every start (idempotent: views)

    def port(self, settings: Settings) -> int:
        return getattr(settings, self.port_field)

    def owner(self, settings: Settings) -> tuple[str, str]:
        user = getattr(settings, self.owner_field)
        password = getattr(settings, self.owner_field.replace("_user", "_password")).get_secret_value()
        return user, password


CLUSTERS = {
    "crm_db": Cluster("crm_db", "crm_db_port", "crm_db", "crm_user", project_root() / "crm_db" / "init.sql",
                      project_root() / "crm_db" / "views.sql"),
    "telemetry_db": Cluster(
        "telemetry_db", "telemetry_db_port", "telemetry_db", "telemetry_user",
        project_root() / "telemetry_db" / "init.sql", project_root() / "telemetry_db" / "views.sql",
    ),
    "airflow_db": Cluster("airflow_db", "airflow_db_port", "airflow", "airflow_db_user", None),
}


def _os_user(settings: Settings) -> str | None:
    """PostgreSQL refuses to run as root: then run it as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(settings.pg_os_user)
    except KeyError:
        raise ConfigurationError(
            f"running as root, PostgreSQL needs an unprivileged OS user but {settings.pg_os_user!r} does not exist: "
            f"create it (useradd --system {settings.pg_os_user}) or set BIONICFLOW_PG_OS_USER"
        ) from None
    return settings.pg_os_user


def _chown(path: Path, user: str | None) -> None:
    if user:
        shutil.chown(path, user, user)


class ClusterManager:
    def __init__(self, cluster: Cluster, settings: Settings):
        self.cluster = cluster
        self.settings = settings
        self.root = settings.state_dir / "pg" / cluster.name
        self.data = self.root / "data"
        self.run_dir = self.root / "run"

    def superuser_password(self) -> str:
        path = self.settings.secrets_dir / f"{self.cluster.name}_superuser_password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24))
            os.chmod(path, 0o600)
        return path.read_text().strip()

    def prepare(self) -> None:
        """initdb on first use; refresh the server configuration every time."""
        bindir = find_pg_bindir(self.settings)
        user = _os_user(self.settings)
        (self.settings.state_dir / "pg").mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        _chown(self.root, user)
        _chown(self.run_dir, user)
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bindir, user)
        self._write_hba(user)
        self._include_project_conf(user)

    def _initdb(self, bindir: Path, user: str | None) -> None:
        if self.data.exists():
            shutil.rmtree(self.data)  # a half-made cluster from an interrupted first start
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(self.superuser_password())
        os.chmod(pwfile, 0o600)
        _chown(pwfile, user)
        try:
            out = subprocess.run(
                [str(bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                user=user, capture_output=True, text=True, check=False, cwd=self.root,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if out.returncode != 0:
            raise ServiceStartError(f"initdb for {self.cluster.name} failed: {out.stderr.strip()[-500:]}")

    def _write_hba(self, user: str | None) -> None:
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            "# written by bionicflow: password logins over loopback and the private socket only\n"
            "local all all scram-sha-256\n"
            f"host all all {self.settings.host}/32 scram-sha-256\n"
        )
        _chown(hba, user)

    def program(self) -> Program:
        bindir = find_pg_bindir(self.settings)
        return Program(
            name=self.cluster.name,
            command=[
                str(bindir / "postgres"), "-D", str(self.data),
                "-c", f"port={self.cluster.port(self.settings)}",
                "-c", f"listen_addresses={self.settings.host}",
                "-c", f"unix_socket_directories={self.run_dir}",
                "-c", "logging_collector=off",
            ],
            directory=self.root,
            user=_os_user(self.settings),
            stopsignal="INT",  # PostgreSQL's "fast" shutdown: clean, without waiting on clients
            stopwaitsecs=60,
        )

    def _include_project_conf(self, user: str | None) -> None:
        """Make the cluster read the project's postgresql.conf (the brief's settings)."""
        project_conf = project_root() / self.cluster.name / "postgresql.conf"
        conf = self.data / "postgresql.conf"
        line = f"include_if_exists '{project_conf}'"
        text = conf.read_text()
        if line not in text:
            conf.write_text(text + f"\n# bionicflow: the project's settings, then the launcher's -c flags\n{line}\n")
        _chown(conf, user)

    # --- health and first-start SQL ---------------------------------------------
    def connect(self, database: str = "postgres", timeout: int = 3):
        return psycopg2.connect(
            host=self.settings.host, port=self.cluster.port(self.settings), dbname=database,
            user=SUPERUSER, password=self.superuser_password(), connect_timeout=timeout,
        )

    def healthy(self) -> bool:
        try:
            conn = self.connect(timeout=2)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    def initialize(self) -> None:
        """Create the owner role and database and run the project's init SQL once; its views SQL every start."""
        self._create_once()
        if self.cluster.views_sql:
            self._run_sql(self.cluster.views_sql)

    def _create_once(self) -> None:
        marker = self.root / INITIALIZED_MARKER
        if marker.exists():
            return
        owner, password = self.cluster.owner(self.settings)
        conn = self.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
                if not cur.fetchone():
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(owner)), (password,))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.cluster.database,))
                if not cur.fetchone():
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(self.cluster.database), sql.Identifier(owner)
                        )
                    )
        finally:
            conn.close()
        if self.cluster.init_sql:
            self._run_sql(self.cluster.init_sql)
        marker.write_text("ok\n")

    def _run_sql(self, path: Path) -> None:
        env = {
            **os.environ,
            "PGPASSWORD": self.superuser_password(),
            "DEBEZIUM_USER": self.settings.debezium_user,
            "DEBEZIUM_PASSWORD": self.settings.debezium_password.get_secret_value(),
            "ETL_READER_USER": self.settings.etl_reader_user,
            "ETL_READER_PASSWORD": self.settings.etl_reader_password.get_secret_value(),
            "CRM_USER": self.settings.crm_user,
            "TELEMETRY_USER": self.settings.telemetry_user,
        }
        out = subprocess.run(
            [str(find_psql(find_pg_bindir(self.settings))), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "--single-transaction",  # all or nothing, so a failed first start can simply retry
             "-h", self.settings.host, "-p", str(self.cluster.port(self.settings)),
             "-U", SUPERUSER, "-d", self.cluster.database, "-f", str(path)],
            env=env, capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise ServiceStartError(f"{path} failed on {self.cluster.name}: {out.stderr.strip()[-800:]}")
