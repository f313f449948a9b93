"""The period a report covers: a half-open UTC interval [start, end), validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bionicflow.kernel.errors import BionicflowError

DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodError(BionicflowError, ValueError):
    """A period that cannot be reported on; the message says how to fix it."""


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, naive UTC
    end: datetime  # exclusive, naive UTC

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
        if begin >= stop:
            raise PeriodError(f"the period is empty or inverted: from {begin.isoformat()} is not before to "
                              f"{stop.isoformat()}; swap the two or widen the period")
        if stop - begin > timedelta(days=max_days):
            raise PeriodError(f"the period spans {(stop - begin).days} days; the most a report covers is {max_days} "
                              "days: narrow `from`/`to` or ask for several periods")
        return cls(begin, stop)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _default_start(stop: datetime) -> datetime:
    try:
        return stop - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # a `to` in the first days of year 1: 30 days earlier is no date at all
        raise PeriodError(f"`from` defaults to {DEFAULT_DAYS} days before `to` ({stop.isoformat()}), which is "
                          f"before the year 1: give `from` explicitly") from None


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
        whole_day = " (a date `to` includes its whole day, so its next midnight must exist too)" if end_of_day else ""
        raise PeriodError(f"`{name}` {text!r} lies outside the instants a report can cover, 0001-01-01T00:00:00Z "
                          f"to 9999-12-31T23:59:59.999999Z{whole_day}: choose a date within them") from None
    except ValueError:
        raise PeriodError(f"`{name}` must be an ISO date (2026-11-01) or date-time (2026-11-01T12:00:00Z), "
                          f"got {text!r}") from None
