import json

import chdb
import pytest

from bionicflow.cdc import ddl as schema
from bionicflow.kernel import tables
from tests.support.chdb_engine import engine, insert_changes


def test_views_are_the_same_text_in_both_deployments():
    embedded, kafka = schema.render("embedded"), schema.render("kafka")
    views = lambda stmts: [s for s in stmts if "MATERIALIZED VIEW" in s]  # noqa: E731
    assert views(embedded) == views(kafka) and len(views(embedded)) == 8  # 3 per table + 2 snapshot marks
    assert any("ENGINE = Null" in s for s in embedded) and not any("ENGINE = Kafka" in s for s in embedded)
    kafka_tables = [s for s in kafka if "ENGINE = Kafka" in s]
    assert len(kafka_tables) == 2
    assert all("kafka_handle_error_mode = 'stream'" in s and "kafka_skip_broken_messages" not in s for s in kafka_tables)


def test_brief_names_and_columns():
    statements = "\n".join(schema.render("embedded"))
    for name in ("users", "telemetry_events", "users_kafka", "telemetry_events_kafka", "users_mv",
                 "telemetry_events_mv", "dead_letters"):
        assert f"debezium.{name}" in statements
    assert tables.USERS.business_columns == ["user_id", "user_uuid", "name", "email", "age", "gender", "country",
                                             "address", "phone", "registered_at"]
    assert tables.TELEMETRY_EVENTS.business_columns[-2:] == ["created_ts", "saved_ts"]


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="embedded"):
        schema.kafka_table_ddl(tables.USERS, "cluster")


@pytest.mark.parametrize("mode", ["embedded", "kafka"])
def test_every_statement_parses_in_the_clickhouse_engine(mode):
    conn = chdb.connect(":memory:")
    for statement in schema.render(mode):
        conn.query(f"EXPLAIN AST {statement}")  # raises on a syntax error


def test_messages_become_rows_or_dead_letters(tmp_path):
    """The views' semantics on hand-made Debezium messages, in the real engine."""
    conn = engine(tmp_path)

    def msg(op, before, after, lsn, table="users"):
        return json.dumps({"schema": {}, "payload": {"before": before, "after": after, "op": op,
                                                     "source": {"lsn": lsn, "ts_us": 1_700_000_000_000_001, "table": table}}})

    row = {"id": 1, "user_uuid": "u", "name": "a", "email": "e", "age": None, "gender": None, "country": "DE",
           "address": "", "phone": None, "registered_at": 1_700_000_000_123_456}
    messages = [msg("r", None, row, 10), msg("u", row, dict(row, name="b", age=3), 30), msg("c", None, dict(row, id=2), 20),
                msg("d", dict(row, id=2), None, 40), "{oops", "", msg("x", None, row, 50),
                msg("c", None, row, 60, table="orders"), msg("c", None, {"name": "no key"}, 70)]
    with conn.send_insert("INSERT INTO debezium.users_kafka", "JSONEachRow") as ins:
        for offset, value in enumerate(messages):
            ins.append(json.dumps({"payload": value, "_topic": "crm.public.users", "_partition": 0, "_offset": offset}) + "\n")
        ins.finish()
    final = conn.query("SELECT user_id, name, age, registered_at FROM debezium.users FINAL ORDER BY user_id", "TSV").bytes()
    assert final.decode() == "1\tb\t3\t2023-11-14 22:13:20.123456\n"  # newest LSN wins; the deleted key is gone
    errors = conn.query("SELECT offset, error FROM debezium.dead_letters ORDER BY offset", "TSV").bytes().decode()
    assert errors.splitlines() == [
        "4\tnot valid JSON", "5\tempty message (tombstone or null value)", "6\tunknown or missing payload.op: x",
        "7\tmessage is for table orders, not users", "8\trow image has no id",
    ]


def test_an_update_of_a_sorting_key_column_moves_the_row(tmp_path):
    """user_uuid is in the sorting key: changing it must leave one live row, at the new position."""
    conn = engine(tmp_path)
    row = {"id": 7, "event_uuid": "e7", "user_uuid": "old", "prosthesis_type": "arm", "muscle_group": "biceps",
           "signal_frequency": 5, "signal_duration": 9, "signal_amplitude": 1.5,
           "created_ts": 1_700_000_000_000_000, "saved_ts": 1_700_000_000_000_000}
    moved, back = dict(row, user_uuid="new"), dict(row, user_uuid="old", signal_duration=11)
    changes = [("c", None, row), ("u", row, moved), ("u", dict(moved, signal_duration=10), dict(moved, signal_duration=10))]

    live = "SELECT id, user_uuid, signal_duration FROM debezium.telemetry_events FINAL ORDER BY user_uuid"
    insert_changes(conn, tables.TELEMETRY_EVENTS, changes)
    assert conn.query(live, "TSV").bytes().decode() == "7\tnew\t10\n"
    deletes = conn.query("SELECT user_uuid, _op FROM debezium.telemetry_events WHERE is_deleted", "TSV").bytes().decode()
    assert deletes == "old\td\n"  # the old position, deleted by the moving update
    insert_changes(conn, tables.TELEMETRY_EVENTS, [("u", dict(moved, signal_duration=10), back)], 10)  # and back again: the newer row wins over the delete
    assert conn.query(live, "TSV").bytes().decode() == "7\told\t11\n"


def test_values_that_do_not_fit_their_column_are_dead_lettered(tmp_path):
    """The JSON extract functions would store 0 or '' for these; the views dead-letter them instead."""
    conn = engine(tmp_path)
    row = {"id": 1, "user_uuid": "u", "name": "a", "email": "e", "age": None, "gender": None, "country": None,
           "address": None, "phone": None, "registered_at": 1_700_000_000_000_000}
    changes = [
        ("c", None, dict(row, id=1, age=1e30)),  # a number beyond Int64 (e.g. a NUMERIC source column)
        ("c", None, dict(row, id=2, user_uuid=5)),  # a number where text belongs
        ("c", None, dict(row, id=3, name=None)),  # null in a non-nullable column
        ("c", None, dict(row, id=4, registered_at="2026-01-01")),  # text where epoch microseconds belong
        ("c", None, dict(row, id=9223372036854775808)),  # the key itself beyond Int64
        ("c", None, {k: v for k, v in dict(row, id=5).items() if k != "email"}),  # a column missing
        ("c", None, dict(row, id=6, age=-9223372036854775808, country="NZ")),  # fits exactly
        ("c", None, dict(row, id=7)),
        ("d", dict(row, id=7, name=None), None),  # a delete needs only its sorting key
    ]
    insert_changes(conn, tables.USERS, changes)
    final = conn.query("SELECT user_id, age, country FROM debezium.users FINAL ORDER BY user_id", "TSV").bytes().decode()
    assert final == "6\t-9223372036854775808\tNZ\n"
    errors = conn.query("SELECT offset, error FROM debezium.dead_letters ORDER BY offset", "TSV").bytes().decode()
    assert errors.splitlines() == [
        "0\tcolumn age: value 1e30 does not fit Nullable(Int64)",
        "1\tcolumn user_uuid: value 5 does not fit String",
        "2\tcolumn name: missing or null does not fit String",
        "3\tcolumn registered_at: value \"2026-01-01\" does not fit DateTime64(6)",
        "4\tcolumn user_id: value 9223372036854775808 does not fit Int64",
        "5\tcolumn email: missing or null does not fit String",
    ]


def test_a_float_column_takes_integers_and_non_finite_values_but_not_other_text(tmp_path):
    conn = engine(tmp_path)
    row = {"id": 1, "event_uuid": "e", "user_uuid": "u", "prosthesis_type": "arm", "muscle_group": "biceps",
           "signal_frequency": 5, "signal_duration": 9, "signal_amplitude": 3,
           "created_ts": 1_700_000_000_000_000, "saved_ts": 1_700_000_000_000_000}
    # Kafka's JSON converter writes NaN and the infinities as strings.
    amplitudes = [3, "NaN", "Infinity", "-Infinity", "3.5"]
    insert_changes(conn, tables.TELEMETRY_EVENTS,
                    [("c", None, dict(row, id=n, signal_amplitude=a)) for n, a in enumerate(amplitudes)])
    stored = conn.query("SELECT id, signal_amplitude FROM debezium.telemetry_events FINAL ORDER BY id", "TSV").bytes()
    assert stored.decode().splitlines() == ["0\t3", "1\tnan", "2\tinf", "3\t-inf"]
    assert conn.query("SELECT offset, error FROM debezium.dead_letters", "TSV").bytes().decode() == (
        "4\tcolumn signal_amplitude: value \"3.5\" does not fit Float64\n")


def test_floats_arrive_bit_for_bit_negative_zero_and_subnormals_included(tmp_path):
    import struct

    conn = engine(tmp_path)
    row = {"id": 1, "event_uuid": "e", "user_uuid": "u", "prosthesis_type": "arm", "muscle_group": "biceps",
           "signal_frequency": 5, "signal_duration": 9, "signal_amplitude": 3,
           "created_ts": 1_700_000_000_000_000, "saved_ts": 1_700_000_000_000_000}
    amplitudes = [-0.0, 0.0, 5e-324, -1e-310, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, -123.456]
    changes = [("c", None, dict(row, id=n, signal_amplitude=a)) for n, a in enumerate(amplitudes)]
    changes.append(("u", dict(row, id=0), dict(row, id=0, signal_amplitude=-0.0, muscle_group="again")))
    insert_changes(conn, tables.TELEMETRY_EVENTS, changes)
    stored = conn.query("SELECT id, reinterpretAsUInt64(signal_amplitude) FROM debezium.telemetry_events FINAL "
                        "ORDER BY id", "TSV").bytes().decode().splitlines()
    expected = [f"{n}\t{struct.unpack('<Q', struct.pack('<d', a))[0]}" for n, a in enumerate(amplitudes)]
    assert stored == expected
