"""What an `etl_default` run loads, decided from its params and data interval (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bionicflow.kernel.tables import Table
from bionicflow.etl.load import resolve_table
from bionicflow.kernel.sources import LoadError, check_window

# incremental: every change since the table's cursor (the default, bionicflow/etl/changes.py);
# interval: the run's data interval on business time; window: an explicit business-time
# window; full: a fresh copy of each table; repair: an incremental load that also compares
# the key sets and reloads by key the rows reconciliation found wrong (bionicflow/etl/repair.py)
MODES = ("incremental", "interval", "window", "full", "repair")
# Rows committed a little after their time column (slow transactions, clock skew) are
# still caught: interval windows reach back this far; loads are idempotent.
DEFAULT_LOOKBACK = timedelta(hours=1)
MAX_WINDOW_DAYS = 400


@dataclass(frozen=True)
class LoadPlan:
    tables: tuple[Table, ...]
    mode: str  # "incremental", "full", "repair" or "window" (interval and explicit windows)
    start: datetime | None = None
    end: datetime | None = None


def _parse_time(value, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise LoadError(f"{name} {value!r} is not an ISO date-time such as 2026-01-31T00:00:00") from None


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """The window of a `window` run given neither end: the last full UTC day before ``now``.

    A fixed date in the form would hold no data a month later; the newest whole day holds the
    latest events (the demo spreads them over the last 30 days) and is the day `reports` covers.
    """
    midnight = datetime.combine(_naive_utc(now).date(), datetime.min.time())
    return midnight - timedelta(days=1), midnight


def plan_load(params: dict, interval_start: datetime | None, interval_end: datetime | None,
              catalogue: list[Table] | None = None, now: datetime | None = None) -> LoadPlan:
    """Validate a run's params; every error names the param and what is allowed.

    ``catalogue``: the tables the run may load (kernel/table_catalogue.py); no `tables` param
    means all of them. Without one, the brief's two. ``now``: the moment a `window` run with
    neither end counts back from (default_window); the current time unless a test gives one.
    """
    mode = params.get("mode") or "incremental"
    if mode not in MODES:
        raise LoadError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    known = {t.name: t for t in catalogue} if catalogue is not None else None
    names = params.get("tables") or (list(known) if known is not None else ["users", "telemetry_events"])
    if isinstance(names, str):
        names = [names]
    tables = tuple(_resolve(n, known) for n in dict.fromkeys(names))
    if mode in ("full", "incremental", "repair"):
        return LoadPlan(tables, mode)
    if mode == "window":
        start = _parse_time(params.get("window_start"), "window_start")
        end = _parse_time(params.get("window_end"), "window_end")
        if start is None and end is None:  # an untouched form: where the newest data is
            start, end = default_window(now or datetime.now(UTC))
        elif start is None or end is None:
            raise LoadError(f"mode 'window' got only {'window_end' if start is None else 'window_start'}: give both "
                            "window_start and window_end, or neither for the last full UTC day")
    else:
        if interval_start is None or interval_end is None:
            raise LoadError("mode 'interval' loads the run's data interval and this run has none (triggered with "
                            "logical_date null): use mode 'incremental', or 'window' with window_start and window_end")
        start, end = interval_start - DEFAULT_LOOKBACK, interval_end
    check_window(_naive_utc(start), _naive_utc(end), max_days=MAX_WINDOW_DAYS)
    return LoadPlan(tables, "window", _naive_utc(start), _naive_utc(end))


def _resolve(name: str, known: dict[str, Table] | None) -> Table:
    if known is None:
        return resolve_table(name)
    if name not in known:
        raise LoadError(f"unknown table {name!r}: choose from {', '.join(known)} (`bionicflow tables list`)")
    return known[name]


def _naive_utc(value: datetime) -> datetime:
    """ClickHouse DateTime64 parameters are UTC wall-clock; the sources store UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
