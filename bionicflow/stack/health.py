"""Health checks: each asks the service itself, over its own protocol, with a short timeout."""

from __future__ import annotations

import json
import logging
import time

import requests

from bionicflow.kernel.config import Settings

TIMEOUT = 2.0
_quiet = logging.getLogger("bionicflow.health.librdkafka")
_quiet.setLevel(logging.CRITICAL)  # a broker that is still starting is not an error here


def http_ok(url: str, expect: str | None = None) -> bool:
    try:
        response = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException:
        return False
    return response.status_code == 200 and (expect is None or expect in response.text)


def kafka_healthy(settings: Settings) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"{settings.host}:{settings.kafka_port}"}, logger=_quiet)
    try:
        metadata = admin.list_topics(timeout=TIMEOUT)
    except Exception:  # KafkaException while the broker is down: simply not healthy yet
        return False
    return bool(metadata.brokers)


def connect_healthy(settings: Settings) -> bool:
    # /connectors answers only once the worker has joined its group and read its topics.
    return http_ok(f"http://{settings.host}:{settings.kafka_connect_port}/connectors")


def olap_healthy(settings: Settings) -> bool:
    return http_ok(f"http://{settings.host}:{settings.olap_port}/ping", expect="Ok.")


def airflow_health(settings: Settings) -> dict:
    """Airflow's own health document (metadatabase, scheduler, triggerer, dag_processor)."""
    try:
        response = requests.get(f"http://{settings.host}:{settings.airflow_port}/api/v2/monitor/health",
                                timeout=TIMEOUT)
    except requests.RequestException:
        return {}
    if response.status_code != 200:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def airflow_component_healthy(settings: Settings, component: str) -> bool:
    """component: metadatabase, scheduler, triggerer or dag_processor."""
    doc = airflow_health(settings)
    return (doc.get(component) or {}).get("status") == "healthy"


def reports_api_healthy(settings: Settings) -> bool:
    return http_ok(f"http://{settings.host}:{settings.reports_api_port}/health")


def consumer_healthy(settings: Settings, max_age: float = 5.0) -> bool:
    """The consumer rewrites its status file every second while its threads live."""
    from bionicflow.cdc.consumer import status_path

    try:
        doc = json.loads(status_path(settings).read_text())
    except (OSError, ValueError):
        return False
    return time.time() - doc.get("updated_at", 0) < max_age
