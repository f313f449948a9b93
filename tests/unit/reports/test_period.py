import re
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


@pytest.mark.parametrize("start, end, message", [
    (None, "9999-12-31", "`to` '9999-12-31' lies outside the instants a report can cover"),
    ("9999-12-31", "9999-12-31", "`to` '9999-12-31' lies outside"),
    (None, "0001-01-01", "`from` defaults to 30 days before `to`"),
    (None, "0001-01-29", "give `from` explicitly"),  # its end, 01-30, less 30 days: year 0
    (None, "9999-12-31T23:00:00-05:00", "`to` '9999-12-31T23:00:00-05:00' lies outside"),
    (None, "0001-01-01T00:00:00+01:00", "`to` '0001-01-01T00:00:00+01:00' lies outside"),
    ("0001-01-01T00:30:00+01:00", "2026-01-01", "`from` '0001-01-01T00:30:00+01:00' lies outside"),
    ("9999-12-31T23:59:59.999999-00:01", None, "`from` '9999-12-31T23:59:59.999999-00:01' lies outside"),
    (None, "0001-01-01T00:00:00-14:00", "give `from` explicitly"),  # in UTC it is 14:00 on day 1
    ("0000-12-31", None, "`from` must be an ISO date"),
    (None, "10000-01-01", "`to` must be an ISO date"),
    ("0001-01-01", "9999-12-30", "most a report covers is 366 days"),
])
def test_periods_past_the_calendars_edges_say_what_to_do(start, end, message):
    with pytest.raises(PeriodError, match=re.escape(message)):
        Period.parse(start, end, now=NOW)


@pytest.mark.parametrize("start, end, expected", [
    ("0001-01-01", "0001-01-01", (datetime(1, 1, 1), datetime(1, 1, 2))),
    (None, "0001-01-31", (datetime(1, 1, 2), datetime(1, 2, 1))),
    ("9999-12-30", "9999-12-30", (datetime(9999, 12, 30), datetime(9999, 12, 31))),
    ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59.999999Z", (datetime(9999, 12, 31), datetime.max)),
    ("0001-01-01T00:00:00Z", "0001-01-01T10:00:00+09:00", (datetime(1, 1, 1), datetime(1, 1, 1, 1))),
])
def test_periods_at_the_calendars_edges_that_exist_are_read(start, end, expected):
    period = Period.parse(start, end, now=NOW)
    assert (period.start, period.end) == expected
