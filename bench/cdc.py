"""CDC benchmarks on a stack of their own (ports 3xxxx, temporary state dir).

snapshot:  N users + M events exist before the connectors start; time from `cdc bootstrap`
           until every row is visible under FINAL in `debezium`, as rows/s end to end, for
           each initial load (Debezium's snapshot; ClickHouse copying while the connectors
           stream). Ceiling in the same run: `COPY (SELECT ...) TO STDOUT` of the same tables.
streaming: a load generator commits inserts into telemetry_events at a fixed rate for a
           fixed time; freshness per row = `_ingested_at - _source_ts` (commit in
           PostgreSQL -> row written in ClickHouse), reported as p50/p95/p99; and the CPU
           each part of the stack spent per change from the load's start to its last row's
           arrival (bench/cpu_budget.py), after the idle stack's CPU per part.

Run: python -m bench.cdc snapshot [--users N --events M --runs K --initial-load debezium,olap]
     python -m bench.cdc streaming [--rates 2500,10000 --seconds 60 --runs K]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import psycopg2

from bench import cpu_budget
from bench.common import bench_stack, bionicflow, fresh_stack, machine
from bionicflow.kernel.olap import olap_client
from bionicflow.cdc.connectors import load_connectors
from bionicflow.kernel.config import Settings

USERS_SQL = """INSERT INTO users (name, email, age, gender, country, address, phone, registered_at)
SELECT 'user ' || g, 'user' || g || '@example.org', 18 + g %% 70, (ARRAY['f','m','x'])[1 + g %% 3],
       (ARRAY['DE','FR','RU','US','BR'])[1 + g %% 5], g || ' Long Street, Some City', '+49-' || g,
       timestamp '2025-01-01' + g * interval '1 second'
FROM generate_series(1, %s) g"""
EVENTS_SQL = """INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency,
       signal_duration, signal_amplitude, created_ts)
SELECT gen_random_uuid(), (ARRAY['hand','arm','leg'])[1 + g %% 3], (ARRAY['biceps','triceps','quadriceps'])[1 + g %% 3],
       g %% 500, g %% 3000, (g %% 1000) / 7.0, timestamp '2025-01-01' + g * interval '10 millisecond'
FROM generate_series(1, %s) g"""


def pg(settings: Settings, db: str):
    user, password, port = (
        (settings.crm_user, settings.crm_password, settings.crm_db_port) if db == "crm_db"
        else (settings.telemetry_user, settings.telemetry_password, settings.telemetry_db_port)
    )
    conn = psycopg2.connect(host=settings.host, port=port, dbname=db, user=user, password=password.get_secret_value())
    conn.autocommit = True
    return conn


def olap(settings: Settings):
    return olap_client(settings)


def copy_seconds(settings: Settings, db: str, table: str) -> float:
    """The ceiling: PostgreSQL streaming the whole table out as text."""
    conn = pg(settings, db)
    sink = io.BytesIO()
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY (SELECT * FROM {table}) TO STDOUT", sink)
    conn.close()
    return time.perf_counter() - started


def wait_rows(settings: Settings, expected: dict[str, int], timeout: float) -> None:
    client, deadline = olap(settings), time.monotonic() + timeout
    while True:
        counts = {t: client.command(f"SELECT count() FROM debezium.{t} FINAL") for t in expected}
        if counts == expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"snapshot incomplete after {timeout}s: {counts} of {expected}")
        time.sleep(0.5)


def connect_alone(settings: Settings, events: int) -> dict:
    """Kafka Connect by itself: a copy of the telemetry connector snapshots into a topic nobody reads."""
    import requests
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    spec = next(s for s in load_connectors() if s.name == "telemetry-connector")
    name = "bench-connect-alone"
    config = {**spec.config, "topic.prefix": name, "slot.name": "bench_connect_alone",
              "table.include.list": "public.telemetry_events"}
    url = f"http://{settings.host}:{settings.kafka_connect_port}/connectors/{name}"
    started = time.perf_counter()
    requests.put(f"{url}/config", json=config, timeout=30).raise_for_status()
    consumer = Consumer({"bootstrap.servers": f"{settings.host}:{settings.kafka_port}", "group.id": name})
    deadline = time.monotonic() + 3600

    def produced() -> int:
        try:
            return consumer.get_watermark_offsets(TopicPartition(f"{name}.public.telemetry_events", 0), timeout=10)[1]
        except KafkaException:  # the topic does not exist until the connector's first message
            return 0

    while produced() < events:
        if time.monotonic() > deadline:
            raise RuntimeError("Kafka Connect did not snapshot the table within an hour")
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    consumer.close()
    requests.delete(url, timeout=30)
    return {"connect_alone_s": round(seconds, 1), "connect_alone_rows_per_s": round(events / seconds)}


def snapshot_run(env: dict, users: int, events: int, initial_load: str, with_connect_alone: bool) -> dict:
    # `up` must not bootstrap: the rows have to exist before the connectors start (else they stream)
    env = {**env, "BIONICFLOW_AUTO_BOOTSTRAP": "0"}
    fresh_stack(env)
    settings = Settings()
    for db, sql, n in (("crm_db", USERS_SQL, users), ("telemetry_db", EVENTS_SQL, events)):
        conn = pg(settings, db)
        with conn.cursor() as cur:
            cur.execute(sql, (n,))
            cur.execute("ANALYZE")
        conn.close()
    copy_s = copy_seconds(settings, "crm_db", "users") + copy_seconds(settings, "telemetry_db", "telemetry_events")
    started = time.perf_counter()
    bionicflow(env, "cdc", "bootstrap", "--initial-load", initial_load)
    wait_rows(settings, {"users": users, "telemetry_events": events}, timeout=3600)
    cdc_s = time.perf_counter() - started
    total = users + events
    reads = sum(olap(settings).command(f"SELECT countIf(_op = 'r') FROM debezium.{t} FINAL")
                for t in ("users", "telemetry_events"))
    if reads != total:  # guards what is measured: a snapshot, not a stream of inserts
        raise RuntimeError(f"{total - reads} of {total} rows did not arrive as snapshot reads")
    result = {"initial_load": initial_load, "rows": total, "cdc_s": round(cdc_s, 1),
              "cdc_rows_per_s": round(total / cdc_s), "copy_s": round(copy_s, 2), "copy_rows_per_s": round(total / copy_s),
              "fraction_of_ceiling": round(copy_s / cdc_s, 3)}
    # the stack is idle now: Debezium with both cores to itself, as a reference for the end-to-end rate
    return {**result, **(connect_alone(settings, events) if with_connect_alone else {})}


def idle_cpu(env: dict, seconds: int) -> dict:
    """The stack's CPU with nothing changing, as a share of one core per part."""
    before = cpu_budget.sample(env["BIONICFLOW_STATE_DIR"])
    time.sleep(seconds)  # the measured stretch itself
    used = cpu_budget.spent(before, cpu_budget.sample(env["BIONICFLOW_STATE_DIR"]))
    return {part: round(100 * value / seconds, 1) for part, value in used.items()} | \
        {"total": round(100 * sum(used.values()) / seconds, 1)}


def streaming_run(env: dict, rate: int, seconds: int) -> dict:
    settings = Settings()
    cpu_before = cpu_budget.sample(env["BIONICFLOW_STATE_DIR"])
    conn = pg(settings, "telemetry_db")
    tick = 0.02  # one transaction every 20 ms
    per_tx = max(1, round(rate * tick))
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM telemetry_events")
        first_id = cur.fetchone()[0]
        started = time.perf_counter()
        next_at, sent = started, 0
        while time.perf_counter() - started < seconds:
            cur.execute(EVENTS_SQL, (per_tx,))
            sent += per_tx
            next_at += tick
            time.sleep(max(0.0, next_at - time.perf_counter()))  # pacing of the load, not synchronisation
        achieved = sent / (time.perf_counter() - started)
    conn.close()
    client = olap(settings)
    deadline = time.monotonic() + 600
    while client.command(f"SELECT count() FROM debezium.telemetry_events FINAL WHERE id > {first_id}") < sent:
        if time.monotonic() > deadline:
            raise RuntimeError("streaming rows did not all arrive within 600s")
        time.sleep(0.5)
    cpu = cpu_budget.spent(cpu_before, cpu_budget.sample(env["BIONICFLOW_STATE_DIR"]))  # load start to last row in
    p50, p95, p99, worst = client.query(
        "SELECT quantiles(0.5, 0.95, 0.99)(d)[1], quantiles(0.5, 0.95, 0.99)(d)[2], quantiles(0.5, 0.95, 0.99)(d)[3], max(d)"
        " FROM (SELECT dateDiff('microsecond', _source_ts, _ingested_at) / 1e6 AS d"
        f"       FROM debezium.telemetry_events WHERE id > {first_id} AND _op = 'c')"
    ).result_rows[0]
    return {"target_rate": rate, "achieved_rate": round(achieved), "seconds": seconds, "changes": sent,
            "p50_s": round(p50, 3), "p95_s": round(p95, 3), "p99_s": round(p99, 3), "max_s": round(worst, 3),
            "cpu_us_per_change": cpu_budget.per_change(cpu, sent)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["snapshot", "streaming"])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--initial-load", default="debezium,olap", help="snapshot: initial loads to measure")
    parser.add_argument("--connect-alone", action="store_true",
                        help="snapshot: also time Kafka Connect alone snapshotting the events into a spare topic")
    parser.add_argument("--rates", default="2500,10000")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=int, default=30, help="streaming: the stack's idle CPU measured first")
    args = parser.parse_args()
    out: dict = {"machine": machine(), "mode": args.mode, "runs": args.runs}
    with bench_stack() as env:
        if args.mode == "snapshot":
            modes = args.initial_load.split(",")
            runs = [snapshot_run(env, args.users, args.events, mode, args.connect_alone) for _ in range(args.runs) for mode in modes]
            out["runs_detail"] = runs
            for mode in modes:
                mine = [r for r in runs if r["initial_load"] == mode]
                out[f"median_cdc_rows_per_s_{mode}"] = statistics.median(r["cdc_rows_per_s"] for r in mine)
                out[f"median_fraction_of_ceiling_{mode}"] = statistics.median(r["fraction_of_ceiling"] for r in mine)
            if args.connect_alone:
                out["median_connect_alone_rows_per_s"] = statistics.median(
                    r["connect_alone_rows_per_s"] for r in runs)
            out["median_copy_rows_per_s"] = statistics.median(r["copy_rows_per_s"] for r in runs)
        else:
            fresh_stack(env)
            bionicflow(env, "cdc", "bootstrap")
            out["idle_cpu_percent_of_a_core"] = idle_cpu(env, args.idle_seconds)
            out["runs_detail"] = [streaming_run(env, int(rate), args.seconds)
                                  for rate in args.rates.split(",") for _ in range(args.runs)]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
