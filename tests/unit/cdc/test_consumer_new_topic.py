"""The CDC consumer subscribes before its table's topic exists (Debezium creates it with the first change)."""

from __future__ import annotations

import threading

from bionicflow.cdc import consumer
from bionicflow.kernel.config import Settings
from bionicflow.kernel.tables import USERS


def test_a_topic_created_after_the_subscription_is_noticed_within_seconds_and_read_from_its_start(tmp_path,
                                                                                                  monkeypatch):
    made = []
    monkeypatch.setattr(consumer, "Consumer", lambda config: made.append(config) or config)
    worker = consumer.TableConsumer(USERS, Settings(state_dir=tmp_path), consumer.ConsumerSettings(),
                                    threading.Event(), client_factory=lambda: None)
    config = worker._consumer()
    assert config is made[0] and config["group.id"] == USERS.consumer_group
    assert config["topic.metadata.refresh.interval.ms"] <= 5000  # librdkafka's default: 5 minutes
    assert config["auto.offset.reset"] == "earliest"  # the changes that created the topic are read too
    assert config.get("allow.auto.create.topics", False) is False  # waiting must not create the topic
