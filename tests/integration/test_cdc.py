"""The CDC road end to end: PostgreSQL -> Debezium -> Kafka -> consumer -> ClickHouse `debezium`.

Every check compares every column of every row under FINAL with the source table,
polling with a deadline (never a fixed sleep).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from datetime import timezone

from confluent_kafka import Producer

from bionicflow.platform.bootstrap import from_settings, run_all
from bionicflow.cdc.connectors import load_connectors
from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
from tests.support.rows import CONVERGE_SECONDS, no_duplicate_keys, olap_admin, pg, source_rows, wait_converged
from tests.support.stack import SNAPSHOT_MARK, cli


def test_snapshot_rows_arrive_as_reads(stack, cdc):
    wait_converged(stack, USERS)
    wait_converged(stack, TELEMETRY_EVENTS)
    olap = olap_admin(stack)
    users = olap.query("SELECT _op, count() FROM debezium.users FINAL WHERE startsWith(name, {m:String}) GROUP BY _op",
                       parameters={"m": SNAPSHOT_MARK}).result_rows
    events = olap.query("SELECT _op, count() FROM debezium.telemetry_events FINAL WHERE muscle_group = {m:String} "
                        "GROUP BY _op", parameters={"m": SNAPSHOT_MARK}).result_rows
    # streaming tests may since have updated or deleted some seeded rows; none may have arrived as 'c'
    assert {op for op, _ in users} <= {"r", "u"} and dict(users).get("r", 0) > 0, users
    assert {op for op, _ in events} <= {"r", "u"} and dict(events).get("r", 0) > 0, events


def test_streaming_changes_converge_exactly(stack, cdc):
    big = "long address " * 400  # > 2 kB: stored out of line (TOAST) in PostgreSQL
    with pg(stack, "crm_db") as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO users (name, email, age, gender, country, address, phone, registered_at) VALUES "
            "('Zoë 🦾 Ünïcode', '', NULL, NULL, NULL, %s, '', '2024-02-29 23:59:59.999999'),"
            "('plain', 'p@example.org', 0, 'f', 'DE', '', NULL, '1970-01-01 00:00:00.000001') RETURNING id",
            (big,),
        )
        ids = [r[0] for r in cur.fetchall()]
        for n in range(5):  # several updates per row; the large address stays untouched
            cur.execute("UPDATE users SET name = %s, age = %s WHERE id = %s", (f"Zoë v{n}", n, ids[0]))
        cur.execute("UPDATE users SET phone = NULL, email = 'moved@example.org' WHERE id = %s", (ids[1],))
        # user_uuid is in the sorting key: the row must move, not be duplicated
        cur.execute("UPDATE users SET user_uuid = gen_random_uuid() WHERE id = %s", (ids[1],))
        cur.execute("DELETE FROM users WHERE id IN (SELECT id FROM users WHERE name LIKE %s ORDER BY id LIMIT 20)",
                    (SNAPSHOT_MARK + "%",))
    with pg(stack, "telemetry_db") as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
            " signal_amplitude, created_ts, saved_ts) VALUES"
            " (gen_random_uuid(), 'leg', 'quadriceps', 0, 0, 0.0, '2026-01-01 00:00:00.000001', '2026-01-01 00:00:00.5'),"
            " (gen_random_uuid(), 'arm', 'триц', -1, 2147483647, 1.7976931348623157e308, now(), now()),"
            " (gen_random_uuid(), 'arm', '', 5, 5, 5e-324, now(), now()),"
            " (gen_random_uuid(), 'arm', 'x', 5, 5, -123.456789012345, now(), now())"
        )
        cur.execute("UPDATE telemetry_events SET signal_amplitude = signal_amplitude * 2 WHERE id % 10 = 0")
        cur.execute("UPDATE telemetry_events SET user_uuid = gen_random_uuid() WHERE id % 10 = 3")
        cur.execute("DELETE FROM telemetry_events WHERE id % 7 = 0")
    users = wait_converged(stack, USERS)
    assert users[ids[0]][2] == "Zoë v4" and users[ids[0]][7] == big
    wait_converged(stack, TELEMETRY_EVENTS)
    no_duplicate_keys(stack, USERS)
    no_duplicate_keys(stack, TELEMETRY_EVENTS)


def test_a_huge_value_arrives_exactly(stack, cdc):
    """A 5 MB text (incompressible) inserted, then its row updated: 5 and 10 MB change messages."""
    import base64

    huge = base64.b64encode(os.urandom(3_750_000)).decode()  # 5,000,000 characters
    letters = int(olap_admin(stack).command("SELECT count() FROM debezium.dead_letters"))
    with pg(stack, "crm_db") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, address) VALUES ('huge', 'h@example.org', %s) RETURNING id", (huge,))
        user_id = cur.fetchone()[0]
        cur.execute("UPDATE users SET name = 'huge v2' WHERE id = %s", (user_id,))  # before + after image
    users = wait_converged(stack, USERS)
    assert users[user_id][2] == "huge v2" and users[user_id][7] == huge
    assert int(olap_admin(stack).command("SELECT count() FROM debezium.dead_letters")) == letters


def test_nan_and_infinity_arrive_as_such(stack, cdc):
    """Non-finite doubles cross Debezium's JSON as strings; the views store them, not dead letters."""
    letters = int(olap_admin(stack).command("SELECT count() FROM debezium.dead_letters"))
    with pg(stack, "telemetry_db") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency,"
                    " signal_duration, signal_amplitude, created_ts) SELECT gen_random_uuid(), 'hand', 'nonfinite',"
                    " 1, 1, a, now() FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity']::float8[]) a RETURNING id")
        ids = [row[0] for row in cur.fetchall()]
    olap, deadline = olap_admin(stack), time.monotonic() + CONVERGE_SECONDS
    while True:
        stored = olap.query("SELECT id, toString(signal_amplitude) FROM debezium.telemetry_events FINAL "
                            "WHERE id IN {ids:Array(Int64)} ORDER BY id", parameters={"ids": ids}).result_rows
        if len(stored) == 3:
            break
        assert time.monotonic() < deadline, f"non-finite rows not in ClickHouse after {CONVERGE_SECONDS}s: {stored}"
        time.sleep(0.5)
    assert [value for _id, value in stored] == ["nan", "inf", "-inf"]
    assert int(olap.command("SELECT count() FROM debezium.dead_letters")) == letters
    # NaN never equals itself: remove the rows so the row-for-row checks of later tests stay exact.
    with pg(stack, "telemetry_db") as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM telemetry_events WHERE id = ANY(%s)", (ids,))
    wait_converged(stack, TELEMETRY_EVENTS)


def test_edge_doubles_arrive_bit_for_bit_and_reconcile_as_equal(stack, cdc):
    """-0.0 keeps its sign, subnormals and the extremes every bit: the row hash agrees with the source's."""
    import struct

    from bionicflow.kernel.sources import reader_sources
    from bionicflow.reconcile.compare import compare_table

    edges = [-0.0, 5e-324, -1e-310, 2.2250738585072014e-308, 1.7976931348623157e308, -0.1]
    with pg(stack, "telemetry_db") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency,"
                    " signal_duration, signal_amplitude, created_ts) SELECT gen_random_uuid(), 'hand', 'edge',"
                    " 1, 1, a, now() FROM unnest(%s::float8[]) a RETURNING id, signal_amplitude", (edges,))
        written = dict(cur.fetchall())
    bits = {k: struct.unpack("<Q", struct.pack("<d", v))[0] for k, v in written.items()}
    olap, deadline = olap_admin(stack), time.monotonic() + CONVERGE_SECONDS
    while True:
        stored = dict(olap.query("SELECT id, reinterpretAsUInt64(signal_amplitude) FROM debezium.telemetry_events "
                                 "FINAL WHERE id IN {ids:Array(Int64)}", parameters={"ids": list(bits)}).result_rows)
        if len(stored) == len(bits):
            break
        assert time.monotonic() < deadline, f"edge rows not in ClickHouse after {CONVERGE_SECONDS}s: {stored}"
        time.sleep(0.5)
    assert stored == bits
    debezium = [r for r in compare_table(olap, TELEMETRY_EVENTS, reader_sources(stack)["telemetry_events"],
                                         sides=("debezium",)) if r.side == "debezium"]
    assert debezium[0].differing_rows == 0, debezium


def test_malformed_message_is_dead_lettered_and_stream_goes_on(stack, cdc):
    """Bad input in the topic: not JSON, a tombstone, another table, a value that does not fit."""
    producer = Producer({"bootstrap.servers": f"{stack.host}:{stack.kafka_port}"})
    marker = f"garbage-{uuid.uuid4().hex}"
    tombstone_key = f"tombstone-{marker}".encode()
    huge_number = {"payload": {"op": "c", "source": {"table": "users", "lsn": 1, "ts_us": 1}, "after": {
        "id": 10**12 + 7, "user_uuid": marker, "name": "n", "email": "e", "age": 10**30, "registered_at": 1}}}
    producer.produce(USERS.topic, value=f"{{not json {marker}".encode())
    producer.produce(USERS.topic, key=tombstone_key, value=None)
    producer.produce(USERS.topic, value=json.dumps({"payload": {"op": "c", "after": {"id": 1},
                                                                "source": {"table": "elsewhere"}}}).encode())
    producer.produce(USERS.topic, value=json.dumps(huge_number).encode())
    assert producer.flush(30) == 0
    with pg(stack, "crm_db") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email) VALUES ('after garbage', 'ag@example.org')")
    wait_converged(stack, USERS)  # the stream went on; the key 10**12 + 7 was not stored with age 0
    olap, deadline = olap_admin(stack), time.monotonic() + 60
    wanted = {"not valid JSON": marker, "empty message (tombstone or null value)": "",
              "message is for table elsewhere, not users": "elsewhere",
              # ClickHouse keeps an integer beyond UInt64 as quoted text
              'column age: value "1000000000000000000000000000000" does not fit Nullable(Int64)': marker}
    while True:
        errors = olap.query(
            "SELECT error, raw_value FROM debezium.dead_letters WHERE topic = {t:String}", parameters={"t": USERS.topic}
        ).result_rows
        missing = [e for e, raw in wanted.items() if not any(error == e and raw in value for error, value in errors)]
        if not missing:
            break
        assert time.monotonic() < deadline, f"dead letters not recorded within 60s: {missing}; have {errors}"
        time.sleep(0.5)


def test_dead_letters_are_summarised_counted_and_replayed(stack, cdc):
    """A usable change dead-lettered for a passing reason (as the consumer records a refused batch):
    `status` counts it, `cdc dead-letters` names the cause, `--replay` applies it. Its old position
    (offset 0) must not override the newer state of its key."""
    olap = olap_admin(stack)
    columns = USERS.business_columns
    current = dict(zip(columns, olap.query(f"SELECT {', '.join(columns)} FROM debezium.users FINAL "
                                           "WHERE _version > 1 ORDER BY user_id LIMIT 1").result_rows[0]))
    image = {c.source: current[c.name] for c in USERS.columns}
    image["registered_at"] = int(current["registered_at"].replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    image["name"] = "stale, must not win"
    raw = json.dumps({"payload": {"op": "r", "before": None, "after": image,
                                  "source": {"table": "users", "lsn": 0, "ts_us": 0}}})
    olap.command("INSERT INTO debezium.dead_letters (topic, partition, offset, raw_value, error) VALUES "
                 "({t:String}, 0, 0, {raw:String}, 'rejected by ClickHouse: test')",
                 parameters={"t": USERS.topic, "raw": raw})
    assert json.loads(cli("status", "--json").stdout)["lag"]["users"]["dead_letters"] >= 1
    causes = json.loads(cli("cdc", "dead-letters", "--json").stdout)
    assert any(c["table"] == "users" and c["cause"] == "rejected by ClickHouse" for c in causes), causes
    replayed = cli("cdc", "dead-letters", "--replay", "users")
    assert replayed.returncode == 0 and "users: 1 applied" in replayed.stderr, replayed.stderr
    left = olap.command("SELECT count() FROM debezium.dead_letters WHERE topic = {t:String} AND offset = 0 "
                        "AND error = 'rejected by ClickHouse: test'", parameters={"t": USERS.topic})
    assert int(left) == 0
    wait_converged(stack, USERS)  # the stale image was applied at version 1 (offset 0) and lost to the newer one
    unknown = cli("cdc", "dead-letters", "--replay", "orders")
    assert unknown.returncode == 2 and "use one of: users, telemetry_events" in unknown.stderr


def test_connector_registration_is_idempotent_and_updates_config(stack, cdc):
    specs = load_connectors()
    assert [cdc.upsert(s) for s in specs] == [False, False]
    changed = specs[0].config | {"heartbeat.interval.ms": "9000"}
    try:
        assert cdc.upsert(dataclasses.replace(specs[0], config=changed)) is True
        assert cdc.config(specs[0].name)["heartbeat.interval.ms"] == "9000"
        assert {s.name for s in specs} <= set(cdc.statuses())
    finally:
        assert cdc.upsert(specs[0]) is True
    cdc.wait_running([s.name for s in specs])
    assert len([n for n in cdc.statuses() if n.endswith("-connector")]) == 2


def test_initial_load_by_clickhouse_copy_then_stream_is_exact(stack, cdc):
    """Initial load "olap": a connector that streams without a snapshot, plus ClickHouse's own copy of
    the table (the read-only ETL role through `postgresql()`), equal the source; changes made after
    the copy stream over it; a second bootstrap copies nothing."""
    crm = next(s for s in load_connectors() if s.name == "crm-connector")
    olap = olap_admin(stack)
    try:
        # as `bootstrap --initial-load olap` creates it (this one keeps its offsets, so it only streams)
        assert cdc.upsert(dataclasses.replace(crm, config={**crm.config, "snapshot.mode": "no_data"})) is True
        cdc.wait_running([crm.name])
        olap.command("TRUNCATE TABLE debezium.users")
        olap.command("DROP TABLE IF EXISTS debezium.initial_loads")
        result = run_all(from_settings(stack, initial="olap"))
        assert [(c["table"], c["rows"]) for c in result.copied] == [("users", len(source_rows(stack, USERS)))]
        assert olap.command("SELECT countIf(_version = 0 AND _op = 'r') = count() FROM debezium.users") == 1
        wait_converged(stack, USERS)
        with pg(stack, "crm_db") as conn, conn.cursor() as cur:
            cur.execute("SELECT min(id), max(id) FROM users")
            low, high = cur.fetchone()
            cur.execute("UPDATE users SET name = 'changed after the copy', age = 77 WHERE id = %s", (high,))
            cur.execute("DELETE FROM users WHERE id = %s", (low,))
            cur.execute("INSERT INTO users (name, email) VALUES ('inserted after the copy', 'i@example.org')")
        rows = wait_converged(stack, USERS)
        assert low not in rows and rows[high][2] == "changed after the copy"
        no_duplicate_keys(stack, USERS)
        again = run_all(from_settings(stack, initial="olap"))
        assert again.copied == [] and again.changed_connectors == []
    finally:
        cdc.upsert(crm)  # the file's mode again; with its offsets the connector streams on, no re-snapshot
        cdc.wait_running([crm.name])
