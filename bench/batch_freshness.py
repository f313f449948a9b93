"""How old `default` is under its schedule while the sources change steadily; `debezium` in the same run.

On a kept, loaded benchmark stack started with the schedule under test
(`BIONICFLOW_ETL_SCHEDULE='*/5 * * * *' bionicflow up`; the default is hourly): every DAG but
`etl_default` is paused, CDC is bootstrapped if it is not (initial load by ClickHouse copy),
then for --minutes a writer changes `telemetry_events` at --rate changes/s (half inserts,
0.4 updates, 0.1 deletes, one transaction per second) and every --sample-seconds the age of
each schema is observed: now minus the newest `saved_ts` it holds of the writer's rows (the
writer stamps `saved_ts` with the commit's clock). Sampling starts at the first load that
brought the writer's rows at a schedule tick after the writer started (not the catch-up run Airflow makes on
unpausing), so the observation window covers whole schedule cycles.

Run: python -m bench.batch_freshness --reuse STATE_DIR [--minutes 60 --rate 100 --sample-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from datetime import datetime, timezone

from bench.batch_etl import olap, pg, sources
from bench.common import bench_env, bionicflow, machine
from bionicflow.kernel.airflow_api import AirflowClient
from bionicflow.kernel.config import Settings

MARK = "freshness"
WRITE_SQL = (
    "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration, "
    "signal_amplitude, created_ts, saved_ts) SELECT gen_random_uuid(), 'arm', %(mark)s, g, g, g / 3.0, "
    "clock_timestamp(), clock_timestamp() FROM generate_series(1, %(inserts)s) g",
    "UPDATE telemetry_events SET signal_duration = signal_duration + 1 WHERE id IN "
    "(SELECT (random() * %(top)s)::bigint FROM generate_series(1, %(updates)s))",
    "DELETE FROM telemetry_events WHERE id IN (SELECT (random() * %(top)s)::bigint FROM generate_series(1, %(deletes)s))"
    " AND muscle_group <> %(mark)s",
)
NEWEST_SQL = "SELECT max(saved_ts) FROM {db}.telemetry_events WHERE muscle_group = {{m:String}}"


def writer(src, rate: int, stop: threading.Event, written: list[int]) -> None:
    """A steady stream of changes: one transaction per second holding ``rate`` changes."""
    conn = pg(src)
    with conn.cursor() as cur:
        cur.execute("SELECT max(id) FROM telemetry_events")
        top = cur.fetchone()[0]
    params = {"mark": MARK, "inserts": rate // 2, "updates": rate * 4 // 10, "deletes": rate // 10, "top": top}
    next_tick = time.monotonic()
    while not stop.is_set():
        with conn, conn.cursor() as cur:
            for statement in WRITE_SQL:
                cur.execute(statement, params)
        written[0] += rate
        next_tick += 1
        stop.wait(max(0.0, next_tick - time.monotonic()))  # pacing of the load generator
    conn.close()


def ages(client) -> dict[str, float | None]:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    result = {}
    for db in ("default", "debezium"):
        newest = client.query(NEWEST_SQL.format(db=db), parameters={"m": MARK}).result_rows[0][0]
        result[db] = None if newest is None or newest.year < 2000 else round((now - newest).total_seconds(), 1)
    return result


def only_etl_default(s: Settings) -> AirflowClient:
    client = AirflowClient(s.airflow_url, s.airflow_admin_user, s.airflow_admin_password.get_secret_value())
    for dag in client.request("GET", "/dags", params={"limit": 100})["dags"]:
        client.request("PATCH", f"/dags/{dag['dag_id']}", json={"is_paused": dag["dag_id"] != "etl_default"})
    return client


def first_scheduled_load(airflow: AirflowClient, since: datetime, poll_s: float, deadline_s: float = 7200) -> None:
    """Wait for the first scheduled run of etl_default due after ``since`` to succeed.

    Unpausing the DAG makes Airflow run the tick it missed at once; that load is not a
    schedule cycle, so the window starts at the first tick after the writer began instead.
    """
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        runs = airflow.request("GET", "/dags/etl_default/dagRuns",
                               params={"limit": 20, "order_by": "-run_after"})["dag_runs"]
        if any(r["run_type"] == "scheduled" and r["state"] == "success"
               and datetime.fromisoformat(r["run_after"].replace("Z", "+00:00")) > since for r in runs):
            return
        time.sleep(poll_s)  # polling interval; the loop condition decides
    raise SystemExit(f"no scheduled etl_default run after {since:%H:%M} succeeded in {deadline_s / 60:.0f} min")


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 1), "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
            "max": ordered[-1], "samples": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=int, default=100, help="source changes per second")
    parser.add_argument("--sample-seconds", type=float, default=10)
    args = parser.parse_args()
    env = bench_env(args.reuse)
    s = Settings()
    airflow = only_etl_default(s)
    bionicflow(env, "cdc", "bootstrap", "--initial-load", "olap")
    client = olap(s)
    stop, written = threading.Event(), [0]
    thread = threading.Thread(target=writer, args=(sources(s)["telemetry_events"], args.rate, stop, written), daemon=True)
    writer_started = datetime.now(timezone.utc)
    thread.start()
    samples: dict[str, list[float]] = {"default": [], "debezium": []}
    try:
        first_scheduled_load(airflow, writer_started, args.sample_seconds)
        started = time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            for db, age in ages(client).items():
                if age is not None:
                    samples[db].append(age)
            time.sleep(args.sample_seconds)  # the sampling interval, not synchronisation
    finally:
        stop.set()
        thread.join(timeout=30)
    runs = airflow.request("GET", "/dags/etl_default/dagRuns", params={"limit": 100, "order_by": "-start_date"})
    out = {"machine": machine(), "schedule": s.etl_schedule, "minutes": args.minutes, "rate_per_s": args.rate,
           "changes_written": written[0], "age_seconds": {db: summary(v) for db, v in samples.items()},
           "etl_default_runs": [{"run_id": r["dag_run_id"], "state": r["state"], "start": r["start_date"],
                                 "end": r["end_date"]} for r in runs["dag_runs"]][:20]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
