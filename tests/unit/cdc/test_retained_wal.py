"""When a replication slot's retained WAL is a problem, and what the warning says (pure logic)."""

from bionicflow.cdc.monitor import retained_wal_problems

MIB = 1024**2


def test_only_slots_over_the_limit_are_problems_and_the_line_says_what_to_do():
    slots = {"crm_debezium_slot": (300 * MIB, True), "telemetry_debezium_slot": (2 * MIB, True),
             "abandoned_slot": (900 * MIB, False)}
    problems = retained_wal_problems(slots, limit_bytes=100 * MIB)
    assert len(problems) == 2
    abandoned, crm = problems  # sorted by slot name
    assert "abandoned_slot holds back 900.0 MiB" in abandoned and "no client is reading it" in abandoned
    assert "pg_drop_replication_slot('abandoned_slot')" in abandoned
    assert "crm_debezium_slot holds back 300.0 MiB of WAL (limit 100.0 MiB)" in crm and "no client" not in crm


def test_at_the_limit_is_not_over_it():
    assert retained_wal_problems({"s": (100, True)}, limit_bytes=100) == []
