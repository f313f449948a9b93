"""CDC bootstrap: the `debezium` schema in ClickHouse, then the connectors (all idempotent).

The Airflow `cdc_bootstrap` DAG and `bionicflow cdc bootstrap` both call this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bionicflow.cdc import schema
from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors
from bionicflow.cdc.topics import ensure_topics

log = logging.getLogger("bionicflow.cdc.bootstrap")


@dataclass
class BootstrapResult:
    statements: int
    changed_connectors: list[str]
    connectors: dict[str, dict]


def create_schema(olap, mode: str = "embedded", broker_list: str = schema.DEFAULT_BROKER_LIST) -> int:
    """Run every `debezium` DDL statement; returns how many ran.

    `mode` "embedded" (our consumer feeds Null-engine tables) or "kafka" (ClickHouse's Kafka engine
    reads `broker_list`, as in docker-compose.yaml).
    """
    statements = schema.render(mode, broker_list)
    for statement in statements:
        olap.command(statement)
    return len(statements)


def bootstrap(olap, connect: KafkaConnectClient, kafka_bootstrap: str, mode: str = "embedded",
              timeout: float = 180) -> BootstrapResult:
    count = create_schema(olap, mode)
    ensure_topics(kafka_bootstrap)
    specs = load_connectors()
    changed = [spec.name for spec in specs if connect.upsert(spec)]
    for name in changed:
        log.info("connector %s registered or updated", name)
    states = connect.wait_running([spec.name for spec in specs], timeout=timeout)
    return BootstrapResult(statements=count, changed_connectors=changed, connectors=states)
