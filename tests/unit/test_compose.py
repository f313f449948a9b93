"""docker-compose.yaml, checked statically (no container engine here) and against the embedded stack."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from bionicflow.cdc import ddl as cdc_schema
from bionicflow.kernel.config import Settings, project_root
from bionicflow.stack.airflow import connection_env

ROOT = project_root()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
# Only compose needs it: the embedded launcher generates each cluster's superuser password in the state dir.
COMPOSE_ONLY = {"BIONICFLOW_PG_SUPERUSER_PASSWORD"}


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_docker_compose_accepts_the_file():
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose not found: apt-get install docker-compose (.ci/run installs it)"
    result = subprocess.run([exe, "--env-file", ".env.example", "config", "--quiet"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _dockerfile_bases(path: Path) -> list[str]:
    return re.findall(r"^FROM\s+(\S+)", path.read_text(), re.MULTILINE)


def test_every_image_is_pinned_and_matches_the_embedded_versions():
    images = {name: svc["image"] for name, svc in SERVICES.items() if "build" not in svc}
    for svc in SERVICES.values():
        if "build" in svc:
            images.update({f"FROM {b}": b for b in _dockerfile_bases(ROOT / svc["build"]["context"] / svc["build"]["dockerfile"])})
    for name, image in images.items():
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: image {image} is not pinned"
    pom = (ROOT / "jvm" / "pom.xml").read_text()
    kafka, debezium = (re.search(rf"<{k}>(.+?)</{k}>", pom).group(1) for k in ("kafka.version", "debezium.version"))
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka}"
    assert SERVICES["kafka-connect"]["image"] == f"quay.io/debezium/connect:{debezium}"
    airflow = re.search(r'"apache-airflow==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert _dockerfile_bases(ROOT / "docker" / "airflow.Dockerfile") == [f"apache/airflow:{airflow}-python3.11"]
    import chdb

    engine = chdb.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
    assert SERVICES["olap_db"]["image"] == f"clickhouse/clickhouse-server:{engine}"


def test_every_mounted_or_built_path_exists():
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
        if "build" in svc:
            assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name


def test_every_service_has_a_health_check_and_waits_for_healthy_dependencies():
    for name, svc in SERVICES.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for dep, cond in (svc.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dep == "airflow-init" else "service_healthy"
            assert cond["condition"] == wanted, f"{name} -> {dep}: {cond}"


def test_variables_are_the_embedded_settings():
    text = (ROOT / "docker-compose.yaml").read_text()
    used = set(re.findall(r"\$\{(BIONICFLOW_[A-Z0-9_]+)", text)) | {
        k for svc in SERVICES for k in env_of(svc) if k.startswith("BIONICFLOW_")}
    fields = {f"BIONICFLOW_{f.upper()}" for f in Settings.model_fields}
    assert used - COMPOSE_ONLY <= fields, f"not embedded settings: {sorted(used - COMPOSE_ONLY - fields)}"
    example = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    required = set(re.findall(r"\$\{([A-Z0-9_]+)(?::-|:\?)", text))
    assert required <= example, f"missing from .env.example: {sorted(required - example)}"


def test_airflow_connections_are_the_embedded_ids_and_use_the_kafka_engine():
    airflow_env = SERVICES["airflow-apiserver"]["environment"]
    compose_ids = {k for k in airflow_env if k.startswith("AIRFLOW_CONN_")}
    assert compose_ids == set(connection_env(Settings()))
    olap = json.loads(re.sub(r"\$\{[^}]+\}", "x", airflow_env["AIRFLOW_CONN_OLAP_DB"]))
    assert olap["extra"] == {"cdc_schema_mode": "kafka", "kafka_broker_list": cdc_schema.DEFAULT_BROKER_LIST}
    advertised = env_of("kafka")["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//{cdc_schema.DEFAULT_BROKER_LIST}" in advertised


def test_connector_secrets_and_init_sql_variables_are_provided():
    connect_env = env_of("kafka-connect")
    for path in (ROOT / "debezium").glob("*.json"):
        for name in re.findall(r"\$\{env:([A-Z0-9_]+)\}", path.read_text()):
            assert name in connect_env, f"{path.name} needs {name} in kafka-connect's environment"
    for service in ("crm_db", "telemetry_db"):
        init = (ROOT / service / "init.sql").read_text()
        for name in re.findall(r"\\getenv \w+ ([A-Z_]+)", init):
            assert name in env_of(service), f"{service}/init.sql reads {name}"


def test_message_size_limits_are_the_embedded_ones():
    from bionicflow.stack.jvm import MAX_MESSAGE_BYTES

    limit = str(MAX_MESSAGE_BYTES)
    assert env_of("kafka")["KAFKA_MESSAGE_MAX_BYTES"] == env_of("kafka")["KAFKA_REPLICA_FETCH_MAX_BYTES"] == limit
    assert env_of("kafka-connect")["CONNECT_PRODUCER_MAX_REQUEST_SIZE"] == limit


def test_ports_are_the_documented_ones():
    published = {}
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            host_ip, host_port, _container = port.split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes on {host_ip}: bind to 127.0.0.1 by default"
            published[name] = int(host_port)
    s = Settings()
    assert published == {"crm_db": s.crm_db_port, "telemetry_db": s.telemetry_db_port, "kafka": s.kafka_port,
                         "kafka-connect": s.kafka_connect_port, "kafka-ui": 8084, "olap_db": s.olap_port,
                         "airflow-apiserver": s.airflow_port, "reports_api": s.reports_api_port}


def test_clickhouse_config_files_are_valid():
    kafka = ET.parse(ROOT / "clickhouse_config" / "kafka_settings.xml").getroot()
    assert kafka.findtext("kafka/auto_offset_reset") == "earliest"
    users = ET.parse(ROOT / "clickhouse_config" / "users.d" / "reports_reader.xml").getroot()
    reader = users.find(f"users/{Settings().clickhouse_reader_user}")
    assert reader is not None and reader.find("password").get("from_env") == "BIONICFLOW_CLICKHOUSE_READER_PASSWORD"
    assert users.findtext(f"profiles/{reader.findtext('profile')}/readonly") == "2"
    # one clock: the server in UTC, as the embedded one (reports' days are UTC days)
    assert ET.parse(ROOT / "clickhouse_config" / "timezone.xml").getroot().findtext("timezone") == "UTC"
    assert "./clickhouse_config/timezone.xml:/etc/clickhouse-server/config.d/timezone.xml:ro" in \
        SERVICES["olap_db"]["volumes"]


@pytest.mark.parametrize("service", ["crm_db", "telemetry_db"])
def test_postgres_runs_the_projects_settings(service):
    command = " ".join(SERVICES[service]["command"])
    assert "config_file=/etc/postgresql/postgresql.conf" in command
    assert f"./{service}/postgresql.conf:/etc/postgresql/postgresql.conf:ro" in SERVICES[service]["volumes"]


def test_topics_come_with_the_first_change_in_compose_too():
    """Connect creates a table's topic at its first change; ClickHouse's Kafka engine notices it within seconds."""
    assert env_of("kafka-connect")["CONNECT_TOPIC_CREATION_ENABLE"] == "true"
    kafka = ET.parse(ROOT / "clickhouse_config" / "kafka_settings.xml").getroot()
    assert int(kafka.findtext("kafka/topic_metadata_refresh_interval_ms")) <= 10_000
