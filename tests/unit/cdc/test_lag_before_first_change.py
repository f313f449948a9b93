"""A table whose topic Debezium has not created yet (no change since the connector started): its lag is known
from the heartbeats, nothing is unread, and no missing topic is asked for (asking must not create it)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import confluent_kafka
import pytest

from bionicflow.cdc import heartbeat_lag as hl
from bionicflow.cdc import monitor
from bionicflow.kernel.tables import USERS

NOW = datetime(2026, 12, 7, 18, 0, 30, tzinfo=UTC)
BEAT = NOW - timedelta(seconds=6)


def _heartbeat(at: datetime) -> bytes:
    content = base64.b64encode(at.isoformat().encode()).decode()
    return json.dumps({"payload": {"op": "m", "message": {"prefix": hl.HEARTBEAT_PREFIX, "content": content}}}).encode()


class FakeConsumer:
    """Kafka as a consumer sees it: ``topics`` maps each existing topic to its messages (partition 0)."""

    asked: list[str] = []

    def __init__(self, topics: dict[str, list[bytes]]):
        self.topics, self.assigned = topics, None

    def list_topics(self, timeout=None):
        return SimpleNamespace(topics={name: object() for name in self.topics})

    def _known(self, topic: str) -> list[bytes]:
        FakeConsumer.asked.append(topic)
        if topic not in self.topics:
            raise AssertionError(f"asked for the missing topic {topic}")
        return self.topics[topic]

    def get_watermark_offsets(self, tp, timeout=None):
        return 0, len(self._known(tp.topic))

    def committed(self, tps, timeout=None):
        self._known(tps[0].topic)
        return [confluent_kafka.TopicPartition(tps[0].topic, 0, -1001)]

    def assign(self, tps):
        self.assigned = tps[0]

    def poll(self, timeout=None):
        value = self._known(self.assigned.topic)[self.assigned.offset]
        return SimpleNamespace(error=lambda: None, value=lambda: value)

    def close(self):
        pass


@pytest.fixture
def kafka(monkeypatch):
    def install(topics: dict[str, list[bytes]]):
        FakeConsumer.asked = []
        monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: FakeConsumer(topics))
    return install


def test_no_topic_yet_the_lag_is_the_heartbeats_age_and_nothing_is_unread(kafka):
    kafka({"crm.message": [b"{}", _heartbeat(BEAT)]})
    lag = hl.pipeline_lag("nowhere:1", USERS, now=NOW)
    assert (lag.seconds, lag.unread_messages, lag.heartbeat_at) == (6.0, 0, BEAT)
    assert lag.basis == "newest heartbeat" + hl.NO_CHANGE_YET
    assert USERS.topic not in FakeConsumer.asked


def test_no_topic_and_no_heartbeat_yet_is_unknown_and_says_both(kafka):
    kafka({})
    lag = hl.pipeline_lag("nowhere:1", USERS, now=NOW)
    assert lag.seconds is None and lag.basis == "no heartbeat yet" + hl.NO_CHANGE_YET
    assert FakeConsumer.asked == []


def test_once_the_topic_exists_the_unread_changes_count_again(kafka):
    change = json.dumps({"payload": {"op": "c", "source": {"ts_ms": int((NOW - timedelta(seconds=20)).timestamp()
                                                                         * 1000)}}}).encode()
    kafka({"crm.message": [_heartbeat(BEAT)], USERS.topic: [change, change]})
    lag = hl.pipeline_lag("nowhere:1", USERS, now=NOW)
    assert (lag.seconds, lag.unread_messages, lag.basis) == (20.0, 2, "oldest unread change")


def test_status_reports_a_table_without_changes_as_measured_not_as_a_kafka_error(kafka):
    """`bionicflow status` and the CDC-vs-batch page: a known lag, no `kafka_error`, so no "lag unknown"."""
    beat = datetime.now(UTC) - timedelta(seconds=6)  # status measures against the clock
    kafka({"crm.message": [_heartbeat(beat)], "telemetry.message": [_heartbeat(beat)]})

    class Olap:
        def query(self, sql, parameters=None):
            return SimpleNamespace(result_rows=[(None, 0)] if "max(_source_ts)" in sql else [(0,)])

    from bionicflow.kernel.config import Settings

    lags = monitor.lag(Settings(), Olap(), lambda db: (_ for _ in ()).throw(OSError("no source here")))
    assert "kafka_error" not in lags["users"], lags["users"]
    assert 6 <= lags["users"]["lag_seconds"] < 60
    assert lags["users"]["lag_basis"].endswith(hl.NO_CHANGE_YET) and lags["users"]["consumer_lag_messages"] == 0
    rows = monitor.table_health(Olap(), "nowhere:1", {}, {}, 1 << 30)
    assert [6 <= r["lag_seconds"] < 60 for r in rows] == [True, True], rows
