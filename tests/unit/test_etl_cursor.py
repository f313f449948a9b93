"""When an incremental load trusts its cursor, and when it refreshes the whole table (pure logic)."""

import pytest

from bionicflow.etl.cursor import XID_HORIZON, plan_incremental
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
