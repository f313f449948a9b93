"""The PostgreSQL → ClickHouse type mapping: exact where ClickHouse can be, named text form where not."""

import pytest

from bionicflow.kernel.pg_types import PgType, clickhouse_type, key_refusal, numeric_precision_scale


def _typmod(precision: int, scale: int) -> int:
    """numeric(p, s)'s atttypmod as PostgreSQL computes it (numeric.c, make_numeric_typmod)."""
    return ((precision << 16) | (scale & 0x7FF)) + 4


@pytest.mark.parametrize(("name", "expected"), [
    ("int2", "Int16"), ("int4", "Int32"), ("int8", "Int64"), ("float4", "Float32"), ("float8", "Float64"),
    ("bool", "Bool"), ("text", "String"), ("varchar", "String"), ("bpchar", "String"), ("uuid", "UUID"),
    ("date", "Date32"), ("timestamp", "DateTime64(6)"), ("timestamptz", "DateTime64(6, 'UTC')"),
    ("json", "String"), ("jsonb", "String"), ("bytea", "String"), ("time", "Time64(6)"),
])
def test_every_exact_scalar_type_has_a_native_column(name, expected):
    mapped = clickhouse_type(PgType(name, "b"), nullable=False)
    assert (mapped.type, mapped.text_form) == (expected, "")
    assert clickhouse_type(PgType(name, "b"), nullable=True).type == f"Nullable({expected})"


@pytest.mark.parametrize(("precision", "scale", "expected"), [
    (12, 2, "Decimal(12, 2)"), (1, 0, "Decimal(1, 0)"), (76, 10, "Decimal(76, 10)"),
    (5, -2, "Decimal(7, 0)"),  # rounds to hundreds: up to 9,999,900 needs seven digits
    (2, 5, "Decimal(5, 5)"),  # values below 0.001: five digits after the point
])
def test_numeric_with_precision_is_a_decimal_that_holds_every_value(precision, scale, expected):
    assert numeric_precision_scale(_typmod(precision, scale)) == (precision, scale)
    mapped = clickhouse_type(PgType("numeric", "b", _typmod(precision, scale)), nullable=False)
    assert (mapped.type, mapped.kind, mapped.text_form) == (expected, "decimal", "")


def test_numeric_wider_than_clickhouse_or_unconstrained_is_exact_text_and_says_why():
    wide = clickhouse_type(PgType("numeric", "b", _typmod(100, 2)), nullable=False)
    assert wide.type == "String" and "76" in wide.text_form
    free = clickhouse_type(PgType("numeric", "b", -1), nullable=True)
    assert free.type == "Nullable(String)" and free.kind == "decimal"
    assert "NaN" in free.text_form and "numeric(p,s)" in free.text_form


@pytest.mark.parametrize("name", ["interval", "timetz", "inet", "cidr", "macaddr", "macaddr8", "money",
                                  "tsvector", "xml", "point", "int4range", "hstore"])
def test_types_without_an_exact_column_are_named_as_text_form(name):
    mapped = clickhouse_type(PgType(name, "b"), nullable=False)
    assert mapped.type == "String"
    assert mapped.text_form, f"{name} is copied as text without saying so"


def test_an_enum_is_a_string_so_new_labels_never_break_a_copy():
    assert clickhouse_type(PgType("mood", "e"), nullable=False).type == "LowCardinality(String)"
    assert clickhouse_type(PgType("mood", "e"), nullable=True).type == "LowCardinality(Nullable(String))"


def test_a_not_null_array_is_an_array_of_nullable_elements():
    mapped = clickhouse_type(PgType("_int4", "b", element=PgType("int4", "b")), nullable=False)
    assert (mapped.type, mapped.kind, mapped.text_form) == ("Array(Nullable(Int32))", "array:int", "")
    numeric = PgType("_numeric", "b", _typmod(10, 3), element=PgType("numeric", "b", _typmod(10, 3)))
    assert clickhouse_type(numeric, nullable=False).type == "Array(Nullable(Decimal(10, 3)))"


def test_a_nullable_array_is_text_because_clickhouse_arrays_cannot_be_null():
    mapped = clickhouse_type(PgType("_text", "b", element=PgType("text", "b")), nullable=True)
    assert mapped.type == "Nullable(String)"
    assert "NOT NULL" in mapped.text_form


def test_an_array_of_a_text_form_type_holds_the_elements_text():
    mapped = clickhouse_type(PgType("_inet", "b", element=PgType("inet", "b")), nullable=False)
    assert mapped.type == "Array(Nullable(String))" and mapped.text_form


@pytest.mark.parametrize(("pg", "allowed"), [
    (PgType("int8", "b"), True), (PgType("uuid", "b"), True), (PgType("text", "b"), True),
    (PgType("numeric", "b", _typmod(10, 0)), True), (PgType("timestamptz", "b"), True),
    (PgType("float8", "b"), False), (PgType("jsonb", "b"), False), (PgType("interval", "b"), False),
    (PgType("_int4", "b", element=PgType("int4", "b")), False), (PgType("bytea", "b"), False),
])
def test_key_columns_are_limited_to_types_that_compare_the_same_everywhere(pg, allowed):
    refusal = key_refusal("k", pg, clickhouse_type(pg, nullable=False))
    assert (refusal == "") is allowed
    if not allowed:
        assert "k" in refusal and pg.name in refusal
