"""CDC lag per table, measured against Debezium's heartbeats.

Every `heartbeat.interval.ms` (10 s) each connector runs its `heartbeat.action.query`, which
writes a logical message holding the source's clock (`now()`) into the WAL. Debezium reaches
it in WAL order and publishes it to `<prefix>.message`, so once the newest such message is in
Kafka, every change the source committed before its time is in the table's topic too. Then:

* the table's consumer group has read its topic to the end: ClickHouse has every change
  committed before the newest heartbeat and before the newest change in the topic, so lag =
  now - the later of the two: near zero while changes flow, at most the heartbeat interval
  (plus Debezium's own delay) on an idle source;
* the group is behind: lag = now - commit time of the oldest change it has not read.

A table whose topic does not exist yet has had no change since the connector started: Debezium
creates the topic with the table's first change (cdc/topics.py). Nothing is unread, so the lag is
the newest heartbeat's age, as on an idle source (basis `newest heartbeat, no change yet: …`).

A stopped connector writes no heartbeat, a stopped consumer reads nothing: either way the lag
grows while no row changes. The former definition (newest source commit against the newest
change in ClickHouse) made an idle table look late whenever anything else committed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from bionicflow.kernel.tables import Table

HEARTBEAT_PREFIX = "bionicflow-heartbeat"  # the prefix `heartbeat.action.query` writes (debezium/*.json)
KAFKA_TIMEOUT = 5


@dataclass(frozen=True)
class PipelineLag:
    seconds: float | None  # None: not measurable yet (no heartbeat published)
    basis: str  # what it is measured against: newest heartbeat, newest change, oldest unread change
    heartbeat_at: datetime | None = None
    unread_messages: int | None = None


def message_topic(table: Table) -> str:
    """Where the connector of ``table``'s database publishes logical messages (the heartbeats)."""
    return f"{table.topic.split('.')[0]}.message"


def heartbeat_time(value: bytes | None) -> datetime | None:
    """The source's clock in a heartbeat message, or None for another logical message."""
    payload = json.loads(value or b"null") or {}
    message = (payload.get("payload") or {}).get("message") or {}
    if message.get("prefix") != HEARTBEAT_PREFIX or not message.get("content"):
        return None
    return _utc(datetime.fromisoformat(base64.b64decode(message["content"]).decode()))  # now()::text


def change_commit_time(value: bytes | None) -> datetime | None:
    """Commit time in the source of a change message (`payload.source.ts_ms`)."""
    try:
        source = ((json.loads(value or b"null") or {}).get("payload") or {}).get("source") or {}
    except ValueError:  # not JSON: the views dead-letter it; it tells no time
        return None
    ts_ms = source.get("ts_ms")
    return datetime.fromtimestamp(ts_ms / 1000, UTC) if isinstance(ts_ms, int) else None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds(now: datetime, then: datetime) -> float:
    return round(max(0.0, (now - then).total_seconds()), 3)


def lag_from(now: datetime, heartbeat_at: datetime | None, unread: int, unread_from: datetime | None,
             newest_read: datetime | None = None) -> PipelineLag:
    """The lag from what Kafka says (pure: the rules of the module docstring).

    ``unread_from``: commit time of the oldest change the group has not read; ``newest_read``:
    of the newest change it has (the topic's last, when it has read everything).
    """
    if unread > 0 and unread_from is not None:
        return PipelineLag(_seconds(now, unread_from), "oldest unread change", heartbeat_at, unread)
    if heartbeat_at is None:
        return PipelineLag(None, "no heartbeat yet", None, unread)
    if newest_read is not None and newest_read > heartbeat_at:
        return PipelineLag(_seconds(now, newest_read), "newest change", heartbeat_at, unread)
    return PipelineLag(_seconds(now, heartbeat_at), "newest heartbeat",
                       heartbeat_at, unread)


NO_CHANGE_YET = ", no change yet: the topic comes with the first"  # the basis while the topic is missing


def no_change_yet(now: datetime, heartbeat_at: datetime | None) -> PipelineLag:
    """The lag of a table whose topic Debezium has not created yet: nothing to read, so the heartbeat's age."""
    lag = lag_from(now, heartbeat_at, 0, None)
    return PipelineLag(lag.seconds, lag.basis + NO_CHANGE_YET, heartbeat_at, 0)


def _value_at(consumer, topic: str, offset: int):
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(topic, 0, offset)])
    msg = consumer.poll(KAFKA_TIMEOUT)
    return None if msg is None or msg.error() else msg.value()


def pipeline_lag(kafka_bootstrap: str, table: Table, now: datetime | None = None) -> PipelineLag:
    """Measure ``table``'s lag against its connector's heartbeats and its consumer group's position."""
    from confluent_kafka import Consumer, TopicPartition

    # the group's id only to read its committed offsets: assign() never joins the group
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": table.consumer_group,
                         "enable.auto.commit": False, "log_level": 0, "fetch.wait.max.ms": 10})
    try:
        # asked once, and only existing topics are read: asking for a missing one must not create it
        existing = consumer.list_topics(timeout=KAFKA_TIMEOUT).topics
        heartbeat_at = _newest_heartbeat(consumer, message_topic(table)) if message_topic(table) in existing else None
        if table.topic not in existing:
            return no_change_yet(now or datetime.now(UTC), heartbeat_at)
        (tp,) = consumer.committed([TopicPartition(table.topic, 0)], timeout=KAFKA_TIMEOUT)
        low, high = consumer.get_watermark_offsets(tp, timeout=KAFKA_TIMEOUT)
        position = tp.offset if tp.offset >= 0 else low
        unread = max(0, high - position)
        # the oldest unread change, or (all read) the newest one
        at = position if unread else high - 1
        commit_time = change_commit_time(_value_at(consumer, table.topic, at)) if at >= low and at >= 0 else None
        return lag_from(now or datetime.now(UTC), heartbeat_at, unread,
                        commit_time if unread else None, None if unread else commit_time)
    finally:
        consumer.close()


def _newest_heartbeat(consumer, topic: str) -> datetime | None:
    from confluent_kafka import TopicPartition

    _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=KAFKA_TIMEOUT)
    # other logical messages may share the topic: the newest heartbeat is near the end
    for offset in range(high - 1, max(-1, high - 11), -1):
        at = heartbeat_time(_value_at(consumer, topic, offset))
        if at:
            return at
    return None
