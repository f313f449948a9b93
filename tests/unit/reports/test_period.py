from datetime import datetime

import pytest

from bionicflow.reports import Period, PeriodError

NOW = datetime(2026, 11, 24, 10, 30)


def test_defaults_are_the_last_30_days():
    p = Period.parse(None, None, now=NOW)
    assert (p.start, p.end) == (datetime(2026, 10, 25, 10, 30), NOW)


def test_a_date_to_includes_the_whole_day_and_datetimes_are_utc():
    p = Period.parse("2026-11-01", "2026-11-30", now=NOW)
    assert (p.start, p.end) == (datetime(2026, 11, 1), datetime(2026, 12, 1))
    p = Period.parse("2026-11-01T12:00:00+02:00", "2026-11-02T00:00:00Z", now=NOW)
    assert (p.start, p.end) == (datetime(2026, 11, 1, 10), datetime(2026, 11, 2))


@pytest.mark.parametrize("start, end, message", [
    ("2026-11-05", "2026-11-01", "inverted"),
    ("2026-11-01T00:00:00", "2026-11-01T00:00:00", "inverted"),
    ("2020-01-01", "2026-01-01", "most a report covers is 366 days"),
    ("yesterday", None, "`from` must be an ISO date"),
    (None, "2026-13-01", "`to` must be an ISO date"),
])
def test_bad_periods_say_what_to_do(start, end, message):
    with pytest.raises(PeriodError, match=message):
        Period.parse(start, end, now=NOW)
