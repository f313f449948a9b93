"""The CDC topics: Debezium creates each table's topic with the table's first change.

Nothing creates them up front, as in the brief (before any data Kafka has no `crm.public.users`,
`telemetry.public.telemetry_events`). Kafka Connect creates a topic for a source connector's first
record from the connector's `topic.creation.default.*` settings (the worker has
`topic.creation.enable=true`, bionicflow/stack/jvm.py and docker-compose.yaml): 1 partition, so
per-key order is table order, the broker's replication factor, and the broker's message size
limit unless the connector names another (an added source's 64 MiB, cdc/source_connectors.py).
The readers wait for it: the CDC consumer notices a new topic within its metadata refresh
(cdc/consumer.py), and the lag reads a missing topic as "no change yet" (cdc/heartbeat_lag.py).

`creation_problems` is what the bootstrap's `verify_topics` refuses: a Debezium connector Connect
would not create one-partition topics for, or a table topic that exists with more partitions.
"""

from __future__ import annotations

from bionicflow.kernel.errors import BionicflowError

# What a connector must carry for Kafka Connect to create its topics: both, or Connect leaves the topics to the
# broker's auto-creation (with the broker's partition count); one partition keeps per-key order.
PARTITIONS = "topic.creation.default.partitions"
REPLICATION = "topic.creation.default.replication.factor"  # -1: the broker's default (3 on a cluster, docs)
DEBEZIUM_POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"  # the platform's connectors' class


class TopicError(BionicflowError):
    """Kafka refused or could not be reached while checking topics, or a topic would lose the table's order."""


def topic_partitions(bootstrap_servers: str, timeout: float = 30) -> dict[str, int]:
    """Every topic the cluster has, with its partition count (nothing is created)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        return {name: len(meta.partitions) for name, meta in admin.list_topics(timeout=timeout).topics.items()}
    except KafkaException as exc:
        raise TopicError(f"Kafka at {bootstrap_servers} unreachable: {exc}") from None


def creation_problems(connector_configs: dict[str, dict], partitions: dict[str, int], topics: list[str]) -> list[str]:
    """One line per reason a table's topic would not be created as the platform needs it (pure).

    ``connector_configs``: name -> configuration as Kafka Connect holds it (connectors of another class,
    not the platform's, are left alone); ``partitions``: the topics that exist -> partition count;
    ``topics``: the tables' topics.
    """
    problems = [
        f"connector {name}: {PARTITIONS}={config.get(PARTITIONS)!r}, {REPLICATION}={config.get(REPLICATION)!r}: "
        "Kafka Connect creates a table's topic with one partition (per-key order) only with partitions 1 and a "
        "replication factor set; register the connector again (`bionicflow cdc bootstrap`)"
        for name, config in sorted(connector_configs.items()) if config.get("connector.class") == DEBEZIUM_POSTGRES
        and (config.get(PARTITIONS) != "1" or not config.get(REPLICATION))
    ]
    problems += [
        f"topic {topic} has {partitions[topic]} partitions: changes of one row could be applied out of order. "
        "Delete the topic, truncate its debezium table and re-snapshot (docs/cdc.md)"
        for topic in topics if partitions.get(topic, 1) != 1
    ]
    return problems


def split_by_presence(partitions: dict[str, int], topics: list[str]) -> dict[str, list[str]]:
    """The tables' topics that exist, and those Debezium creates with their table's first change."""
    return {"present": [t for t in topics if t in partitions],
            "created_with_first_change": [t for t in topics if t not in partitions]}
