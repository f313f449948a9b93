"""bionicflow's Airflow provider and hooks, without a stack: registration, connection fields, Test button."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture
def connection(monkeypatch):
    """Define an Airflow connection the way the stack does (AIRFLOW_CONN_*); returns its id."""
    def define(conn_id: str, **fields) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id
    return define


def test_the_provider_registers_both_connection_types():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers["bionicflow"].data["package-name"] == "bionicflow"
    hooks = manager.hooks
    assert hooks["kafka_connect"].hook_class_name == "bionicflow_airflow.kafka_connect_hook.KafkaConnectHook"
    assert hooks["kafka_connect"].connection_testable
    # ClickHouse's connection type is the official provider's (docs/dependencies.md)
    assert hooks["clickhouse"].package_name == "apache-airflow-providers-clickhousedb"
    form = manager.field_behaviours["kafka_connect"]
    assert set(form["hidden_fields"]) == {"login", "password"} and "kafka_bootstrap" in form["placeholders"]["extra"]


def test_kafka_connect_hook_reads_its_connection(connection):
    from bionicflow_airflow import KafkaConnectHook

    conn_id = connection("kc_unit", conn_type="kafka_connect", host="connect.example", port=18083, schema="https",
                         extra={"kafka_bootstrap": "kafka.example:9092"})
    hook = KafkaConnectHook(conn_id)
    assert hook.base_url() == "https://connect.example:18083"
    assert hook.kafka_bootstrap() == "kafka.example:9092"


def test_a_connection_without_its_kafka_cluster_says_what_to_add(connection):
    from bionicflow_airflow import KafkaConnectHook

    conn_id = connection("kc_no_kafka", conn_type="kafka_connect", host="h", port=8083)
    with pytest.raises(ValueError, match="no extra 'kafka_bootstrap'.*add it to the connection"):
        KafkaConnectHook(conn_id).kafka_bootstrap()


class _FakeConnect(BaseHTTPRequestHandler):
    """Kafka Connect's two read endpoints the Test button uses."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = {"/": {"version": "4.3.0", "commit": "x"}, "/connectors": ["crm-connector", "telemetry-connector"]}
        payload = json.dumps(body.get(self.path, {})).encode()
        self.send_response(200 if self.path in body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_connect():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeConnect)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_the_test_button_reports_the_worker_or_why_not(connection, fake_connect):
    from bionicflow_airflow import KafkaConnectHook

    up = connection("kc_up", conn_type="kafka_connect", host="127.0.0.1", port=fake_connect, schema="http")
    assert KafkaConnectHook(up).test_connection() == (True, "Kafka Connect 4.3.0, 2 connector(s)")
    down = connection("kc_down", conn_type="kafka_connect", host="127.0.0.1", port=1, schema="http")
    ok, message = KafkaConnectHook(down, retry_backoff=0).test_connection()  # its 5 retries without the 15 s of backoff
    assert not ok and message


def test_clickhouse_hook_builds_its_client_from_the_connection(connection):
    from bionicflow_airflow import ClickHouseHook

    conn_id = connection("olap_unit", conn_type="clickhouse", host="olap.example", port=18123, login="u",
                         password="p", schema="debezium", extra={"cdc_schema_mode": "kafka", "kafka_broker_list": "k:1"})
    hook = ClickHouseHook(conn_id, send_receive_timeout=3600)
    kwargs = hook._get_client_kwargs()
    assert (kwargs["host"], kwargs["port"], kwargs["username"], kwargs["password"], kwargs["database"]) == \
        ("olap.example", 18123, "u", "p", "debezium")
    assert kwargs["send_receive_timeout"] == 3600
    from bionicflow.kernel.olap import CONNECT_TIMEOUT

    assert kwargs["connect_timeout"] == CONNECT_TIMEOUT  # the kernel's, as for every client of the platform
    assert hook.cdc_schema() == ("kafka", "k:1")
    assert ClickHouseHook(connection("olap_plain", conn_type="clickhouse", host="h")).cdc_schema() == \
        ("embedded", "kafka:29092")


def test_the_clickhouse_hooks_client_comes_from_the_kernels_factory(connection, monkeypatch):
    from bionicflow_airflow import ClickHouseHook, clickhouse_hook

    made = []
    monkeypatch.setattr(clickhouse_hook, "connect", lambda *args, **kwargs: made.append((args, kwargs)) or "client")
    conn_id = connection("olap_factory", conn_type="clickhouse", host="olap.example", port=18123, login="u",
                         password="p", schema="default")
    assert ClickHouseHook(conn_id, send_receive_timeout=60).get_client() == "client"
    [(args, kwargs)] = made
    assert args == ("olap.example", 18123, "u", "p")
    assert kwargs["send_receive_timeout"] == 60 and kwargs["database"] == "default"
