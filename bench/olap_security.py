"""What the read-only checks cost per query: the same statement as the admin (no check), as the
read-only user with its verdict cached, and as the read-only user with a new text each time (the
checker parses it, resolves its tables and follows its view), same server, same run.

Each request is one clickhouse-connect query over HTTP, sequential, so the difference is the
check's latency. Also the check alone, in-process (Engine.check_readonly_query), uncached.

Run: python -m bench.olap_security [--requests N] [--runs K]   (starts its own OLAP server on a free port)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


from bench.common import machine
from bench.olap_throughput import free_port, start_server
from bionicflow.kernel.olap import connect
from bionicflow.kernel.config import Settings
from bionicflow.olap.engine import Engine

SETUP = (
    "CREATE DATABASE IF NOT EXISTS debezium",
    "CREATE TABLE debezium.events (user_uuid UUID, amplitude Float64, ts DateTime64(6)) "
    "ENGINE = MergeTree ORDER BY (cityHash64(user_uuid), ts)",
    "INSERT INTO debezium.events SELECT generateUUIDv4(), rand() / 4e9, now64(6) - number FROM numbers(200000)",
    "CREATE VIEW debezium.recent AS SELECT * FROM debezium.events WHERE ts > now64(6) - 1000",
)
# A report-shaped statement: a CTE, a join through a view, an IN subquery, bound values.
QUERY = ("WITH top AS (SELECT user_uuid FROM debezium.recent LIMIT 10) "
         "SELECT count(), avg(e.amplitude) FROM debezium.events AS e "
         "WHERE e.user_uuid IN (SELECT user_uuid FROM top) AND e.amplitude > {a:Float64}")


def per_query_ms(client, requests: int, vary: bool) -> float:
    """Median ms of one request; `vary` adds a new literal each time, so no cached verdict applies."""
    samples = []
    for n in range(requests):
        unique = time.perf_counter_ns()  # new in every run too, so no earlier verdict matches
        sql = QUERY + (f" AND {unique} = {unique}" if vary else "")
        started = time.perf_counter()
        client.query(sql, parameters={"a": 0.5})
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def check_alone_ms(data_dir: Path, requests: int) -> float:
    """The uncached check in-process: formatQuery, EXPLAIN AST, catalogue look-ups, the view's query."""
    engine = Engine(data_dir / "check")
    try:
        writer = engine.connect(False, _no_options())
        for sql in SETUP:
            writer.query(sql)
        writer.close()
        conn = engine.connect(True, _no_options())
        samples = []
        for n in range(requests):
            started = time.perf_counter()
            engine.check_readonly_query(conn, QUERY + f" AND {n} = {n}", {"a": "0.5"}, frozenset({"debezium"}),
                                        "debezium")
            samples.append((time.perf_counter() - started) * 1000)
        conn.close()
        return statistics.median(samples)
    finally:
        engine.close()


def _no_options():
    from bionicflow.olap.protocol import RequestOptions

    return RequestOptions()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        server = start_server(state, port)
        try:
            admin = connect("127.0.0.1", port, settings.clickhouse_user, settings.clickhouse_password.get_secret_value())
            for sql in SETUP:
                admin.command(sql)
            reader = connect("127.0.0.1", port, settings.clickhouse_reader_user,
                             settings.clickhouse_reader_password.get_secret_value())
            runs = {"admin (no check)": [], "reader, cached verdict": [], "reader, uncached": []}
            for _ in range(args.runs):
                runs["admin (no check)"].append(per_query_ms(admin, args.requests, vary=False))
                runs["reader, cached verdict"].append(per_query_ms(reader, args.requests, vary=False))
                runs["reader, uncached"].append(per_query_ms(reader, args.requests, vary=True))
            admin_uncached = [per_query_ms(admin, args.requests, vary=True) for _ in range(args.runs)]
        finally:
            server.terminate()
            server.wait(30)
        check = [check_alone_ms(Path(state), args.requests) for _ in range(1)]
    base = statistics.median(runs["admin (no check)"])
    base_varied = statistics.median(admin_uncached)
    print(json.dumps({
        "machine": machine(), "requests_per_run": args.requests, "runs": args.runs,
        "median_ms_per_query": {k: round(statistics.median(v), 2) for k, v in runs.items()}
        | {"admin, new text each time": round(base_varied, 2)},
        "check_cost_ms": {"cached": round(statistics.median(runs["reader, cached verdict"]) - base, 2),
                          "uncached": round(statistics.median(runs["reader, uncached"]) - base_varied, 2),
                          "uncached, in-process check alone": round(check[0], 2)},
        "samples_ms": {k: [round(x, 2) for x in v] for k, v in runs.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
