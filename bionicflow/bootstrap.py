"""The platform's bootstrap, one definition for `bionicflow cdc bootstrap`, the `cdc_bootstrap` DAG and `up`.

Idempotent steps, in order: the ClickHouse schemas (`default`, `ops`, `debezium`) with a
warning per table an older version sorted differently; the CDC topics and connectors; the
wait until every connector runs; the topics verified; with the initial load "olap" the
copy of every table not copied yet. The DAG runs each step as a task (so a failure shows
where and retries only that step); the CLI runs them in one go through `bootstrap`;
`bionicflow up` triggers the DAG once on a fresh stack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bionicflow.cdc import initial_load, schema as cdc_schema
from bionicflow.cdc.bootstrap import create_schema, register
from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors
from bionicflow.cdc.topics import ensure_topics
from bionicflow.etl import schema as default_schema
from bionicflow.kernel.sources import PgSource
from bionicflow.schema_drift import outdated_tables

log = logging.getLogger("bionicflow.bootstrap")


@dataclass
class BootstrapResult:
    statements: int
    changed_connectors: list[str]
    connectors: dict[str, dict]
    copied: list[initial_load.CopiedTable] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def create_schemas(olap, mode: str = "embedded",
                   broker_list: str = cdc_schema.DEFAULT_BROKER_LIST) -> tuple[int, list[str]]:
    """Every ClickHouse schema; returns how many statements ran and the outdated-sorting-key warnings."""
    statements = default_schema.render()
    for statement in statements:
        olap.command(statement)
    count = len(statements) + create_schema(olap, mode, broker_list)
    warnings = outdated_tables(olap)
    for line in warnings:
        log.warning("%s", line)
    return count, warnings


def register_connectors(connect: KafkaConnectClient, kafka_bootstrap: str, initial: str) -> list[str]:
    """The topics, then every connector registered or updated; returns the names that changed."""
    ensure_topics(kafka_bootstrap)
    return register(connect, initial)


def wait_running(connect: KafkaConnectClient, timeout: float) -> dict[str, dict]:
    return connect.wait_running([spec.name for spec in load_connectors()], timeout=timeout)


def verify_topics(kafka_bootstrap: str) -> list[str]:
    """Each table's topic exists (a fresh, empty source still has its topic)."""
    return ensure_topics(kafka_bootstrap)


def initial_copy(olap, connect: KafkaConnectClient, sources: dict[str, PgSource]) -> list[initial_load.CopiedTable]:
    """Initial load "olap": copy each table whose connector streams without a snapshot, once."""
    return initial_load.load_missing(olap, connect, sources)


def bootstrap(olap, connect: KafkaConnectClient, kafka_bootstrap: str, mode: str = "embedded",
              broker_list: str = cdc_schema.DEFAULT_BROKER_LIST, timeout: float = 180, initial: str = "debezium",
              sources: dict[str, PgSource] | None = None) -> BootstrapResult:
    """Every step in order, as the DAG runs them."""
    initial_load.check_mode(initial)  # before anything connects
    count, warnings = create_schemas(olap, mode, broker_list)
    changed = register_connectors(connect, kafka_bootstrap, initial)
    states = wait_running(connect, timeout)
    verify_topics(kafka_bootstrap)
    copied = initial_copy(olap, connect, sources or {})
    return BootstrapResult(count, changed, states, copied, warnings)
