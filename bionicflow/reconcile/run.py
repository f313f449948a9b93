"""One reconciliation run: compare every table, judge CDC health, record it all in `ops`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.cursors import keys_unchanged_since, read_cursor, read_source_state
from bionicflow.kernel import ops_schema
from bionicflow.kernel.lag import lag_seconds
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import CDC_DB as DATABASE
from bionicflow.kernel.tables import DEFAULT_DB
from bionicflow.kernel.tables import OPS_DB, TABLES
from bionicflow.reconcile.compare import SIDES, DefaultLoad, SideResult, compare_added, compare_table
from bionicflow.reconcile.decide import Decision, decide, verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bionicflow.kernel.olap import OlapClient
    from bionicflow.kernel.table_catalogue import Entry

    AddedSources = Sequence[tuple[Entry, PgSource]]

LAST_MISMATCH_SQL = f"""SELECT JSONExtractString(details, 'debezium_mismatch_since')
FROM {OPS_DB}.reconciliation_runs ORDER BY started_at DESC LIMIT 1"""
LAG_SQL = f"SELECT max(_source_ts) FROM {DATABASE}.{{table}}"


@dataclass
class Report:
    run_id: str
    started_at: datetime
    verdict: str
    results: list[SideResult]
    decision: Decision
    lag_seconds: dict[str, float | None]

    def summary(self) -> dict:
        return {
            "run_id": self.run_id, "verdict": self.verdict, "degraded": self.decision.degraded,
            "reasons": self.decision.reasons, "restart": self.decision.restart, "fallback": self.decision.fallback,
            "repair_default": self.decision.repair_default,
            "etl_default_conf": self.decision.etl_default_conf(),
            "lag_seconds": self.lag_seconds,
            "tables": [asdict(r) | {"match": r.match} for r in self.results],
        }


def _previous_mismatch(olap: OlapClient) -> datetime | None:
    rows = olap.query(LAST_MISMATCH_SQL).result_rows
    value = rows[0][0] if rows else ""
    return datetime.fromisoformat(value) if value else None


def cdc_lag(olap: OlapClient, last_source_commit: dict[str, datetime | None]) -> dict[str, float | None]:
    """Seconds between each source's newest commit and the newest change visible in ClickHouse."""
    lags: dict[str, float | None] = {}
    for table in TABLES:
        last = last_source_commit.get(table.name)
        newest = olap.query(LAG_SQL.format(table=table.name)).result_rows[0][0] if olap.command(
            f"EXISTS TABLE {DATABASE}.{table.name}") else None
        if last is None or newest is None:
            lags[table.name] = None
            continue
        lags[table.name] = lag_seconds(last, newest)
    return lags


class DefaultDivergedError(BionicflowError):
    """`default` still lacks rows its last load should have brought, after a repair."""


def default_loads(olap: OlapClient, sources: dict[str, PgSource]) -> dict[str, DefaultLoad]:
    """What each table's last load promises (nothing for a table never loaded: nothing in it is overdue)."""
    loads = {}
    for table in TABLES:
        cursor = read_cursor(olap, table)
        loads[table.name] = DefaultLoad() if cursor is None else DefaultLoad(
            cursor.cursor_xid, keys_unchanged_since(cursor, read_source_state(olap, table, sources[table.name])))
    return loads


def compare_all(olap: OlapClient, sources: dict[str, PgSource], sides: tuple[str, ...] = SIDES,
                run_id: str | None = None, added: AddedSources = ()) -> list[SideResult]:
    """``run_id``: record `default`'s stale keys under it, for the repair. ``added``: the tables `tables add`
    put in the catalogue, each with its source (compared whole: their loads promise no cursor)."""
    loads = default_loads(olap, sources)
    return [r for table in TABLES
            for r in compare_table(olap, table, sources[table.name], loads[table.name], sides, run_id)] + [
        r for entry, source in added for r in compare_added(olap, entry, source, sides)]


def verify_default(olap: OlapClient, sources: dict[str, PgSource]) -> list[SideResult]:
    """After a repair: `default` must hold every row written before its new cursor, exactly."""
    results = [r for r in compare_all(olap, sources, sides=(DEFAULT_DB,)) if r.side == DEFAULT_DB]
    stale = [r for r in results if r.stale_rows]
    if stale:
        raise DefaultDivergedError("default still differs from the source after the repair: " + "; ".join(
            f"{r.table}: {r.stale_rows} rows written before the load are missing or different "
            f"({r.missing_keys} missing, {r.differing_rows} differing, {r.extra_keys} extra keys)" for r in stale))
    return results


def reconcile(olap: OlapClient, sources: dict[str, PgSource], connectors: dict[str, dict] | None,
              expected_connectors: list[str], last_source_commit: dict[str, datetime | None],
              now: datetime | None = None, run_id: str | None = None,
              measured_lags: dict[str, float | None] | None = None, added: AddedSources = ()) -> Report:
    """``run_id``: the orchestrator's id of this run (Airflow's), so records can be traced back.

    ``measured_lags``: CDC lag per table measured against Debezium's heartbeats (the CDC road's
    `heartbeat_lag`); a table without one falls back to newest commit vs newest change.
    """
    for statement in ops_schema.render():
        olap.command(statement)
    now = now or datetime.now(UTC)
    run_id = run_id or uuid.uuid4().hex
    results = compare_all(olap, sources, run_id=run_id, added=added)
    lags = cdc_lag(olap, last_source_commit)
    lags.update({t: lag for t, lag in (measured_lags or {}).items() if lag is not None})
    previous = _previous_mismatch(olap)
    decision = decide(connectors, expected_connectors, results, lags,
                      previous.replace(tzinfo=UTC) if previous and previous.tzinfo is None else previous, now)
    report = Report(run_id, now, verdict(results, decision), results, decision, lags)
    record(olap, report)
    return report


def record(olap: OlapClient, report: Report) -> None:
    details = report.summary() | {
        "debezium_mismatch_since": report.decision.mismatch_since.isoformat() if report.decision.mismatch_since else "",
    }
    started = report.started_at.replace(tzinfo=None)
    olap.insert(f"{OPS_DB}.reconciliation_runs",
                [[report.run_id, started, report.verdict, int(report.decision.degraded), int(report.decision.fallback),
                  json.dumps(details, default=str)]],
                column_names=["run_id", "started_at", "verdict", "debezium_degraded", "fallback_triggered", "details"])
    olap.insert(f"{OPS_DB}.reconciliation_tables",
                [[report.run_id, started, r.table, r.side, r.rows, r.checksum, r.missing_keys, r.extra_keys,
                  r.differing_rows, int(r.match), r.stale_rows] for r in report.results],
                column_names=["run_id", "started_at", "table", "side", "rows", "checksum", "missing_keys",
                              "extra_keys", "differing_rows", "match", "stale_rows"])
    olap.insert(f"{OPS_DB}.schema_health",
                [[DATABASE, "degraded" if report.decision.degraded else "healthy",
                  "; ".join(report.decision.reasons)]],
                column_names=["schema", "state", "reason"])
