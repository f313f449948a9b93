"""Which road can I trust now? The "CDC vs batch" page's verdicts, in words, from stored reconciliation rows.

Pure: rows of `ops.reconciliation_runs` / `ops.reconciliation_tables` / `ops.schema_health`
(as dicts) in, sentences with a level out. The levels are the page's colours:

* ``ok`` (green): the roads hold the source's rows;
* ``lag`` (amber): they differ, but only by what is still on its way — `debezium` within
  its grace period (bionicflow/reconcile/decide.py), `default` only by rows written since
  its last load (`stale_rows` 0) — or the stack's first start (nothing loaded yet);
* ``error`` (red): a difference beyond lag — `debezium` degraded (the fallback refreshes
  `default` whole), or `default` missing rows its last load should have brought (repaired);
* ``unknown`` (grey): no reconciliation has run yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bionicflow.kernel.source_columns import is_pending
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.reconcile.decide import MISMATCH_GRACE

OK, LAG, ERROR, UNKNOWN = "ok", "lag", "error", "unknown"
SETUP_REASON = "is not registered"  # decide(): a connector cdc_bootstrap has not made yet


@dataclass(frozen=True)
class Line:
    level: str
    text: str


def moment(value: datetime | str | None) -> str:
    """A stored UTC time in whole seconds, marked UTC (what the page and its tests read)."""
    if value in (None, ""):
        return "—"
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    at = at.astimezone(UTC) if at.tzinfo else at
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """`4.2 s`, `12 min`, `3.5 h`: how far behind, readable at a glance."""
    if seconds is None:
        return "an unknown time"
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def _side(tables: Sequence[Mapping], side: str) -> list[Mapping]:
    return [t for t in tables if t["side"] == side]


def _differences(row: Mapping) -> str:
    """`3 missing, 1 differing`: what one side lacks or holds otherwise than the source."""
    parts = [f"{int(row[key]):,} {word}" for key, word in (("missing_keys", "missing"), ("differing_rows", "differing"),
                                                           ("extra_keys", "extra")) if row.get(key)]
    return ", ".join(parts) or "a different checksum"


def default_never_loaded(tables: Sequence[Mapping]) -> bool:
    """`default` held no row of any table whose source had rows: the run came before the first batch load."""
    source = {t["table"]: int(t["rows"]) for t in _side(tables, "source")}
    default = _side(tables, DEFAULT_DB)
    return bool(default) and any(source.values()) and all(
        int(t["rows"]) == 0 and not t.get("stale_rows") for t in default if source.get(t["table"]))


def first_start(run: Mapping, tables: Sequence[Mapping], started: bool) -> bool:
    """A run of the stack's first minutes (``started``: an earlier run was past them): nothing matched yet, and
    `default` was empty or CDC not set up yet."""
    reasons = (run.get("details") or {}).get("reasons") or []
    setup_only = bool(reasons) and all(SETUP_REASON in r for r in reasons)
    return not started and run.get("verdict") != "match" and (default_never_loaded(tables) or setup_only)


def explain_run(run: Mapping, tables: Sequence[Mapping], started: bool = True) -> Line:
    """One reconciliation run in words: what differed, whether it was lag, what the run did about it."""
    if tables and all(t["match"] for t in tables):
        return Line(OK, "all match: both roads hold the source's rows")
    details = run.get("details") or {}
    startup = first_start(run, tables, started)
    parts: list[str] = ["first run"] if startup else []
    if startup and default_never_loaded(tables):
        parts.append("default not loaded yet")
    parts += _debezium_words(run, tables, details)
    parts += _default_words(tables, details, startup)
    if not parts:
        parts.append("no table compared")
    serious = bool(run.get("debezium_degraded")) or any(t.get("stale_rows") for t in _side(tables, DEFAULT_DB))
    if startup or serious:
        return Line(LAG if startup else ERROR, "; ".join(parts))
    return Line(LAG, "lag only: " + "; ".join(p.removesuffix(": lag") for p in parts))


def _debezium_words(run: Mapping, tables: Sequence[Mapping], details: Mapping) -> list[str]:
    behind = [t for t in _side(tables, CDC_DB) if not t["match"]]
    words = [f"{_differences(t)} in {CDC_DB}.{t['table']}" for t in behind]
    if run.get("debezium_degraded"):
        reasons = "; ".join(details.get("reasons") or []) or "CDC unhealthy"
        fallback = ": fallback ran (etl_default full refresh)" if run.get("fallback_triggered") else ""
        return [*words, f"debezium degraded ({reasons}){fallback}"]
    if behind:
        words[-1] += f" (within the {MISMATCH_GRACE.total_seconds() / 60:.0f}-min grace): lag"
    return words


def _default_words(tables: Sequence[Mapping], details: Mapping, startup: bool) -> list[str]:
    words = []
    conf = details.get("etl_default_conf") or {}
    for t in _side(tables, DEFAULT_DB):
        if t["match"] or (startup and int(t["rows"]) == 0):
            continue
        if t.get("stale_rows"):
            mode = conf.get("mode", "repair")
            words.append(f"{int(t['stale_rows']):,} rows of {DEFAULT_DB}.{t['table']} written before its last load "
                         f"missing or different ({_differences(t)}): repaired (etl_default mode={mode})")
        else:
            since = ("written" if not t.get("extra_keys") else "deleted"
                     if not (t.get("missing_keys") or t.get("differing_rows")) else "written or deleted")
            words.append(f"{_differences(t)} in {DEFAULT_DB}.{t['table']} ({since} since its last load): lag")
    return words


def row_level(row: Mapping, degraded: bool) -> str:
    """One side of one table in a run: ``ok``, ``lag`` (behind, no error) or ``error``."""
    if row["match"]:
        return OK
    if row["side"] == DEFAULT_DB:
        return ERROR if row.get("stale_rows") else LAG
    return ERROR if degraded or row["side"] != CDC_DB else LAG


def explain_history(runs: Sequence[Mapping], tables: Mapping[str, Sequence[Mapping]]) -> list[Line]:
    """``runs`` newest first (as the page lists them); ``tables``: each run's rows by run id.

    The first start lasts until the first run that is not part of it (a match, or a difference
    with `default` loaded): runs of it are explained as such, not as failures.
    """
    lines: list[Line] = []
    started = False
    for run in reversed(runs):
        rows = tables.get(run["run_id"], ())
        lines.append(explain_run(run, rows, started))
        started = started or not first_start(run, rows, False)
    return lines[::-1]


def explain_health(health: Mapping, latest: Line | None) -> Line:
    """A row of `ops.schema_health` in words (it holds the newest run's judgement of the schema)."""
    if health["state"] == "healthy":
        return Line(OK, "connectors running, lag under 5 min, no difference beyond the grace period")
    reason = health.get("reason") or "unhealthy"
    if latest is not None and latest.text.startswith("first run"):
        return Line(LAG, f"first start: {reason}; clears at the first run after cdc_bootstrap and the first load")
    return Line(ERROR, f"{reason}: the fallback refreshes default in full; trust default until this clears")


def headline(run: Mapping | None, tables: Sequence[Mapping], cdc_lag: Mapping[str, float | None],
             batch: Mapping[str, Mapping], drift: Sequence[str], latest: Line | None = None) -> list[Line]:
    """The page's first lines: which road to trust now, from the newest run and the roads' state measured now.

    ``cdc_lag``: `debezium`'s lag per table now (seconds); ``batch``: `default`'s freshness per table
    (`age_seconds`); ``drift``: source schema differences (bionicflow/platform/drift.py).
    """
    lines = [_verdict(run, tables, cdc_lag, batch, latest)]
    if drift:
        # a column one road copies and the other will at its next change or load is on its way: amber
        passing = all(is_pending(line) for line in drift)
        lines.append(Line(LAG if passing else ERROR,
                          f"source schema changed ({len(drift)} difference{'s' if len(drift) > 1 else ''}): see "
                          "\"Source schema\" below" + ("; the other road copies it at its next change or load"
                                                        if passing else "")))
    return lines


def _verdict(run: Mapping | None, tables: Sequence[Mapping], cdc_lag: Mapping[str, float | None],
             batch: Mapping[str, Mapping], latest: Line | None) -> Line:
    if run is None:
        return Line(UNKNOWN, "no reconciliation has run yet: trigger cdc_reconcile (it runs every 10 min)")
    when = f"as of {moment(run['started_at'])}"
    if latest is None:
        latest = explain_run(run, tables)
    if latest.level == OK:
        return Line(OK, f"both roads agree with the source {when}: read either")
    stale = sorted(t["table"] for t in _side(tables, DEFAULT_DB) if t.get("stale_rows"))
    if latest.level == ERROR and stale:
        return Line(ERROR, f"mismatch beyond lag in {', '.join(f'{DEFAULT_DB}.{t}' for t in stale)} {when}: "
                           "repairing (etl_default); trust debezium for these tables until the repair is verified")
    if latest.level == ERROR:
        reasons = "; ".join((run.get("details") or {}).get("reasons") or []) or "CDC unhealthy"
        return Line(ERROR, f"debezium degraded {when} ({reasons}): trust default, which the fallback refreshes in full")
    if latest.text.startswith("first run"):
        return Line(LAG, f"first start {when}: {latest.text.removeprefix('first run; ')}")
    lags = [v for v in cdc_lag.values() if v is not None]
    ages = [b["age_seconds"] for b in batch.values() if b.get("age_seconds") is not None]
    cdc = f"debezium is {duration(max(lags))} behind" if lags else "debezium's lag is unknown"
    default = f"default's last load was {duration(max(ages))} ago" if ages else "default was never loaded"
    return Line(LAG, f"{cdc}, {default}: the differences {when} are lag; read debezium for the newest data, "
                     "default as of its last load")
