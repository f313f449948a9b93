"""
### etl_default

The batch road: loads `default.users` and `default.telemetry_events` from the PostgreSQL
sources. ClickHouse pulls the rows itself (`INSERT ... SELECT FROM postgresql(...)`), so no
row passes through Python.

* **incremental** (the default, hourly): every row inserted, updated or deleted in the
  source since the table's previous load, whatever its business timestamps say. The
  source's change journal (triggers noting each written key) names them; where it cannot
  cover the cursor (a cursor per table in `ops.etl_cursors`), changes are found by
  PostgreSQL's transaction ids and deletes by comparing keys. When the cursor cannot be trusted (first load, TRUNCATE,
  restored database, transaction-id wraparound) the run refreshes the whole table by
  itself and says why in its log and in `ops.etl_runs.reason`;
* **interval**: rows whose `registered_at` / `created_ts` falls in the run's data interval,
  reaching back one hour (needs a data interval: a scheduled run, or a logical date);
* **window**: an explicit `window_start` .. `window_end` on business time (at most 400 days);
  both empty: the last full UTC day before the run starts;
* **full**: a fresh copy of each table swapped in atomically (also the CDC fallback);
* **repair**: incremental, plus a comparison of the key sets and a reload by key of the
  rows `cdc_reconcile` found wrong (`ops.default_repair_keys`); `cdc_reconcile` starts it.

Every load is idempotent: re-running never duplicates under `FINAL`.
Each load is recorded in `ops.etl_runs`. docs/airflow.md has the details.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, get_current_context, task

from bionicflow.kernel.config import Settings
from bionicflow_airflow.dag_defaults import dag_kwargs

# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="etl_default",
    description="Hourly batch load of default: every change since the last load (inserts, updates, deletes).",
    schedule=Settings().etl_schedule,  # BIONICFLOW_ETL_SCHEDULE, @hourly by default
    **dag_kwargs(retry_seconds=30),
    max_active_runs=1,
    tags=["bionicflow", "batch", "etl"],
    doc_md=__doc__,
    params={
        "mode": Param("incremental", enum=["incremental", "interval", "window", "full", "repair"],
                      description="incremental: every change since the last load; interval: the data interval on "
                                  "business time; window: window_start..window_end; full: a fresh copy; repair: "
                                  "incremental, plus the key sets compared and the rows reconciliation found "
                                  "wrong reloaded."),
        "tables": Param([], type="array", description="Tables to load, by their names in `bionicflow tables list`; "
                                                      "empty: every table in the catalogue (ops.tables)."),
        "window_start": Param(None, type=["null", "string"], description=(
            "mode=window: ISO start (inclusive), UTC. Empty, with window_end empty too: the last full UTC day.")),
        "window_end": Param(None, type=["null", "string"], description="mode=window: ISO end (exclusive), UTC."),
    },
)
def etl_default():
    @task(retries=0)  # bad params are not transient: fail at once, before anything is written
    def plan() -> list[dict]:
        from bionicflow.etl.plan import plan_load
        from bionicflow.kernel.table_catalogue import roads_tables
        from bionicflow_airflow import ClickHouseHook

        ctx = get_current_context()
        catalogue = roads_tables(ClickHouseHook().get_client())
        load_plan = plan_load(dict(ctx["params"]), ctx.get("data_interval_start"), ctx.get("data_interval_end"),
                              catalogue)
        return [
            {"table": t.name, "mode": load_plan.mode,
             "start": load_plan.start.isoformat() if load_plan.start else None,
             "end": load_plan.end.isoformat() if load_plan.end else None}
            for t in load_plan.tables
        ]

    @task(multiple_outputs=True, map_index_template="{{ task.op_kwargs['item']['table'] }}")  # named by table in the UI
    def load(item: dict) -> dict:
        from datetime import datetime

        from bionicflow.etl.load import record, resolve_table
        from bionicflow.etl import ddl
        from bionicflow.etl.run import run_load
        from bionicflow_airflow import ClickHouseHook
        from bionicflow.etl.added_tables import load_added
        from bionicflow.kernel.table_catalogue import find_entry
        from bionicflow_airflow.sources import added_source, pg_source

        olap, run_id = ClickHouseHook().get_client(), get_current_context()["run_id"]
        entry = find_entry(olap, item["table"])
        if not entry.built_in:  # a table `tables add` put in the catalogue (docs/sources.md, "Batch loads")
            added = load_added(olap, entry, added_source(olap, entry), run_id, item["mode"])
            log.info("%s: %d rows, %d keys removed, in %.2fs: %s", added.table, added.rows, added.deleted,
                     added.seconds, added.reason)
            return {"table": added.table, "mode": added.mode, "rows": added.rows, "deleted": added.deleted,
                    "reason": added.reason, "skipped": "", "seconds": round(added.seconds, 3)}
        table, source = resolve_table(item["table"]), pg_source(item["table"])
        ddl.apply(olap)  # idempotent: a stack upgraded since cdc_bootstrap last ran gets the new columns
        window = [datetime.fromisoformat(item[k]) if item[k] else None for k in ("start", "end")]
        result = run_load(olap, table, source, run_id, item["mode"], *window)
        record(olap, run_id, result)
        if result.reason:
            log.warning("%s: refreshed whole instead of incrementally: %s", result.table, result.reason)
        log.info("%s: %s load of %d rows, %d deleted, in %.2fs (next load resumes at xid %s)", result.table,
                 result.mode, result.rows, result.deleted, result.seconds, result.cursor_xid)
        if result.skipped:
            log.info("%s: skipped the %s: PostgreSQL's row counters show nothing that needs it", result.table,
                     result.skipped)
        return {"table": result.table, "mode": result.mode, "rows": result.rows, "deleted": result.deleted,
                "reason": result.reason, "skipped": result.skipped, "seconds": round(result.seconds, 3)}

    load.expand(item=plan())


etl_default()
