"""CDC bootstrap: the `debezium` schema in ClickHouse, then the connectors (all idempotent).

The Airflow `cdc_bootstrap` DAG and `bionicflow cdc bootstrap` both call this.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from bionicflow.cdc import initial_load, schema
from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors
from bionicflow.cdc.topics import ensure_topics
from bionicflow.kernel.sources import PgSource

log = logging.getLogger("bionicflow.cdc.bootstrap")


@dataclass
class BootstrapResult:
    statements: int
    changed_connectors: list[str]
    connectors: dict[str, dict]
    copied: list[initial_load.CopiedTable] = dataclasses.field(default_factory=list)


def create_schema(olap, mode: str = "embedded", broker_list: str = schema.DEFAULT_BROKER_LIST) -> int:
    """Run every `debezium` DDL statement; returns how many ran.

    `mode` "embedded" (our consumer feeds Null-engine tables) or "kafka" (ClickHouse's Kafka engine
    reads `broker_list`, as in docker-compose.yaml).
    """
    statements = schema.render(mode, broker_list)
    for statement in statements:
        olap.command(statement)
    return len(statements)


def register(connect: KafkaConnectClient, initial: str = "debezium") -> list[str]:
    """Register or update every connector; returns the names that changed.

    `initial` ("debezium" | "olap") picks the snapshot mode of connectors created now; an
    existing connector keeps its own (`initial_load.snapshot_mode`, which also checks `initial`).
    """
    changed = []
    for spec in load_connectors():
        mode = initial_load.snapshot_mode(spec, connect.config(spec.name), initial)
        if connect.upsert(dataclasses.replace(spec, config={**spec.config, "snapshot.mode": mode})):
            log.info("connector %s registered or updated (snapshot.mode %s)", spec.name, mode)
            changed.append(spec.name)
    return changed


def bootstrap(olap, connect: KafkaConnectClient, kafka_bootstrap: str, mode: str = "embedded",
              timeout: float = 180, initial: str = "debezium",
              sources: dict[str, PgSource] | None = None) -> BootstrapResult:
    """Schema, topics, connectors, then (initial load "olap") the copy of tables not yet copied."""
    initial_load.check_mode(initial)
    count = create_schema(olap, mode)
    ensure_topics(kafka_bootstrap)
    changed = register(connect, initial)
    states = connect.wait_running([spec.name for spec in load_connectors()], timeout=timeout)
    copied = initial_load.load_missing(olap, connect, sources or {})
    return BootstrapResult(statements=count, changed_connectors=changed, connectors=states, copied=copied)

