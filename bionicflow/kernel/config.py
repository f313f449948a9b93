"""One settings object for the whole platform, read from the environment.

Every field can be overridden by an environment variable named
``BIONICFLOW_<FIELD>`` (for example ``BIONICFLOW_CRM_DB_PORT=6444``), or by a
file of that name (``BIONICFLOW_CRM_PASSWORD``) in the folder ``BIONICFLOW_SECRETS_DIR``
(for passwords: Docker/Kubernetes secrets mount this way).

The password defaults are the brief's DEMO credentials for the embedded stack on
127.0.0.1 only; set real ones through the environment or secret files anywhere else.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB

ENV_PREFIX = "BIONICFLOW_"


def project_root() -> Path:
    """The checkout this package runs from (holds jvm/, debezium/, crm_db/ ...)."""
    return Path(__file__).resolve().parents[2]


def mounted_secrets_dir() -> str | None:
    """BIONICFLOW_SECRETS_DIR when it is a folder: files named like the variables they stand for."""
    path = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR")
    return path if path and Path(path).is_dir() else None


class Settings(BaseSettings):
    """Settings of the embedded stack and of every client of it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", secrets_dir=mounted_secrets_dir()
    )

    # --- where things live -------------------------------------------------
    state_dir: Path = Field(
        default_factory=lambda: project_root() / ".bionicflow",
        description="All data, logs, configs and pid files of the embedded stack.",
    )
    jars_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "bionicflow" / "jvm",
        description="Cache of the Maven-fetched JVM jars (Kafka, Connect, Debezium), shared by checkouts.",
    )
    host: str = Field("127.0.0.1", description="Address every embedded service binds to.")
    olap_host: str | None = Field(None, description="Where clients reach the OLAP server (default: host); "
                                                    "compose: the service name.")
    airflow_host: str | None = Field(None, description="Where clients reach Airflow's API (default: host).")

    # --- ports ----------------------------------------------------------------
    crm_db_port: int = Field(5444, description="CRM PostgreSQL (crm_db).")
    telemetry_db_port: int = Field(5445, description="Telemetry PostgreSQL (telemetry_db).")
    airflow_db_port: int = Field(5446, description="PostgreSQL holding Airflow's metadata.")
    kafka_port: int = Field(9092, description="Kafka broker listener.")
    kafka_controller_port: int = Field(9093, description="Kafka KRaft controller listener.")
    kafka_connect_port: int = Field(8083, description="Kafka Connect REST API.")
    olap_port: int = Field(8123, description="OLAP server (ClickHouse HTTP protocol).")
    airflow_port: int = Field(8080, description="Airflow api-server (UI and REST API).")
    reports_api_port: int = Field(8000, description="reports_api (FastAPI).")

    # --- programs -------------------------------------------------------------
    pg_bindir: Path | None = Field(
        None, description="PostgreSQL server binaries (initdb, postgres); found via pg_config when unset."
    )
    pg_os_user: str = Field(
        "postgres", description="Unprivileged OS user that runs PostgreSQL when the launcher runs as root."
    )
    olap_os_user: str = Field(
        "bionicflow-olap", description="Unprivileged OS user the OLAP server runs as when started as root "
                                       "(owns the OLAP data directory only; docs/olap-server.md 'Threat model').")
    olap_sandbox: Literal["auto", "required", "off"] = Field(
        "auto", description="OS confinement of the OLAP server: auto applies every layer this machine has "
                            "(its own user, Landlock files and network), required refuses to start without all.")
    olap_head_timeout_seconds: float = Field(
        10, description="A request head (line and headers) must arrive within this, or 408 and the connection closes.")
    olap_body_idle_seconds: float = Field(
        30, description="A request body that stops arriving for this long is abandoned with 408 "
                        "(http_receive_timeout).")
    olap_connect_ports: list[int] = Field(
        [], description="TCP ports the OLAP engine may connect to besides the two PostgreSQL sources "
                        "(postgresql() of other sources).")
    java_home: Path | None = Field(None, description="JDK 17+; JAVA_HOME or `java` on PATH when unset.")
    mvn: str = Field("mvn", description="Maven executable used to fetch the JVM jars.")
    kafka_heap: str = Field("512m", description="-Xmx of the Kafka broker.")
    connect_heap: str = Field("768m", description="-Xmx of the Kafka Connect worker.")

    auto_bootstrap: bool = Field(
        True, description="On a fresh stack, `up` unpauses the DAGs and runs cdc_bootstrap once."
    )

    # --- OLAP server: what one read-only request may use (docs/olap-server.md) ---------
    olap_reader_max_execution_time: int = Field(120, description="Seconds a read-only query may run.")
    olap_reader_max_memory_usage: int = Field(4 * 1024**3, description="Bytes of memory one read-only query may use.")
    olap_reader_max_result_rows: int = Field(10_000_000, description="Rows one read-only result may hold.")
    olap_reader_max_result_bytes: int = Field(1024**3, description="Bytes one read-only result may hold.")

    # --- CDC consumer (Kafka -> ClickHouse) -------------------------------------
    cdc_initial_load: Literal["debezium", "olap"] = Field(
        "debezium", description="How a new connector's existing rows reach `debezium`: Debezium's snapshot, "
        "or ClickHouse copying the tables while the connector streams (docs/cdc.md).")
    etl_schedule: str = Field(
        "@hourly", description="When `etl_default` loads `default` (a cron expression or preset, read when the DAG "
        "is parsed): its age is at most this interval plus a load (docs/benchmarks.md, batch freshness).")
    task_retry_delay_seconds: int | None = Field(
        None, ge=1, description="How long Airflow waits before retrying a failed task of bionicflow's DAGs (read "
        "when the DAGs are parsed); unset: each DAG's own delay, 10–30 s.")
    cdc_schema_mode: Literal["embedded", "kafka"] = Field(
        "embedded", description="How the `debezium` schema is fed: `embedded` (bionicflow's consumer into Null-engine "
        "tables) or `kafka` (ClickHouse's Kafka engine reading `kafka_broker_list`, as in docker-compose.yaml).")
    kafka_broker_list: str = Field(
        "kafka:29092", description="The brokers ClickHouse's Kafka engine reads, as the OLAP server resolves them "
        "(only with `cdc_schema_mode=kafka`).")
    connect_secrets: Literal["file", "env"] = Field(
        "file", description="How Kafka Connect reads an added source's password: `file` (a properties file in the "
        "stack's secrets folder, which the embedded worker reads) or `env` (its variable "
        "BIONICFLOW_SOURCE_<NAME>_PASSWORD in Connect's environment: compose passes .env to its container).")
    cdc_batch_size: int = Field(10_000, description="Most messages the consumer inserts in one batch.")
    cdc_max_wait_ms: int = Field(500, description="Longest the consumer waits to fill a batch.")
    wal_retained_limit_bytes: int = Field(
        1024**3, ge=1, description="WAL a source's replication slot may hold back before `bionicflow status` warns "
        "and `cdc_reconcile` fails: a stalled slot fills the source's disk (docs/cdc.md, 'Retained WAL').")
    cdc_consumer_instance: str = Field(
        "1", description="Static group membership: the consumer joins as `<group>-<this>` (group.instance.id), "
                         "so a restarted consumer takes its partitions back at once; unique per consumer process.")

    # --- reports ------------------------------------------------------------------
    reports_oidc_issuer: str | None = Field(
        None, description="OIDC issuer whose JWTs reports_api accepts (JWKS via discovery). "
                          "Unset: reports_api is its own development issuer (embedded stack only).")
    reports_oidc_audience: str = Field("bionicflow-reports", description="Required `aud` of report tokens.")
    reports_roles_claim: str = Field("roles", description="Token claim listing the roles (customer, analyst).")
    reports_uuid_claim: str = Field("user_uuid", description="Token claim naming the customer's own user_uuid.")
    reports_token_ttl_seconds: int = Field(3600, description="Lifetime of development-issuer tokens.")
    reports_query_timeout_seconds: int = Field(10, description="Longest a report query may run (then 504).")
    reports_max_period_days: int = Field(366, description="Longest period one report may cover.")
    reports_snapshot_settle_seconds: float = Field(
        10, description="A user's report snapshot is rebuilt once the user's last change is this old "
                        "(covers a change committing after its mark; docs/reports.md 'Report snapshots').")
    reports_snapshot_max_events: int = Field(
        2000, description="Users with more events than this have no snapshot: their reports read the tables.")
    reports_demo_actions: bool = Field(
        True, description="The web page's 'Generate users and events' button (triggers demo_data).")
    reports_public_url: str | None = Field(
        None, description="The address browsers open reports_api at when a proxy in front changes it "
                          "(https://reports.example.org): form posts from pages there are not cross-site. "
                          "Unset: the address each request names (its Host).")

    # --- credentials (DEMO defaults, embedded stack only) ----------------------
    crm_user: str = "crm_user"
    crm_password: SecretStr = SecretStr("crm_password")
    telemetry_user: str = "telemetry_user"
    telemetry_password: SecretStr = SecretStr("telemetry_password")
    debezium_user: str = "debezium_user"
    debezium_password: SecretStr = SecretStr("debezium_password")
    etl_reader_user: str = Field("etl_reader",
                                 description="Read-only PostgreSQL role of the batch road and reconciliation.")
    etl_reader_password: SecretStr = SecretStr("etl_reader_password")
    clickhouse_user: str = Field("default", description="OLAP administrative user (DDL, inserts).")
    clickhouse_password: SecretStr = SecretStr("clickhouse_password")
    clickhouse_reader_user: str = Field("reports_reader", description="Read-only OLAP user for reports.")
    clickhouse_reader_password: SecretStr = SecretStr("reports_reader_password")
    clickhouse_reader_databases: list[str] = Field(
        [DEFAULT_DB, CDC_DB], description="The only databases the read-only OLAP user may read (never `ops`).")
    airflow_admin_user: str = "admin"
    airflow_admin_password: SecretStr = SecretStr("admin")
    airflow_db_user: str = "airflow"
    airflow_db_password: SecretStr = SecretStr("airflow_password")

    # --- derived --------------------------------------------------------------
    @property
    def olap_address(self) -> str:
        return self.olap_host or self.host

    @property
    def airflow_url(self) -> str:
        return f"http://{self.airflow_host or self.host}:{self.airflow_port}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    def port_env_name(self, field: str) -> str:
        """The environment variable that overrides a port field."""
        return f"{ENV_PREFIX}{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
