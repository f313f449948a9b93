"""A source change measured on the CDC road while a writer keeps changes flowing (shared by the CDC benchmarks).

A writer inserts marked rows at --rate rows/s (a transaction every 100 ms) stamped with the
commit's clock; a sampler reads the newest stamp of those rows in `debezium` every 0.5 s, so
freshness = now minus that stamp. Phases: `before` (--seconds), `during` (the change under
test, until its own condition is met), `after` (--seconds).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from bench.batch_etl import pg, sources
from bench.common import bench_env
from bionicflow.kernel.config import Settings


@dataclass(frozen=True)
class Stream:
    insert_sql: str  # takes %(mark)s and %(n)s; stamps its rows with clock_timestamp()
    newest_sql: str  # ClickHouse: the newest stamp of the rows marked {m:String}
    mark: str


def writer(src, stream: Stream, rate: int, stop: threading.Event) -> None:
    conn = pg(src)
    conn.autocommit = True
    next_tick = time.monotonic()
    with conn.cursor() as cur:
        while not stop.is_set():
            cur.execute(stream.insert_sql, {"mark": stream.mark, "n": max(1, rate // 10)})
            next_tick += 0.1
            stop.wait(max(0.0, next_tick - time.monotonic()))  # pacing of the load generator
    conn.close()


def sampler(client, stream: Stream, stop: threading.Event, phase: list[str], samples: dict[str, list[float]]) -> None:
    while not stop.is_set():
        newest = client.query(stream.newest_sql, parameters={"m": stream.mark}).result_rows[0][0]
        if newest is not None and newest.year > 2000:
            age = (datetime.now(timezone.utc).replace(tzinfo=None) - newest).total_seconds()
            samples.setdefault(phase[0], []).append(age)
        stop.wait(0.5)  # the sampling interval


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def under_load(src, client, stream: Stream, rate: int, seconds: float, change: Callable[[], dict]) -> dict:
    """Run ``change`` (it returns once its effect is seen) between two phases of steady writes; its result
    and the freshness percentiles per phase."""
    stop, phase, samples = threading.Event(), ["before"], {}
    threads = [threading.Thread(target=writer, args=(src, stream, rate, stop), daemon=True),
               threading.Thread(target=sampler, args=(client, stream, stop, phase, samples), daemon=True)]
    for t in threads:
        t.start()
    try:
        time.sleep(seconds)  # the `before` phase: its length, not synchronisation
        phase[0] = "during"
        result = change()
        phase[0] = "after"
        time.sleep(seconds)  # the `after` phase
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    result["freshness_seconds"] = {name: {"p50": round(statistics.median(v), 2), "p99": p(v, 0.99), "samples": len(v)}
                                   for name, v in samples.items() if v}
    return result


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 1800) -> float:
    """Seconds until ``condition`` holds, polled every 0.1 s."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{what} did not happen in {timeout:.0f} s")
        time.sleep(0.1)  # polling interval; the loop condition decides
    return time.monotonic() - started


def setup(table: str) -> tuple[argparse.Namespace, dict, Settings, object, int]:
    """The benchmark's arguments, its stack's environment and settings, ``table``'s source and its row count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--rate", type=int, default=2500, help="rows/s the writer inserts meanwhile")
    parser.add_argument("--seconds", type=float, default=60, help="length of the before and after phases")
    args = parser.parse_args()
    env = bench_env(args.reuse)
    settings = Settings()
    src = sources(settings)[table]
    with pg(src) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")  # a table name of the catalogue, not input
        rows = cur.fetchone()[0]
    return args, env, settings, src, rows
