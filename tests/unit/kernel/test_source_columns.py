"""Differences between a source table's columns and the ones bionicflow copies (pure logic)."""

from bionicflow.kernel.source_columns import column_drift
from bionicflow.kernel.tables import USERS

COLUMNS = [c.source for c in USERS.columns]


def test_the_expected_columns_are_no_difference():
    assert column_drift(USERS, COLUMNS) == []
    assert column_drift(USERS, list(reversed(COLUMNS))) == []  # order does not matter


def test_a_new_column_and_a_renamed_one_are_each_named_with_what_they_do():
    actual = [c if c != "phone" else "phone_number" for c in COLUMNS] + ["note"]
    lines = column_drift(USERS, actual)
    assert len(lines) == 3, lines
    gone, *new = lines
    assert gone.startswith("crm_db.users has no column phone any more") and "users_olap" in gone
    assert all("that neither `default` nor `debezium` copies yet" in line for line in new)
    assert {line.split(" has a column ")[1].split(" ")[0] for line in new} == {"phone_number", "note"}


def test_a_missing_table_is_said_so():
    assert column_drift(USERS, []) == ["crm_db.users is missing or has no columns"]


def test_a_column_the_cdc_road_added_is_named_as_copied_by_debezium_only():
    from bionicflow.kernel.tables import Column

    grown = USERS.with_columns((Column("note", "Nullable(String)", "note", "string", added=True),))
    lines = column_drift(grown, COLUMNS + ["note"])
    assert len(lines) == 1 and "`debezium` copies (added by the CDC road)" in lines[0] and "`default`" in lines[0]
    dropped = column_drift(grown, COLUMNS)  # the source dropped it again
    assert len(dropped) == 1 and "has no column note any more" in dropped[0]


def test_a_column_each_road_added_is_named_until_both_have_it():
    from bionicflow.kernel.tables import Column

    note = (Column("note", "Nullable(String)", "note", "string", added=True),)
    batch_only = column_drift(USERS, COLUMNS + ["note"], in_default=frozenset({"note"}))
    assert len(batch_only) == 1 and "`default` copies (added by the batch road)" in batch_only[0]
    assert column_drift(USERS.with_columns(note), COLUMNS + ["note"], in_default=frozenset({"note"})) == []
    gone = column_drift(USERS, COLUMNS, in_default=frozenset({"note"}))
    assert len(gone) == 1 and gone[0].startswith("crm_db.users has no column note any more"), gone
