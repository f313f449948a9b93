"""Is CDC healthy? Pure decision logic over what a reconciliation run observed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.kernel.cursors import RELOAD_BY_KEY_LIMIT
from bionicflow.reconcile.compare import SideResult

LAG_THRESHOLD_SECONDS = 300.0
MISMATCH_GRACE = timedelta(minutes=10)


@dataclass
class Decision:
    degraded: bool
    reasons: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)  # connectors with FAILED parts: restart once
    fallback: bool = False  # run etl_default (full) so `default` is fresh
    mismatch_since: datetime | None = None
    # tables whose `default` lacks rows its last load should have brought: repaired, then verified
    repair_default: list[str] = field(default_factory=list)
    repair_keys: int = 0  # how many rows of them are missing or different

    def etl_default_conf(self) -> dict | None:
        """The `etl_default` run this decision asks for, or None.

        A CDC fallback refreshes `default` whole; a repair alone reloads the wrong rows by
        key, unless there are so many that one full read of those tables is cheaper.
        """
        if self.fallback:
            return {"mode": "full"}
        if not self.repair_default:
            return None
        mode = "repair" if self.repair_keys <= RELOAD_BY_KEY_LIMIT else "full"
        return {"mode": mode, "tables": list(self.repair_default)}


def decide(
    connectors: dict[str, dict] | None,
    expected_connectors: list[str],
    results: list[SideResult],
    lag_seconds: dict[str, float | None],
    previous_mismatch_since: datetime | None,
    now: datetime,
    lag_threshold: float = LAG_THRESHOLD_SECONDS,
    grace: timedelta = MISMATCH_GRACE,
) -> Decision:
    """``connectors`` is None when Kafka Connect could not be asked."""
    reasons: list[str] = []
    restart: list[str] = []
    if connectors is None:
        reasons.append("Kafka Connect is unreachable")
    for name in expected_connectors if connectors is not None else []:
        status = (connectors or {}).get(name)
        if status is None:
            reasons.append(f"connector {name} is not registered (run cdc_bootstrap)")
            continue
        failed = [f"task {t['id']}" for t in status.get("tasks", []) if t.get("state") == "FAILED"]
        if status.get("state") == "FAILED":
            failed.insert(0, "connector")
        if failed:
            reasons.append(f"{name}: {', '.join(failed)} FAILED")
            restart.append(name)
        elif status.get("state") != "RUNNING":
            reasons.append(f"{name} is {status.get('state')}")
    for table, lag in lag_seconds.items():
        if lag is not None and lag > lag_threshold:
            reasons.append(f"{table}: CDC lag {lag:.0f}s over {lag_threshold:.0f}s")
    mismatched = [r for r in results if r.side == CDC_DB and not r.match]
    mismatch_since = None
    if mismatched:
        mismatch_since = previous_mismatch_since or now
        if now - mismatch_since >= grace:
            tables = ", ".join(sorted({r.table for r in mismatched}))
            minutes = (now - mismatch_since).total_seconds() / 60
            reasons.append(f"debezium differs from the source for {minutes:.0f} min ({tables})")
    degraded = bool(reasons)
    stale = [r for r in results if r.side == DEFAULT_DB and r.stale_rows]
    return Decision(degraded=degraded, reasons=reasons, restart=restart, fallback=degraded,
                    mismatch_since=mismatch_since, repair_default=sorted({r.table for r in stale}),
                    repair_keys=sum(r.stale_rows for r in stale))


def verdict(results: list[SideResult], decision: Decision) -> str:
    """One word for the run: match, mismatch (within grace) or degraded."""
    if decision.degraded:
        return "degraded"
    return "match" if all(r.match for r in results) else "mismatch"
