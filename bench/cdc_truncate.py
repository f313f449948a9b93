"""TRUNCATE on the CDC road at scale: how long until `debezium` holds none of the old rows, and what it costs the stream.

On a kept, loaded benchmark stack whose CDC streams (run it after the other benchmarks: it
empties `telemetry_events`). A writer inserts into `telemetry_events` at --rate rows/s (a
transaction every 100 ms), stamping `saved_ts` with the commit's clock; freshness is now minus
the newest `saved_ts` of the writer's rows in `debezium`, sampled every 0.5 s. Phases:
`before` (--seconds), then `TRUNCATE telemetry_events` and `during` (until `debezium.telemetry_events
FINAL` holds no row older than the TRUNCATE), then `after` (--seconds). One run: a second would
need the 5M rows streamed in again.

Run: python -m bench.cdc_truncate --reuse STATE_DIR [--rate 2500 --seconds 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from datetime import datetime, timezone

from bench.batch_etl import olap, pg, sources
from bench.common import bench_env, machine
from bionicflow.config import Settings

MARK = "truncate-bench"
INSERT_SQL = (
    "INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration, "
    "signal_amplitude, created_ts, saved_ts) SELECT gen_random_uuid(), 'arm', %(mark)s, g, g, g / 3.0, "
    "clock_timestamp(), clock_timestamp() FROM generate_series(1, %(n)s) g"
)
NEWEST_SQL = "SELECT max(saved_ts) FROM debezium.telemetry_events WHERE muscle_group = {m:String}"
OLDER_SQL = "SELECT count() FROM debezium.telemetry_events FINAL WHERE saved_ts < {t:DateTime64(6)}"


def writer(src, rate: int, stop: threading.Event) -> None:
    conn = pg(src)
    conn.autocommit = True
    next_tick = time.monotonic()
    with conn.cursor() as cur:
        while not stop.is_set():
            cur.execute(INSERT_SQL, {"mark": MARK, "n": max(1, rate // 10)})
            next_tick += 0.1
            stop.wait(max(0.0, next_tick - time.monotonic()))  # pacing of the load generator
    conn.close()


def sampler(client, stop: threading.Event, phase: list[str], samples: dict[str, list[float]]) -> None:
    while not stop.is_set():
        newest = client.query(NEWEST_SQL, parameters={"m": MARK}).result_rows[0][0]
        if newest is not None and newest.year > 2000:
            age = (datetime.now(timezone.utc).replace(tzinfo=None) - newest).total_seconds()
            samples.setdefault(phase[0], []).append(age)
        stop.wait(0.5)  # the sampling interval


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--rate", type=int, default=2500, help="rows/s the writer inserts meanwhile")
    parser.add_argument("--seconds", type=float, default=60, help="length of the before and after phases")
    args = parser.parse_args()
    bench_env(args.reuse)
    s = Settings()
    src = sources(s)["telemetry_events"]
    with pg(src) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM telemetry_events")
        rows = cur.fetchone()[0]
    stop, phase, samples = threading.Event(), ["before"], {}
    threads = [threading.Thread(target=writer, args=(src, args.rate, stop), daemon=True),
               threading.Thread(target=sampler, args=(olap(s), stop, phase, samples), daemon=True)]
    for t in threads:
        t.start()
    try:
        time.sleep(args.seconds)  # the `before` phase: its length, not synchronisation
        conn = pg(src)
        conn.autocommit = True
        with conn.cursor() as cur:
            # taken before: a writer row stamped earlier was inserted before the TRUNCATE took its lock, so
            # it is gone; one stamped after the TRUNCATE's commit (but before a later clock read) is not
            cur.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
            truncated_at = cur.fetchone()[0]
            cur.execute("TRUNCATE telemetry_events")
        conn.close()
        phase[0], started = "during", time.monotonic()
        client = olap(s)
        while client.query(OLDER_SQL, parameters={"t": truncated_at}).result_rows[0][0]:
            if time.monotonic() - started > 1800:
                raise SystemExit("debezium still holds rows from before the TRUNCATE after 30 min")
            time.sleep(0.5)  # polling interval; the loop condition decides
        emptied = time.monotonic() - started
        phase[0] = "after"
        time.sleep(args.seconds)  # the `after` phase
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    out = {"machine": machine(), "rows_truncated": rows, "writer_rows_per_s": args.rate,
           "seconds_until_debezium_empty_of_old_rows": round(emptied, 1),
           "freshness_seconds": {name: {"p50": round(statistics.median(v), 2), "p99": p(v, 0.99), "samples": len(v)}
                                 for name, v in samples.items() if v}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
