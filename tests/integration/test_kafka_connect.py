"""Kafka round trip and the Connect worker with the Debezium plugin."""

import time
import uuid

import requests
from confluent_kafka import Consumer, Producer


def test_produce_consume_round_trip(stack):
    bootstrap = f"{stack.host}:{stack.kafka_port}"
    topic = f"it-roundtrip-{uuid.uuid4().hex[:8]}"
    sent = [f"message-{i}".encode() for i in range(100)]
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in sent:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0, "producer could not deliver every message"

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    received, deadline = [], time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                received.append(msg.value())
    finally:
        consumer.close()
    assert received == sent, f"got {len(received)} of {len(sent)} messages within 60s"


def test_connect_lists_the_debezium_postgres_plugin(stack):
    plugins = requests.get(f"http://{stack.host}:{stack.kafka_connect_port}/connector-plugins", timeout=10).json()
    assert "io.debezium.connector.postgresql.PostgresConnector" in {p["class"] for p in plugins}
