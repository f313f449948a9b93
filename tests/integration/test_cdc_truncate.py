"""TRUNCATE on the CDC road, on the live stack: `debezium` follows the source through it.

Runs after tests/integration/test_cdc.py (whose snapshot test looks at the seeded rows); each
test keeps a copy of its table and puts the rows back at the end, for the modules after it.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS

from tests.support.rows import apply_sql, no_duplicate_keys, olap_admin, source_rows, wait_converged
from tests.support.stack import cli

BURST = {
    "users": [
        "INSERT INTO users (name, email, age, country, registered_at) "
        "SELECT 'burst ' || g, 'b@example.org', g, 'DE', now() - interval '3 years' FROM generate_series(1, 40) g",
        "UPDATE users SET age = age + 100, country = 'FR' WHERE id IN (SELECT id FROM users ORDER BY id DESC LIMIT 15)",
        "DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id DESC LIMIT 5)",
    ],
    "telemetry_events": [
        "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
        " signal_amplitude, created_ts, saved_ts) SELECT gen_random_uuid(), 'arm', 'burst', g, g, g * 0.5,"
        " now() - interval '2 years', now() FROM generate_series(1, 40) g",
        "UPDATE telemetry_events SET signal_amplitude = -signal_amplitude, signal_duration = 7 WHERE id IN "
        "(SELECT id FROM telemetry_events ORDER BY id DESC LIMIT 15)",
        "DELETE FROM telemetry_events WHERE id IN (SELECT id FROM telemetry_events ORDER BY id DESC LIMIT 5)",
    ],
}


def _topic_end(settings, table) -> int:
    """The offset the table topic's next message gets."""
    consumer = Consumer({"bootstrap.servers": f"{settings.host}:{settings.kafka_port}",
                         "group.id": f"test-redelivery-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        return consumer.get_watermark_offsets(TopicPartition(table.topic, 0), timeout=10)[1]
    finally:
        consumer.close()


def _topic_messages(settings, table, start: int) -> list[list]:
    """The table topic's raw messages from offset ``start`` to its end, as the consumer inserts them."""
    consumer = Consumer({"bootstrap.servers": f"{settings.host}:{settings.kafka_port}",
                         "group.id": f"test-redelivery-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(table.topic, 0), timeout=10)
        consumer.assign([TopicPartition(table.topic, 0, start)])
        rows = []
        while len(rows) < high - start:
            msg = consumer.poll(10)
            assert msg is not None, f"{table.topic}: only {len(rows)} of {high - start} messages read back"
            assert msg.error() is None, msg.error()
            rows.append([msg.value() or b"", msg.topic(), msg.partition(), msg.offset()])
        return rows
    finally:
        consumer.close()


def _applied_truncations(settings, table, known: set, expected: int, seconds: float = 60) -> list[tuple]:
    """The TRUNCATEs recorded since ``known``, once ``expected`` of them are there and all applied."""
    deadline = time.monotonic() + seconds
    while True:
        new = [(v, applied) for v, applied in _truncations(settings, table) if v not in known]
        if len(new) == expected and all(applied for _, applied in new):
            return new
        assert time.monotonic() < deadline, f"{expected} applied TRUNCATEs of {table.name} within {seconds}s: {new}"
        time.sleep(0.5)


def _truncations(settings, table) -> list[tuple]:
    return olap_admin(settings).query(
        "SELECT _version, applied_at IS NOT NULL FROM debezium.truncations FINAL WHERE table_name = {t:String} "
        "ORDER BY _version", parameters={"t": table.name}).result_rows


@pytest.mark.parametrize("table", [USERS, TELEMETRY_EVENTS], ids=lambda t: t.name)
def test_truncate_between_bursts_is_followed_in_order_and_survives_redelivery(stack, cdc, table):
    db = table.source_database
    olap = olap_admin(stack)
    wait_converged(stack, table)
    dead_before = olap.command("SELECT count() FROM debezium.dead_letters WHERE topic = {t:String}",
                               parameters={"t": table.topic})
    known = {v for v, _ in _truncations(stack, table)}
    begin = _topic_end(stack, table)  # this test's own messages start here
    kept = f"kept_{table.name}"
    apply_sql(stack, db, [f"DROP TABLE IF EXISTS {kept}", f"CREATE TABLE {kept} AS SELECT * FROM {table.source_table}"])
    try:
        apply_sql(stack, db, BURST[table.name])
        wait_converged(stack, table)

        apply_sql(stack, db, [f"TRUNCATE {table.source_table}"])
        assert wait_converged(stack, table) == {}, "debezium still has rows of a truncated table"

        apply_sql(stack, db, BURST[table.name])  # a burst after the TRUNCATE: these rows stay
        assert len(wait_converged(stack, table)) == 35

        # one transaction: rows in, TRUNCATE, rows in again: only the last ones remain
        apply_sql(stack, db, ["BEGIN", *BURST[table.name][:1], f"TRUNCATE {table.source_table}", *BURST[table.name], "COMMIT"])
        assert len(wait_converged(stack, table)) == 35
        # 35 rows either way (the transaction's first row is one of the burst's keys): the purge's own
        # mark is what says the second TRUNCATE was applied, a moment after the rows settle
        _applied_truncations(stack, table, known, expected=2)

        # redelivery: the consumer died before committing, everything from the first TRUNCATE's
        # burst on (this test's messages only: earlier tests' dead letters would be dead-lettered
        # again) arrives again at the same offsets; applying the truncations again changes nothing
        expected = source_rows(stack, table)
        olap.insert(f"debezium.{table.name}_kafka", _topic_messages(stack, table, begin),
                    column_names=["payload", "_topic", "_partition", "_offset"])
        applied = cli("cdc", "apply-truncations")
        assert applied.returncode == 0 and "TRUNCATE message(s)" in applied.stderr, applied.stderr
        assert wait_converged(stack, table) == expected
        no_duplicate_keys(stack, table)
        again = cli("cdc", "apply-truncations")  # nothing left: harmless, and says so
        assert again.returncode == 0 and "no TRUNCATE waiting to be applied" in again.stderr, again.stderr
        dead_after = olap.command("SELECT count() FROM debezium.dead_letters WHERE topic = {t:String}",
                                  parameters={"t": table.topic})
        assert dead_after == dead_before, "a TRUNCATE message was dead-lettered"
    finally:  # the rows back, for the modules after this one
        apply_sql(stack, db, [f"TRUNCATE {table.source_table}",
                         f"INSERT INTO {table.source_table} SELECT * FROM {kept}", f"DROP TABLE {kept}"])
    wait_converged(stack, table)

