"""
### backfill

Ad hoc re-load of a time window (on `registered_at` for users, `created_ts` for events; for a
table `tables add` put in the catalogue, on `time_column` or its one time column, or a range of
its integer key with `key_from`/`key_to`):

* target `default`: the batch load re-reads the window from the source (idempotent);
* target `debezium`: a Debezium ad hoc *incremental snapshot* is signalled through the
  source's `debezium_signal` table for exactly that window, and the run waits until every
  row of the window has been re-delivered to `debezium`;
* target `both`: both of the above.

An untouched form (`window_start` and `window_end` empty) refills the last full UTC day
before the run starts — yesterday — so a default run finds the newest data; a fixed date
would hold nothing a month later. Give both ends for any other window.

Progress is printed in the task logs.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, get_current_context, task

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow_airflow.dag_defaults import dag_kwargs

# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="backfill",
    description="Reload a business-time window of default and/or debezium (ad hoc).",
    schedule=None,
    **dag_kwargs(retry_seconds=30),
    tags=["bionicflow", "backfill"],
    doc_md=__doc__,
    params={
        "tables": Param(["users", "telemetry_events"], type="array",
                        description="Tables to backfill (names from `bionicflow tables list`)."),
        "window_start": Param(None, type=["null", "string"], description=(
            "ISO start (inclusive), UTC, e.g. 2026-11-01T00:00:00. Empty, with window_end empty too: the last full "
            "UTC day before the run starts (yesterday), where the newest data is.")),
        "window_end": Param(None, type=["null", "string"], description=(
            "ISO end (exclusive), UTC. Empty, with window_start empty too: today's midnight UTC.")),
        "target": Param(DEFAULT_DB, enum=[DEFAULT_DB, CDC_DB, "both"], description="Which schema to refill."),
        "time_column": Param(None, type=["null", "string"], description=(
            "An added table's column the window applies to (empty: its one timestamp, timestamptz or date column).")),
        "key_from": Param(None, type=["null", "integer"], description=(
            "With key_to, instead of the window: an added table's rows whose integer key is in [key_from, key_to).")),
        "key_to": Param(None, type=["null", "integer"], description="The key range's end (exclusive)."),
    },
)
def backfill():
    @task(retries=0)  # invalid params fail at once, before anything is written
    def plan() -> list[dict]:
        from bionicflow.etl.plan import plan_load
        from bionicflow.kernel.table_catalogue import find_entry, roads_tables
        from bionicflow.platform.added_backfill import plan_slice
        from bionicflow_airflow import ClickHouseHook

        params = dict(get_current_context()["params"])
        olap = ClickHouseHook().get_client()
        load_plan = plan_load({**params, "mode": "window"}, None, None, roads_tables(olap))
        assert load_plan.start is not None and load_plan.end is not None  # a window has both ends
        defaulted = not (params.get("window_start") or params.get("window_end"))
        log.info("window %s .. %s (UTC, end exclusive)%s", load_plan.start.isoformat(), load_plan.end.isoformat(),
                 ": the default, the last full day" if defaulted else "")
        for table in load_plan.tables:  # an added table's slice refused here, before anything is written
            entry = find_entry(olap, table.name)
            if not entry.built_in:
                log.info("%s: backfill of the %s", table.name, plan_slice(entry, params, load_plan.start,
                                                                           load_plan.end).what)
        return [{"table": t.name, "start": load_plan.start.isoformat(), "end": load_plan.end.isoformat(),
                 "target": params["target"], "time_column": params.get("time_column") or "",
                 "key_from": params.get("key_from"), "key_to": params.get("key_to")} for t in load_plan.tables]

    @task(multiple_outputs=True, map_index_template="{{ task.op_kwargs['item']['table'] }}")  # named by table in the UI
    def refill(item: dict) -> dict:
        from datetime import UTC, datetime

        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from bionicflow.cdc.signals import request_snapshot, wait_snapshot, window_keys
        from bionicflow.etl.load import record, resolve_table
        from bionicflow.etl.run import run_load
        from bionicflow_airflow import ClickHouseHook
        from bionicflow_airflow.sources import SIGNAL_CONNECTIONS, pg_source

        from bionicflow.kernel.table_catalogue import find_entry
        from bionicflow.platform.added_backfill import backfill_added, plan_slice
        from bionicflow_airflow.sources import added_source

        start, end = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
        olap = ClickHouseHook().get_client()
        entry = find_entry(olap, item["table"])
        if not entry.built_in:  # a table `tables add` put in the catalogue (docs/sources.md, "Backfill")
            return backfill_added(olap, entry, added_source(olap, entry), plan_slice(entry, item, start, end),
                                  item["target"], get_current_context()["run_id"], progress=log.info)
        table = resolve_table(item["table"])
        done: dict[str, str | int] = {"table": table.name}
        if item["target"] in (DEFAULT_DB, "both"):
            run_id = get_current_context()["run_id"]
            result = run_load(olap, table, pg_source(table.name), run_id, "window", start, end)
            record(olap, run_id, result)
            if result.reason:  # the source gained a column: the whole table was copied, the window with it
                log.warning("%s.%s: refreshed whole: %s", DEFAULT_DB, table.name, result.reason)
            log.info("%s.%s: re-loaded %d rows of the window in %.2fs", DEFAULT_DB, table.name, result.rows,
                     result.seconds)
            done["default_rows"] = result.rows
        if item["target"] in (CDC_DB, "both"):
            conn = PostgresHook(postgres_conn_id=SIGNAL_CONNECTIONS[table.name]).get_conn()
            try:
                keys = window_keys(conn, table, start, end)
                since = datetime.now(UTC).replace(tzinfo=None)
                signal_id = request_snapshot(conn, table, start, end)
            finally:
                conn.close()
            log.info("%s.%s: incremental snapshot %s requested for %d rows", CDC_DB, table.name, signal_id, len(keys))
            done["debezium_rows"] = wait_snapshot(olap, table, keys, since) if keys else 0
        return done

    refill.expand(item=plan())


backfill()
