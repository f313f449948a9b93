"""The change journal an added table gets in its source: its statements and when a load may trust it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bionicflow.etl.added_tables import _why_not_journal
from bionicflow.kernel.cursors import Cursor
from bionicflow.kernel.pg_catalogue import RESERVED_COLUMNS
from bionicflow.kernel.source_journal import (GONE_COLUMN, TRIGGER_NAMES, XID_COLUMN, JournalState, drop_journal_ddl,
                                              journal_ddl)
from tests.support.catalogue import DESCRIBED

JOURNAL = JournalState("0b1d", complete_from=100, snapshot_xmin=150, next_xid=151, changed=True)


def _cursor(xid: int, identity: str = JOURNAL.identity) -> Cursor:
    return Cursor(identity, 0, xid, xid + 1)


def test_the_journal_is_keyed_by_every_column_of_a_composite_key():
    ddl = "\n".join(journal_ddl(DESCRIBED, "lines"))
    assert 'CREATE TABLE "bionicflow"."lines_changes" AS SELECT t."order_id", t."line_no" FROM "sales"."order lines"' \
        in ddl  # the key's own types, taken from the table
    assert 'ON CONFLICT ("order_id", "line_no")' in ddl
    # an update that moves a row notes its old key as gone: found by the whole key, not one part of it
    assert 'n."order_id" = o."order_id" AND n."line_no" = o."line_no"' in ddl
    assert 'ON t."order_id" = j."order_id" AND t."line_no" = j."line_no"' in ddl


def test_its_triggers_fire_always_and_are_not_the_brief_tables_own():
    ddl = journal_ddl(DESCRIBED, "lines")
    for trigger in TRIGGER_NAMES:
        assert f'ENABLE ALWAYS TRIGGER {trigger}' in "\n".join(ddl)
        assert not trigger.startswith("bionicflow_journal_")  # sources/batch_views.sql's names
    assert any("AFTER TRUNCATE" in s and "lines_truncated" in s for s in ddl)


def test_the_journal_columns_are_names_no_source_column_may_take():
    assert {XID_COLUMN, GONE_COLUMN} <= RESERVED_COLUMNS


def test_removing_a_dropped_table_drops_no_trigger_of_it():
    assert not any("DROP TRIGGER" in s for s in drop_journal_ddl(DESCRIBED, "lines", table_exists=False))
    assert sum("DROP TRIGGER" in s for s in drop_journal_ddl(DESCRIBED, "lines")) == len(TRIGGER_NAMES)


def test_an_incremental_load_reads_the_journal_from_a_cursor_it_left():
    assert _why_not_journal("incremental", JOURNAL, _cursor(120), made=False) == ""
    assert JOURNAL.trusts(120, JOURNAL.identity)


@pytest.mark.parametrize(("mode", "journal", "cursor", "made", "says"), [
    ("full", JOURNAL, _cursor(120), False, "mode full"),
    ("window", JOURNAL, _cursor(120), False, "mode window"),
    ("incremental", replace(JOURNAL, journal_id=None), _cursor(120), False, "missing or disabled"),
    ("incremental", JOURNAL, _cursor(120), True, "missing or disabled"),
    ("incremental", JOURNAL, None, False, "its first load"),
    ("incremental", JOURNAL, _cursor(120, "journal another"), False, "its first load"),
    ("incremental", JOURNAL, _cursor(99), False, "TRUNCATE"),  # below the journal's completeness
])
def test_a_load_the_journal_cannot_serve_copies_the_table_whole_and_says_why(mode, journal, cursor, made, says):
    why = _why_not_journal(mode, journal, cursor, made)
    assert says in why and "whole copy" in why
