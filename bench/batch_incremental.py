"""The change-capturing incremental load against the full refresh, measured in the same run.

On a stack of its own loaded with N users + M events (1M + 5M by default), per run:
  (a) incremental, nothing changed since the last load (end to end inside the task:
      source state, changed rows, key sync, cursor);
  (b) 1% of the rows changed (a third backdated inserts, a third updates of several
      columns, a third deletes, over both tables), then, once CDC (where it runs) has
      streamed them, the incremental load;
  (c) a full refresh of both tables (the baseline).
Each is checked: after (b) and (c) `default` must equal the source (reconciliation by row hash).

Run: python -m bench.batch_incremental [--users N --events M --runs K] [--reuse STATE_DIR]
"""

from __future__ import annotations

import json
import statistics
import time

from bench.batch_etl import loaded_stack, olap, pg, scale_run, settle, source_rows
from bench.common import timed
from bionicflow.kernel.airflow_api import AirflowClient
from bionicflow.etl import ddl as schema
from bionicflow.etl.changes import load_changes
from bionicflow.etl.load import full_refresh
from bionicflow.kernel.sources import reader_sources
from bionicflow.kernel.tables import TABLES, TELEMETRY_EVENTS, USERS
from bionicflow.reconcile.compare import compare_table

CHANGES = {
    USERS.name: (
        "INSERT INTO users (name, email, age, registered_at) SELECT 'bench ' || g, 'b' || g || '@example.org', "
        "20 + g %% 50, now() - interval '4 years' FROM generate_series(1, %(n)s) g",
        "UPDATE users SET age = coalesce(age, 0) + 1, country = 'NL' WHERE random() < %(share)s",
        "DELETE FROM users WHERE random() < %(share)s",
    ),
    TELEMETRY_EVENTS.name: (
        "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration, "
        "signal_amplitude, created_ts) SELECT gen_random_uuid(), 'arm', 'bench', g %% 500, g %% 900, g / 7.0, "
        "now() - interval '3 years' FROM generate_series(1, %(n)s) g",
        "UPDATE telemetry_events SET signal_amplitude = signal_amplitude + 1, muscle_group = 'bench' "
        "WHERE random() < %(share)s",
        "DELETE FROM telemetry_events WHERE random() < %(share)s",
    ),
}


def change_one_percent(srcs, rows: dict[str, int]) -> None:
    """Inserts, updates and deletes of 1/300 of the rows each (1% in all), scattered over the whole key range."""
    for table in TABLES:
        with pg(srcs[table.name]) as conn, conn.cursor() as cur:
            for statement in CHANGES[table.name]:
                cur.execute(statement, {"n": max(1, rows[table.name] // 300), "share": 1 / 300})


def cdc_caught_up(client, srcs, deadline_s: float = 900) -> float:
    """Seconds until `debezium` holds as many rows as each source (0 where CDC is not running).

    The changes above are a burst of 60,000 rows at once, which the CDC road then streams on
    the same two cores for tens of seconds; in production the same changes arrive over the
    hour between two loads and CDC is idle when the load runs. So (b) waits for it.
    """
    started = time.monotonic()
    if not int(client.command("SELECT count() FROM system.tables WHERE database = 'debezium' AND name = 'users'")):
        return 0.0
    conns = {t.name: pg(srcs[t.name]) for t in TABLES}
    try:
        while True:
            counts = []
            for table in TABLES:
                with conns[table.name], conns[table.name].cursor() as cur:
                    cur.execute(f"SELECT count(*) FROM public.{table.source_table}")
                    source = cur.fetchone()[0]
                counts.append((source, int(client.command(f"SELECT count() FROM debezium.{table.name} FINAL"))))
            if all(source == cdc for source, cdc in counts):
                return time.monotonic() - started
            if time.monotonic() - started > deadline_s:
                raise SystemExit(f"CDC did not catch up in {deadline_s:.0f} s (source, debezium): {counts}")
            time.sleep(1)  # polling interval; the loop condition decides
    finally:
        for conn in conns.values():
            conn.close()


def matches(client, srcs) -> bool:
    return all(r.match for t in TABLES for r in compare_table(client, t, srcs[t.name], sides=("default",))
               if r.side == "default")


def pause_dags(s) -> None:
    """No scheduled etl_default or cdc_reconcile may run beside the measured loads (they share cursors and scratch tables).

    A paused DAG's run that is still going never ends (its waiting tasks are not scheduled again): such runs are
    marked failed, then the tasks still running are waited for.
    """
    client = AirflowClient(s.airflow_url, s.airflow_admin_user, s.airflow_admin_password.get_secret_value())
    for dag in client.request("GET", "/dags", params={"limit": 100})["dags"]:
        client.request("PATCH", f"/dags/{dag['dag_id']}", json={"is_paused": True})
    for run in client.request("GET", "/dags/~/dagRuns", params={"state": ["running", "queued"]})["dag_runs"]:
        client.request("PATCH", f"/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}", json={"state": "failed"})
    deadline = time.monotonic() + 900
    while client.request("GET", "/dags/~/dagRuns/~/taskInstances", params={"state": ["running"]})["total_entries"]:
        if time.monotonic() > deadline:
            raise SystemExit("tasks still running 15 min after pausing every DAG: see the Airflow UI")
        time.sleep(5)


def main() -> None:
    args, out = scale_run()
    with loaded_stack(args, out) as (s, srcs):
        pause_dags(s)
        client = olap(s)
        for statement in schema.render():
            client.command(statement)
        readers = reader_sources(s)  # the loads read as etl_default does: the read-only ETL role
        full = lambda: [full_refresh(client, t, readers[t.name]) for t in TABLES]  # noqa: E731
        last: list = []

        def incremental() -> None:
            last[:] = [load_changes(client, t, readers[t.name]) for t in TABLES]

        full()  # the cursor every incremental run resumes from
        rows = {t.name: n for t, n in zip(TABLES, (args.users, args.events))}
        samples: dict[str, list[float]] = {"nothing_changed": [], "one_percent_changed": [], "full_refresh": []}
        checks, paths, waits = [], [], []
        for _ in range(args.runs):
            settle(client)
            samples["nothing_changed"].append(timed(incremental))
            change_one_percent(srcs, rows)
            waits.append(round(cdc_caught_up(client, srcs), 1))
            settle(client)
            samples["one_percent_changed"].append(timed(incremental))
            paths.append({r.table: r.skipped or "table scans" for r in last})
            checks.append(matches(client, srcs))
            settle(client)
            samples["full_refresh"].append(timed(full))
        med = {k: statistics.median(v) for k, v in samples.items()}
        out["seconds"] = {k: {"median": round(med[k], 2), "samples": [round(x, 2) for x in v]}
                          for k, v in samples.items()}
        out["one_percent_vs_full"] = round(med["one_percent_changed"] / med["full_refresh"], 3)
        out["default_equals_source_after_each_incremental"] = checks
        out["one_percent_changed_read"] = paths  # by the change journal, or by scanning the tables
        out["seconds_until_cdc_caught_up_before_b"] = waits
        out["source_rows"] = source_rows(srcs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
