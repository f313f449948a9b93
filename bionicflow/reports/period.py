"""The period a report covers: a half-open UTC interval [start, end), validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bionicflow.reports.texts import N_, Text, TranslatableError

DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodError(TranslatableError, ValueError):
    """A period that cannot be reported on; the message says how to fix it (a page translates it)."""


# The names of the bounds as the API calls them; a page says them in its language (its fields' labels).
BOUND_NAMES = {"from": Text(N_("`from`")), "to": Text(N_("`to`"))}


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, naive UTC
    end: datetime  # exclusive, naive UTC

    def days(self) -> list[str]:
        """The UTC days the period touches, as ISO dates (its last is the day of its last microsecond)."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @classmethod
    def parse(cls, start: str | None, end: str | None, now: datetime | None = None,
              max_days: int = MAX_DAYS) -> Period:
        """Read `from`/`to` as ISO dates or date-times (UTC); a date `to` includes that whole day.

        Missing `to` means now; missing `from` means 30 days before `to`.
        """
        now = _naive_utc(now or datetime.now(UTC))
        stop = _parse_bound(end, "to", end_of_day=True) if end else now
        begin = _parse_bound(start, "from", end_of_day=False) if start else _default_start(stop)
        if begin >= stop:  # named as the reader gave them: a date `to` is that day, not the next midnight
            raise PeriodError(N_("the period is empty or inverted: from %(start)s is not before to %(end)s; "
                                 "swap the two or widen the period"),
                              start=_as_given(start, begin), end=_as_given(end, stop))
        if stop - begin > timedelta(days=max_days):
            raise PeriodError(N_("the period spans %(days)s days; the most a report covers is %(max_days)s days: "
                                 "narrow `from`/`to` or ask for several periods"),
                              days=(stop - begin).days, max_days=max_days)
        return cls(begin, stop)


def _as_given(text: str | None, instant: datetime) -> date | datetime:
    """A bound as the reader wrote it (a date stays that date), or the instant it defaulted to."""
    if text and len(text.strip()) == 10:
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    return instant


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _default_start(stop: datetime) -> datetime:
    try:
        return stop - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # a `to` in the first days of year 1: 30 days earlier is no date at all
        raise PeriodError(N_("`from` defaults to %(days)s days before `to` (%(end)s), which is before the year 1: "
                             "give `from` explicitly"), days=DEFAULT_DAYS, end=stop) from None


def _parse_bound(text: str, name: str, end_of_day: bool) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1) if end_of_day else day, datetime.min.time())
        return _naive_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except OverflowError:
        # Python's dates end at 9999-12-31 and start at 0001-01-01: the end of the last day, or a
        # date-time at the edge moved to UTC by its offset, has no representation
        template = (N_("%(name)s %(value)r lies outside the instants a report can cover, 0001-01-01T00:00:00Z to "
                       "9999-12-31T23:59:59.999999Z (a date `to` includes its whole day, so its next midnight must "
                       "exist too): choose a date within them") if end_of_day else
                    N_("%(name)s %(value)r lies outside the instants a report can cover, 0001-01-01T00:00:00Z to "
                       "9999-12-31T23:59:59.999999Z: choose a date within them"))
        raise PeriodError(template, name=BOUND_NAMES[name], value=text) from None
    except ValueError:
        raise PeriodError(N_("%(name)s must be an ISO date (2026-11-01) or date-time (2026-11-01T12:00:00Z), "
                             "got %(value)r"), name=BOUND_NAMES[name], value=text) from None
