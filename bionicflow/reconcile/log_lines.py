"""What a `cdc_reconcile` run writes in its task logs: sentences, not Python reprs.

An operator reads these lines in the Airflow UI to learn what was compared and why an
`etl_default` run was (or was not) started; the figures are the ones stored in `ops`.
"""

from __future__ import annotations

from collections.abc import Iterable

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.reconcile.compare import SideResult


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _side(result: SideResult) -> str:
    """One copy against the source: its rows, and what differs when anything does."""
    if result.match:
        return f"{result.side} {_rows(result.rows)}, identical"
    parts = [f"{result.missing_keys:,} missing", f"{result.extra_keys:,} extra", f"{result.differing_rows:,} differing"]
    if result.duplicate_keys:
        parts.append(f"{result.duplicate_keys:,} duplicate keys")
    if result.side == DEFAULT_DB and result.stale_rows:
        parts.append(f"{result.stale_rows:,} written before its last load")
    return f"{result.side} {_rows(result.rows)}: {', '.join(parts)}"


def _table_verdict(sides: list[SideResult]) -> str:
    """`default`'s differences are lag unless its last load should have brought them (stale rows)."""
    words = []
    for r in sides:
        if r.match:
            continue
        if r.side == DEFAULT_DB:
            words.append(f"default wrong ({_rows(r.stale_rows)} its last load should have brought)" if r.stale_rows
                         else "default behind (changes since its last load; the next load brings them)")
        else:
            words.append(f"{r.side} differs")
    return "; ".join(words) or "match"


def table_lines(results: Iterable[SideResult]) -> list[str]:
    """One line per table: rows in the source and each copy, what differs, the table's verdict.

    e.g. ``users: source 1,000 rows | default 1,000 rows, identical | debezium 998 rows: 2 missing,
    0 extra, 0 differing | verdict: debezium differs``
    """
    by_table: dict[str, list[SideResult]] = {}
    for r in results:
        by_table.setdefault(r.table, []).append(r)
    lines = []
    for table, sides in by_table.items():
        source = next((r for r in sides if r.side == "source"), None)
        copies = [r for r in sides if r.side != "source"]
        head = [f"source {_rows(source.rows)}"] if source else []
        parts = head + [_side(r) for r in copies] + [f"verdict: {_table_verdict(copies)}"]
        lines.append(f"{table}: " + " | ".join(parts))
    return lines


def verdict_line(verdict: str, reasons: Iterable[str], results: Iterable[SideResult]) -> str:
    """The run's verdict in words: with its reasons, or saying that a mismatch is only `default` being behind."""
    reasons = list(reasons)
    if reasons:
        return f"verdict: {verdict}; reasons: {'; '.join(reasons)}"
    differing = [r for r in results if r.side != "source" and not r.match]
    if differing and all(r.side == DEFAULT_DB and not r.stale_rows for r in differing):
        return f"verdict: {verdict} (lag only: default is behind its source; its next load brings the changes)"
    return f"verdict: {verdict}"


def fallback_decision(summary: dict) -> tuple[bool, str]:
    """Whether the run starts `etl_default`, and why, in words (``summary``: Report.summary()).

    The `needs_fallback` task logs the sentence and returns the bool: False skips the rest.
    """
    conf = summary.get("etl_default_conf")
    if not conf:
        return False, ("no etl_default run needed: CDC is healthy and default holds every row its last load "
                       "should have brought")
    if summary.get("fallback"):
        reasons = "; ".join(summary.get("reasons") or []) or "unhealthy"
        return True, (f"{CDC_DB} is degraded ({reasons}): etl_default runs with mode {conf['mode']} as the "
                      "fallback, so default is fresh")
    tables = ", ".join(conf.get("tables") or summary.get("repair_default") or [])
    how = ("reloads the wrong rows by key" if conf["mode"] == "repair"
           else "refreshes those tables whole (too many wrong rows to reload by key)")
    return True, (f"default lacks or has wrong rows its last load should have brought ({tables}): etl_default "
                  f"with mode {conf['mode']} {how}, then verify_default checks it")
