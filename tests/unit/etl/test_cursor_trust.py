"""When an incremental load trusts its cursor, and when it refreshes the whole table (pure logic)."""

from dataclasses import replace

import pytest

from bionicflow.etl.cursor_trust import XID_HORIZON, plan_incremental
from bionicflow.kernel.cursors import Cursor, SourceState

CLUSTER = "7714401700868736741"
NOW = SourceState(CLUSTER, filenode=16387, snapshot_xmin=5_000, next_xid=5_010)


def cursor(**changes) -> Cursor:
    base = {"system_identifier": CLUSTER, "filenode": 16387, "cursor_xid": 4_000, "next_xid": 4_020}
    return Cursor(**(base | changes))


def test_a_trusted_cursor_loads_from_where_the_previous_load_left_off():
    plan = plan_incremental(cursor(), NOW)
    assert (plan.full, plan.since_xid, plan.reason) == (False, 4_000, "")


def test_the_next_cursor_is_the_horizon_read_before_the_load():
    nxt = Cursor.after(NOW, "incremental")
    # transactions at or above snapshot_xmin may have been in progress while the load read: read again next time
    assert (nxt.cursor_xid, nxt.next_xid, nxt.filenode, nxt.mode) == (5_000, 5_010, 16387, "incremental")
    assert plan_incremental(nxt, SourceState(CLUSTER, 16387, 5_000, 5_010)).since_xid == 5_000


@pytest.mark.parametrize("previous, now, reason", [
    (None, NOW, "no cursor yet"),
    (cursor(system_identifier="1234"), NOW, "another PostgreSQL cluster"),
    (cursor(next_xid=9_000, cursor_xid=8_990), NOW, "transaction counter went back"),
    (cursor(filenode=16000), NOW, "TRUNCATE, VACUUM FULL or CLUSTER"),
    (cursor(cursor_xid=10, next_xid=20), SourceState(CLUSTER, 16387, XID_HORIZON, XID_HORIZON + 9), None),
    (cursor(cursor_xid=10, next_xid=20), SourceState(CLUSTER, 16387, XID_HORIZON + 5, XID_HORIZON + 10),
     "may have wrapped around"),
])
def test_an_untrusted_cursor_refreshes_the_whole_table_and_says_why(previous, now, reason):
    plan = plan_incremental(previous, now)
    if reason is None:  # just under 2^31 transactions since the cursor: still exact
        assert not plan.full
    else:
        assert plan.full and plan.since_xid is None and reason in plan.reason


EPOCH = "2026-12-01 21:05:11+00 / never"
# quiet: the cluster's latest commit (3,990) is below the cursors' position (4,000)
COUNTED = SourceState(CLUSTER, 16387, 5_000, 5_010, stats_epoch=EPOCH, rows_written=700, rows_removed=30,
                      last_commit_xid=3_990)


@pytest.mark.parametrize("previous, now, read_rows, sync_keys", [
    # same epoch, same counters: nothing was written, no key can have gone
    (cursor(stats_epoch=EPOCH, rows_written=700, rows_removed=30), COUNTED, False, False),
    # rows inserted or updated only
    (cursor(stats_epoch=EPOCH, rows_written=690, rows_removed=30), COUNTED, True, False),
    # an update or delete: keys may have gone
    (cursor(stats_epoch=EPOCH, rows_written=700, rows_removed=29), COUNTED, False, True),
    # the counters were reset (server restart, pg_stat_reset): nothing can be inferred
    (cursor(stats_epoch="2026-11-30 08:00:00+00 / never", rows_written=700, rows_removed=30), COUNTED, True, True),
    # counters off (track_counts) now, or unknown to a cursor written before they were kept
    (cursor(stats_epoch=EPOCH, rows_written=700, rows_removed=30),
     SourceState(CLUSTER, 16387, 5_000, 5_010, stats_epoch="", rows_written=700, rows_removed=30), True, True),
    (cursor(), COUNTED, True, True),
])
def test_the_row_counters_say_what_work_a_load_may_skip(previous, now, read_rows, sync_keys):
    plan = plan_incremental(previous, now)
    assert (plan.full, plan.read_rows, plan.sync_keys) == (False, read_rows, sync_keys)


@pytest.mark.parametrize("last_commit", [4_000, 4_500, None])
def test_unmoved_counters_are_not_trusted_after_any_commit_since_the_cursor(last_commit):
    # a session that commits and stays busy is counted only when it goes idle: the counters may not have moved
    # yet; a commit at or above the cursor (or no commit timestamps to tell) means both steps run
    previous = cursor(stats_epoch=EPOCH, rows_written=700, rows_removed=30)
    plan = plan_incremental(previous, replace(COUNTED, last_commit_xid=last_commit))
    assert (plan.read_rows, plan.sync_keys) == (True, True)


def test_a_repair_compares_the_keys_even_when_the_counters_say_none_went():
    previous = cursor(stats_epoch=EPOCH, rows_written=700, rows_removed=30)
    assert plan_incremental(previous, COUNTED, verify_keys=True).sync_keys


def test_a_load_that_skipped_the_rows_keeps_their_position_and_moves_the_keys():
    previous = cursor(stats_epoch=EPOCH, rows_written=690, rows_removed=20)
    moved = previous.advanced(COUNTED, rows_read=False, keys_synced=True, mode="incremental")
    # a change whose counts had not arrived yet is still at or above the old position: read next time
    assert (moved.cursor_xid, moved.next_xid, moved.rows_written, moved.rows_removed) == (4_000, 4_020, 690, 30)
    both = previous.advanced(COUNTED, rows_read=True, keys_synced=False, mode="incremental")
    assert (both.cursor_xid, both.next_xid, both.rows_written, both.rows_removed) == (5_000, 5_010, 700, 20)


def test_after_a_postgresql_restart_the_next_load_takes_the_new_epoch_so_later_loads_skip_again():
    restarted = cursor(stats_epoch="2026-11-30 08:00:00+00 / never", rows_written=650, rows_removed=25)
    plan = plan_incremental(restarted, COUNTED)
    assert (plan.read_rows, plan.sync_keys) == (True, True)  # another epoch: counters not comparable
    after = restarted.advanced(COUNTED, rows_read=plan.read_rows, keys_synced=plan.sync_keys, mode="incremental")
    assert (after.stats_epoch, after.rows_written, after.rows_removed) == (EPOCH, 700, 30)
    again = plan_incremental(after, COUNTED)  # nothing written since: both steps skipped
    assert (again.read_rows, again.sync_keys) == (False, False)
    half = restarted.advanced(COUNTED, rows_read=True, keys_synced=False, mode="incremental")
    assert half.stats_epoch == restarted.stats_epoch  # a mix of counters from two epochs is never trusted


JOURNALED = SourceState(CLUSTER, 16387, 5_000, 5_010, stats_epoch=EPOCH, rows_written=700, rows_removed=30,
                        journal_from=3_500)


@pytest.mark.parametrize("journal_from, cursor_xid, verify, journal", [
    (3_500, 4_000, False, True),  # complete since before the cursor
    (4_000, 4_000, False, True),  # complete from exactly the cursor
    (4_001, 4_000, False, False),  # made, trimmed or its triggers re-enabled after the cursor was taken
    (None, 4_000, False, False),  # no journal, or a trigger disabled
    (3_500, 4_000, True, False),  # a repair compares the whole key sets
])
def test_the_journal_is_read_only_from_a_cursor_it_covers(journal_from, cursor_xid, verify, journal):
    now = SourceState(CLUSTER, 16387, 5_000, 5_010, stats_epoch=EPOCH, rows_written=700, rows_removed=30,
                      journal_from=journal_from)
    previous = cursor(cursor_xid=cursor_xid, stats_epoch=EPOCH, rows_written=690, rows_removed=30)
    plan = plan_incremental(previous, now, verify_keys=verify)
    assert not plan.full and plan.journal == journal and plan.since_xid == cursor_xid


@pytest.mark.parametrize("written, removed", [(690, 30), (700, 29), (700, 30)])
def test_from_the_journal_a_change_since_the_cursor_means_rows_and_gone_keys_whatever_the_counters(written, removed):
    # (700, 30): the counters have not counted the commit yet (PostgreSQL flushes them up to a minute
    # late); the journal row is committed with the change, so the load reads it now, not a schedule later
    previous = cursor(stats_epoch=EPOCH, rows_written=written, rows_removed=removed)
    plan = plan_incremental(previous, replace(JOURNALED, journal_newest=4_000))
    assert (plan.journal, plan.read_rows, plan.sync_keys) == (True, True, True)


@pytest.mark.parametrize("newest", [None, 3_999])
def test_from_the_journal_nothing_since_the_cursor_skips_everything_and_keeps_the_cursor(newest):
    # counted changes (690 -> 700) the journal does not name at or above the cursor were read by the last load
    previous = cursor(stats_epoch=EPOCH, rows_written=690, rows_removed=29)
    now = replace(JOURNALED, journal_newest=newest)
    plan = plan_incremental(previous, now)
    assert (plan.journal, plan.read_rows, plan.sync_keys) == (True, False, False)
    kept = previous.advanced(now, plan.read_rows, plan.sync_keys, "incremental")
    assert kept.cursor_xid == 4_000  # what it trims below: nothing it has not read
