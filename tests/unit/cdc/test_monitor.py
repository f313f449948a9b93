from datetime import datetime, timedelta, timezone

from bionicflow.kernel.lag import lag_seconds

COMMIT = datetime(2026, 11, 24, 12, 0, 5, tzinfo=timezone.utc)


def test_lag_is_how_far_clickhouse_is_behind_the_newest_commit():
    assert lag_seconds(COMMIT, datetime(2026, 11, 24, 12, 0, 2, 500000)) == 2.5  # naive ClickHouse time is UTC


def test_caught_up_or_ahead_is_zero_lag():
    assert lag_seconds(COMMIT, COMMIT.replace(tzinfo=None)) == 0.0
    assert lag_seconds(COMMIT, (COMMIT + timedelta(seconds=1)).replace(tzinfo=None)) == 0.0


def test_other_time_zones_are_compared_in_utc():
    berlin = timezone(timedelta(hours=1))
    assert lag_seconds(COMMIT.astimezone(berlin), datetime(2026, 11, 24, 12, 0, 0)) == 5.0
