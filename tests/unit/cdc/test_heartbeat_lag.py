"""The lag rules against Debezium's heartbeats (pure parts; the live stack checks the whole)."""

import base64
import json
from datetime import datetime, timedelta, timezone

from bionicflow.cdc import heartbeat_lag as hl
from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS

NOW = datetime(2026, 12, 2, 12, 0, 30, tzinfo=timezone.utc)


def _message(prefix: str, content: str) -> bytes:
    """A logical decoding message as Debezium's JSON converter writes it (content is bytes: base64)."""
    return json.dumps({"schema": {}, "payload": {"op": "m", "message": {
        "prefix": prefix, "content": base64.b64encode(content.encode()).decode()}}}).encode()


def test_the_heartbeat_topic_is_the_connectors_message_topic():
    assert hl.message_topic(USERS) == "crm.message"
    assert hl.message_topic(TELEMETRY_EVENTS) == "telemetry.message"


def test_a_heartbeat_carries_the_sources_clock_and_other_messages_do_not():
    at = hl.heartbeat_time(_message(hl.HEARTBEAT_PREFIX, "2026-12-02 12:00:21.5+00"))
    assert at == datetime(2026, 12, 2, 12, 0, 21, 500000, tzinfo=timezone.utc)
    assert hl.heartbeat_time(_message(hl.HEARTBEAT_PREFIX, "2026-12-02 13:00:21.5+01")) == at  # any zone, in UTC
    assert hl.heartbeat_time(_message("someone-else", "2026-12-02 12:00:21+00")) is None
    assert hl.heartbeat_time(None) is None


def test_a_change_tells_its_commit_time_and_garbage_tells_none():
    change = json.dumps({"payload": {"op": "c", "source": {"ts_ms": 1_796_212_800_000}}}).encode()
    assert hl.change_commit_time(change) == datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert hl.change_commit_time(b"{oops") is None
    assert hl.change_commit_time(b"") is None


def test_caught_up_on_an_idle_source_the_lag_is_the_heartbeats_age():
    lag = hl.lag_from(NOW, NOW - timedelta(seconds=4), unread=0, unread_from=None,
                      newest_read=NOW - timedelta(hours=3))  # the last change is old: the source is idle
    assert (lag.seconds, lag.basis.split()[1]) == (4.0, "heartbeat")


def test_caught_up_while_changes_flow_the_newest_change_counts():
    lag = hl.lag_from(NOW, NOW - timedelta(seconds=9), unread=0, unread_from=None,
                      newest_read=NOW - timedelta(seconds=0.5))
    assert lag.seconds == 0.5


def test_behind_the_lag_is_the_age_of_the_oldest_unread_change():
    lag = hl.lag_from(NOW, NOW - timedelta(seconds=1), unread=1200, unread_from=NOW - timedelta(minutes=2))
    assert (lag.seconds, lag.unread_messages) == (120.0, 1200)


def test_a_stalled_connector_ages_its_heartbeat_so_the_lag_grows():
    stalled = NOW - timedelta(minutes=7)  # no heartbeat since: the connector is down
    assert hl.lag_from(NOW, stalled, 0, None).seconds == 420.0


def test_no_heartbeat_yet_is_unknown_not_zero():
    lag = hl.lag_from(NOW, None, 0, None)
    assert lag.seconds is None and "no heartbeat" in lag.basis
