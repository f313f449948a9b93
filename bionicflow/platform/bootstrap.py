"""The platform's bootstrap: one list of steps that `bionicflow cdc bootstrap`, the `cdc_bootstrap` DAG and `up` run.

Idempotent steps, in order (`STEPS`): the ClickHouse schemas (`default`, `ops`, `debezium`)
with a warning per table an older version sorted differently and per source column the roads
do not copy; the connectors; the wait until every connector runs; the check that Kafka Connect
creates each table's topic with its first change (nothing creates topics up front: before any
data Kafka has none, as in the brief); with the initial load "olap" the copy of every table not
copied yet. The DAG makes one task per step (a failure shows where and retries only that
step); the CLI runs them in one go (`run_all`); `bionicflow up` triggers the DAG once on a
fresh stack (`first_start`).

Whoever runs the steps says where things are with one `Bootstrap` (the CLI from the settings,
the DAG from its Airflow connections); the steps themselves are the same for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bionicflow.cdc import initial_load
from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors
from bionicflow.cdc.install import create_schema, register
from bionicflow.cdc.topics import TopicError, creation_problems, split_by_presence, topic_partitions
from bionicflow.etl import ddl as default_schema
from bionicflow.kernel.config import Settings
from bionicflow.kernel.olap import OlapClient
from bionicflow.kernel.sources import PgSource, reader_sources
from bionicflow.kernel.tables import TABLES, Table
from bionicflow.platform.drift import outdated_tables, source_drift

log = logging.getLogger("bionicflow.bootstrap")

# Long enough for a first start on 2 cores (Connect loads the plugin, Debezium checks the slot).
CONNECTOR_WAIT_SECONDS = 300.0


@dataclass
class Bootstrap:
    """Where the steps find each system, and the choices of this run."""

    olap: Callable[[], OlapClient]  # made when a step needs one
    connect: Callable[[], KafkaConnectClient]
    kafka_bootstrap: str  # the Kafka cluster Connect writes to, host:port
    source_connection: Callable[[Table], Any]  # a DB-API connection to a table's source database
    sources: Callable[[], dict[str, PgSource]]  # read-only sources of the initial copy
    mode: str = "embedded"  # how `debezium` is fed: our consumer, or ClickHouse's Kafka engine
    broker_list: str = "kafka:29092"  # the brokers the Kafka engine reads (mode "kafka")
    initial: str = "debezium"
    connector_wait: float = CONNECTOR_WAIT_SECONDS
    warn: Callable[[str], None] = field(default=lambda line: log.warning("%s", line))


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    run: Callable[[Bootstrap], Any]  # returns what the step did, as JSON-able data


@dataclass
class BootstrapResult:
    statements: int
    changed_connectors: list[str]
    connectors: dict[str, dict]
    copied: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def create_schemas(b: Bootstrap) -> dict:
    """Every ClickHouse schema, then what drifted: tables sorted by an older key, source columns not copied."""
    olap = b.olap()
    statements = default_schema.render()
    for statement in statements:
        olap.command(statement)
    count = len(statements) + create_schema(olap, b.mode, b.broker_list)
    warnings = outdated_tables(olap) + [f"source schema: {line}" for line in source_drift(olap, b.source_connection)]
    for line in warnings:
        b.warn(line)
    return {"statements": count, "warnings": warnings}


def register_connectors(b: Bootstrap) -> list[str]:
    """Every connector registered or updated; returns the names that changed.

    No topic is made here: Kafka Connect creates each table's topic with the table's first change
    (bionicflow/cdc/topics.py), so before any data there is none, as the brief expects.
    """
    return register(b.connect(), b.initial)


def wait_running(b: Bootstrap) -> dict[str, dict]:
    return b.connect().wait_running([spec.name for spec in load_connectors()], timeout=b.connector_wait)


def verify_topics(b: Bootstrap) -> dict[str, list[str]]:
    """Every connector will create its tables' topics with one partition; the topics there already have one.

    Returns the tables' topics that exist and those that appear with their table's first change.
    """
    connect = b.connect()
    configs = {name: connect.config(name) or {} for name in connect.statuses()}
    partitions = topic_partitions(b.kafka_bootstrap)
    topics = [t.topic for t in TABLES]
    problems = creation_problems(configs, partitions, topics)
    if problems:
        raise TopicError("; ".join(problems))
    return split_by_presence(partitions, topics)


def initial_copy(b: Bootstrap) -> list[dict]:
    """Initial load "olap": copy each table whose connector streams without a snapshot, once."""
    return [asdict(c) for c in initial_load.load_missing(b.olap(), b.connect(), b.sources())]


STEPS: tuple[Step, ...] = (
    Step("create_schemas", "creates the ClickHouse schemas `default`, `ops` and `debezium` (tables, views, dead "
         "letters) and warns about tables an older version sorted by another key and about source columns the "
         "roads do not copy (each with the fix)", create_schemas),
    Step("register_connectors", "registers or updates the Debezium connectors of `debezium/*.json` through the "
         "Kafka Connect REST API (no topic is made: each table's appears with its first change)",
         register_connectors),
    Step("wait_running", "waits until every connector and task is RUNNING", wait_running),
    Step("verify_topics", "checks that every connector has Kafka Connect create its tables' topics with one "
         "partition (per-key order) at their first change, and that the topics there already have one partition",
         verify_topics),
    Step("initial_copy", "with the initial load `olap`: copies each table whose connector streams without a "
         "snapshot and was not copied before, ClickHouse pulling from PostgreSQL (docs/cdc.md)", initial_copy),
)


def steps_markdown() -> str:
    """The step list as the DAG's documentation shows it (one numbered line per task)."""
    return "\n".join(f"{n}. `{s.name}`: {s.summary};" for n, s in enumerate(STEPS, 1))


def step(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)


def run_all(b: Bootstrap) -> BootstrapResult:
    """Every step in order, as the DAG runs them."""
    initial_load.check_mode(b.initial)  # before anything connects
    done = {s.name: s.run(b) for s in STEPS}
    schemas = done["create_schemas"]
    return BootstrapResult(schemas["statements"], done["register_connectors"], done["wait_running"],
                           done["initial_copy"], schemas["warnings"])


def from_settings(settings: Settings, initial: str | None = None, connector_wait: float = CONNECTOR_WAIT_SECONDS,
                  send_receive_timeout: float | None = None) -> Bootstrap:
    """The bootstrap of the stack the settings describe (the CLI's)."""
    from bionicflow.kernel.olap import olap_client

    def source_connection(table: Table):
        return reader_sources(settings)[table.name].connect()

    return Bootstrap(
        olap=lambda: olap_client(settings, send_receive_timeout=send_receive_timeout or initial_load.COPY_TIMEOUT),
        connect=lambda: KafkaConnectClient(f"http://{settings.host}:{settings.kafka_connect_port}"),
        kafka_bootstrap=f"{settings.host}:{settings.kafka_port}",
        source_connection=source_connection,
        sources=lambda: reader_sources(settings),
        mode=settings.cdc_schema_mode, broker_list=settings.kafka_broker_list,
        initial=initial or settings.cdc_initial_load, connector_wait=connector_wait,
    )
