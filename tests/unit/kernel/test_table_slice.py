"""Which rows of an added table a backfill reads again, said the same way to PostgreSQL and to ClickHouse."""

from __future__ import annotations

from datetime import datetime

import pytest

from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable
from bionicflow.kernel.pg_types import PgType, clickhouse_type
from bionicflow.kernel.table_slice import SliceRefused, choose_slice


def _column(name: str, pg: str, nullable: bool = True) -> SourceColumn:
    typ = PgType(pg, "b")
    return SourceColumn(name, typ, pg, not nullable, clickhouse_type(typ, nullable))


START, END = datetime(2026, 1, 1, 10), datetime(2026, 1, 2)
EVENTS = SourceTable("public", "events", (_column("id", "int8", False), _column("at", "timestamptz"),
                                          _column("note", "text")), key=("id",), replica_identity="f")
TWO_TIMES = SourceTable("public", "two", (_column("id", "int4", False), _column("made", "timestamp"),
                                          _column("due", "date")), key=("id",), replica_identity="f")
BY_UUID = SourceTable("public", "u", (_column("id", "uuid", False), _column("v", "text")), key=("id",),
                      replica_identity="f")


def test_a_window_applies_to_the_tables_one_time_column_in_both_languages():
    chosen = choose_slice("events", EVENTS, START, END)
    assert chosen.column.name == "at"
    assert chosen.pg_filter() == ('"at" >= CAST(\'2026-01-01 10:00:00+00\' AS timestamptz) '
                                  'AND "at" < CAST(\'2026-01-02 00:00:00+00\' AS timestamptz)')
    condition, bound = chosen.ch_filter()
    assert condition == "`at` >= {slice_lower:DateTime64(6, 'UTC')} AND `at` < {slice_upper:DateTime64(6, 'UTC')}"
    assert bound == {"slice_lower": START, "slice_upper": END}


def test_with_two_time_columns_the_run_names_one():
    with pytest.raises(SliceRefused, match="2 time columns .timestamp, timestamptz or date: made, due.: name one"):
        choose_slice("two", TWO_TIMES, START, END)
    due = choose_slice("two", TWO_TIMES, START, END, time_column="due")
    assert due.pg_filter().startswith('"due" >= CAST(\'2026-01-01 10:00:00\' AS timestamp)')  # a date vs an instant
    with pytest.raises(SliceRefused, match="no timestamp, timestamptz or date column 'nope'"):
        choose_slice("two", TWO_TIMES, START, END, time_column="nope")


def test_a_key_range_needs_an_integer_key_and_both_ends():
    ranged = choose_slice("events", EVENTS, START, END, key_from=100, key_to=200)
    assert ranged.pg_filter() == '"id" >= CAST(\'100\' AS int8) AND "id" < CAST(\'200\' AS int8)'
    assert ranged.what == "key range 100 .. 200 on id"
    with pytest.raises(SliceRefused, match="key_from < key_to"):
        choose_slice("events", EVENTS, START, END, key_from=5)
    with pytest.raises(SliceRefused, match="uuid: a key range needs an integer key"):
        choose_slice("u", BY_UUID, START, END, key_from=1, key_to=2)
    with pytest.raises(SliceRefused, match="not both"):  # one of the two would be ignored without a word
        choose_slice("events", EVENTS, START, END, time_column="at", key_from=1, key_to=2)


def test_a_table_with_no_time_column_and_no_integer_key_is_pointed_at_a_whole_copy():
    with pytest.raises(SliceRefused, match="no time columns .timestamp, timestamptz or date: none.: run etl_default"):
        choose_slice("u", BY_UUID, START, END)
