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
    assert all("that bionicflow does not copy" in line for line in new)
    assert {line.split(" has a column ")[1].split(" ")[0] for line in new} == {"phone_number", "note"}


def test_a_missing_table_is_said_so():
    assert column_drift(USERS, []) == ["crm_db.users is missing or has no columns"]
