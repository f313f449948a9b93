"""The CDC topics, created up front so they exist before the first change arrives."""

from __future__ import annotations

from bionicflow.kernel.tables import TABLES
from bionicflow.kernel.errors import BionicflowError


class TopicError(BionicflowError):
    """Kafka refused or could not be reached while creating or checking topics."""


def ensure_topics(bootstrap_servers: str, topics: list[str] | None = None, timeout: float = 30) -> list[str]:
    """Create the missing topics (1 partition: per-key order is table order); return all of them."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    wanted = topics or [t.topic for t in TABLES]
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    missing = _missing(admin, bootstrap_servers, wanted, timeout)
    if missing:
        futures = admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=-1) for t in missing])
        for topic, future in futures.items():
            try:
                future.result(timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise TopicError(f"creating topic {topic} failed: {exc}") from None
    return wanted


def missing_topics(bootstrap_servers: str, topics: list[str] | None = None, timeout: float = 30) -> list[str]:
    """The tables' topics the cluster does not have (nothing is created)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    return _missing(admin, bootstrap_servers, topics or [t.topic for t in TABLES], timeout)


def _missing(admin, bootstrap_servers: str, wanted: list[str], timeout: float) -> list[str]:
    from confluent_kafka import KafkaException

    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise TopicError(f"Kafka at {bootstrap_servers} unreachable: {exc}") from None
    return [t for t in wanted if t not in existing]
