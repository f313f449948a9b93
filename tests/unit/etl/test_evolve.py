"""The batch road's schema evolution: which source columns `default` gets, and when the load copies all (pure logic)."""

from bionicflow.etl.evolve import clickhouse_type, plan
from bionicflow.kernel.tables import USERS

SOURCE = [(c.source, "text") for c in USERS.columns]
DEFAULT = [(c.name, c.type) for c in USERS.columns] + [("_version", "UInt64"), ("_loaded_at", "DateTime64(6)")]


def test_nothing_new_loads_as_defined():
    evolution = plan(USERS, SOURCE, DEFAULT)
    assert evolution.table == USERS and evolution.new == () and evolution.refused == () and evolution.reason == ""
    assert not evolution.reshaped


def test_a_new_source_column_is_added_and_makes_the_load_copy_the_table_whole():
    evolution = plan(USERS, SOURCE + [("note", "text"), ("score", "integer")], DEFAULT)
    assert [(c.name, c.type) for c in evolution.new] == [("note", "Nullable(String)"), ("score", "Nullable(Int64)")]
    assert evolution.table.business_columns[-2:] == ["note", "score"]
    assert "note, score" in evolution.reason and "whole" in evolution.reason


def test_a_column_default_already_has_is_loaded_and_not_new():
    evolution = plan(USERS, SOURCE + [("note", "text")], DEFAULT + [("note", "Nullable(String)")])
    assert evolution.new == () and evolution.table.business_columns[-1] == "note"


def test_a_column_the_source_dropped_is_left_out_and_the_table_copied_whole_without_it():
    evolution = plan(USERS, SOURCE, DEFAULT + [("note", "Nullable(String)")])
    assert "note" not in evolution.table.business_columns and evolution.new == () and evolution.dropped == ("note",)
    assert evolution.reshaped and "dropped column(s) note" in evolution.reason


def test_types_follow_the_cdc_road_and_others_are_refused_with_the_reason():
    assert clickhouse_type("smallint") == clickhouse_type("bigint") == "Nullable(Int64)"
    assert clickhouse_type("double precision") == clickhouse_type("real") == "Nullable(Float64)"
    for text in ("text", "character varying(20)", "character(3)", "uuid", "jsonb", "enum"):
        assert clickhouse_type(text) == "Nullable(String)", text
    assert clickhouse_type("timestamp without time zone") == "Nullable(DateTime64(6))"
    assert clickhouse_type("timestamp with time zone") is None and clickhouse_type("numeric(10,2)") is None
    evolution = plan(USERS, SOURCE + [("price", "numeric(10,2)"), ("Odd Name", "text")], DEFAULT)
    assert evolution.new == () and len(evolution.refused) == 2
    assert "price: type numeric(10,2) is not one bionicflow copies" in evolution.refused[0]
    assert "needs quoting" in evolution.refused[1]
