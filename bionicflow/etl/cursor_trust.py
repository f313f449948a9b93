"""Whether an incremental load may trust its cursor, and where the next one resumes (pure logic).

A table's cursor is a PostgreSQL transaction id: the next load reads every row whose
`_xid` (the 64-bit id of the transaction that last wrote it, <database>/views.sql) is at or
above it. It is the `snapshot_xmin` taken just before the previous load read the source:
every transaction below it had ended, so their rows were visible to that load; any
transaction at or above it may not have been, so the next load reads its rows again
(idempotent under FINAL). The cursor cannot be trusted when the source is not the one it
was taken on, or the table's rows were rewritten, or so many transactions passed that the
32-bit `xmin` may have wrapped: the load then refreshes the whole table and says why.

When the source keeps a change journal (sources/batch_views.sql) that is complete from the
cursor on, a load reads the rows and the gone keys it names instead of scanning the table.

Whether there is work at all: where the journal covers the cursor, its newest transaction
says exactly whether anything was committed since (a commit and its journal row are one).
Elsewhere PostgreSQL's cumulative row counters (inserted + updated, updated + deleted) let a
load skip work: equal counters within one statistics epoch mean no row was written (no scan
needed) or no key can have gone (no key sync needed) — but a session's writes are counted only
when it goes idle, so a commit whose session stays busy is not counted yet. The counters are
therefore trusted only when the cluster's latest commit is below the cursor (nothing at all
was committed since); a load in a busy cluster reads, a quiet one skips.
"""

from __future__ import annotations

from dataclasses import dataclass

from bionicflow.kernel.cursors import Cursor, SourceState, keys_unchanged_since

# `_xid` is exact for rows written in the last 2^31 transactions (PostgreSQL freezes rows
# long before their xmin could be 2^31 old; the view widens xmin against the next xid).
XID_HORIZON = 2**31


@dataclass(frozen=True)
class Plan:
    """An incremental load's decision: rows changed since ``since_xid``, or the whole table and why."""

    full: bool
    since_xid: int | None = None
    reason: str = ""
    read_rows: bool = True  # rows may have been written since the cursor
    sync_keys: bool = True  # keys may have gone (or, when verifying, be missing) since the cursor
    journal: bool = False  # the change journal names every key written since the cursor: no table scan


def plan_incremental(previous: Cursor | None, now: SourceState, verify_keys: bool = False) -> Plan:
    """Trust the previous cursor, or refresh the whole table with the reason in one line.

    ``verify_keys``: compare the keys even when the counters say none went (a repair).
    """
    if previous is None:
        return Plan(True, reason="no cursor yet: the first load of this table copies it whole")
    if previous.system_identifier != now.system_identifier:
        return Plan(True, reason=(f"the source is another PostgreSQL cluster (system identifier "
                                  f"{now.system_identifier}, was {previous.system_identifier}): "
                                  "restored or re-created"))
    if now.next_xid < previous.next_xid:
        return Plan(True, reason=(f"the source's transaction counter went back (next xid {now.next_xid}, was "
                                  f"{previous.next_xid}): the database was restored from a backup"))
    if now.filenode != previous.filenode:
        return Plan(True, reason="the table was rewritten (TRUNCATE, VACUUM FULL or CLUSTER gave it a new file)")
    if now.next_xid - previous.cursor_xid >= XID_HORIZON:
        return Plan(True, reason=(f"{now.next_xid - previous.cursor_xid} transactions since the cursor: "
                                  "the 32-bit row xids may have wrapped around"))
    counted = bool(now.stats_epoch) and now.stats_epoch == previous.stats_epoch
    # A repair compares the whole key sets (what it looks for bypassed every journal).
    journal = not verify_keys and now.journal_from is not None and previous.cursor_xid >= now.journal_from
    if journal:
        # The journal names every committed change: one at or above the cursor means both steps
        # (one journal position for rows and keys; each step is an index range scan), none means
        # nothing to do, exactly — the counters may lag a commit by seconds, the journal does not.
        read_rows = sync_keys = now.journal_newest is not None and now.journal_newest >= previous.cursor_xid
    else:
        # Counters count a commit only once its session goes idle: unmoved counters are trusted only
        # when nothing at all was committed in the cluster since the cursor was taken.
        quiet = now.last_commit_xid is not None and now.last_commit_xid < previous.cursor_xid
        read_rows = not (counted and quiet) or now.rows_written != previous.rows_written
        sync_keys = verify_keys or not (quiet and keys_unchanged_since(previous, now))
    return Plan(False, since_xid=previous.cursor_xid, read_rows=read_rows, sync_keys=sync_keys, journal=journal)
