"""CDC lag as `bionicflow status` reports it, on the live stack: measured against Debezium's heartbeats.

An idle source must not look late; a stopped connector must look late although no row changes.
"""

from __future__ import annotations

import time

from bionicflow.cdc.connectors import load_connectors
from tests.support.stack import status_document

HEARTBEAT_SECONDS = 10  # heartbeat.interval.ms in debezium/*.json
MARGIN = 10  # Debezium's own delay, the status call's time
# three heartbeat intervals: an idle source whose lag were measured from its last row change would pass the
# bound after the first (no row changes meanwhile), so three show the heartbeats keep it down
IDLE_SECONDS = 3 * HEARTBEAT_SECONDS + 5


def _lags() -> dict[str, dict]:
    """The lag part of `bionicflow status --json`, read in-process (the same document the command prints)."""
    return status_document()["lag"]


def _wait_for_lag(predicate, what: str, timeout: float) -> dict:
    deadline, lags = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        lags = _lags()
        if predicate(lags):
            return lags
        time.sleep(2)
    raise AssertionError(f"{what} not seen within {timeout}s: {lags}")


def test_an_idle_source_shows_a_lag_within_the_heartbeat_interval(stack, cdc):
    bound = HEARTBEAT_SECONDS + MARGIN
    # whatever earlier tests (or the snapshot, whose topic appears with it) left in flight is read first
    _wait_for_lag(lambda lags: all(e.get("lag_seconds") is not None and e["lag_seconds"] < bound
                                   and e.get("consumer_lag_messages") == 0 for e in lags.values()),
                  "lag under the bound, nothing unread", timeout=180)
    seen, deadline = [], time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:  # nothing writes to the sources meanwhile
        lags = _lags()
        for table, entry in lags.items():
            assert entry["lag_seconds"] is not None and entry["lag_seconds"] < bound, (table, entry)
            assert entry["consumer_lag_messages"] == 0, (table, entry)
            seen.append(entry["lag_seconds"])
        time.sleep(2)
    assert len(seen) >= 8, seen


def test_a_stopped_connector_makes_the_lag_grow_then_recover(stack, cdc):
    spec = next(s for s in load_connectors() if s.name == "crm-connector")
    bound = HEARTBEAT_SECONDS + MARGIN
    cdc.pause(spec.name)
    try:
        # past the bound an idle source never reaches (the test above), by one more heartbeat interval
        lags = _wait_for_lag(lambda lags: (lags["users"].get("lag_seconds") or 0) > bound + HEARTBEAT_SECONDS,
                             "users lag growing past the idle bound while its connector is paused", timeout=120)
        assert lags["users"]["lag_basis"].startswith("newest heartbeat"), lags["users"]
        # the other database's connector still runs: its table is not late
        assert lags["telemetry_events"]["lag_seconds"] < bound, lags["telemetry_events"]
    finally:
        cdc.resume(spec.name)
    _wait_for_lag(lambda lags: (lags["users"].get("lag_seconds") or 1e9) < bound, "users lag back under the bound",
                  timeout=180)
