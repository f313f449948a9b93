"""Overview report (every user's events over a period) through reports_api, against PostgreSQL.

The user report is a point lookup, where PostgreSQL's B-tree wins (bench.reports_latency);
the overview scans the whole period, which is what a column store is for. Both are measured
so the docs can say where each road's engine belongs.

PostgreSQL baseline in the same run, doing what an application on the two source databases
would have to: the aggregates in telemetry_db (totals, per type, per muscle group, top users,
events per user) and the per-country split by joining those per-user counts with crm_db's
users in the client (the two databases are separate servers).

Run on a stack loaded by bench.reports_latency (BIONICFLOW_BENCH_KEEP=1):
    python -m bench.reports_overview --reuse STATE_DIR [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from datetime import date, timedelta

import requests

from bench.batch_etl import pg, sources
from bench.common import bench_stack, machine
from bionicflow.kernel.config import Settings
from bionicflow.reports.auth import issue_dev_token

PG_TELEMETRY = (
    "SELECT count(*), count(DISTINCT user_uuid), avg(signal_amplitude), avg(signal_frequency), avg(signal_duration) "
    "FROM telemetry_events WHERE created_ts >= %(s)s AND created_ts < %(e)s",
    "SELECT prosthesis_type, count(*), count(DISTINCT user_uuid), avg(signal_amplitude) "
    "FROM telemetry_events WHERE created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1",
    "SELECT muscle_group, count(*), count(DISTINCT user_uuid), avg(signal_amplitude) "
    "FROM telemetry_events WHERE created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1",
)
PG_PER_USER = ("SELECT user_uuid::text, count(*) FROM telemetry_events "
               "WHERE created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1")
PG_COUNTRIES = "SELECT user_uuid::text, country FROM users"


def postgresql_overview(s: Settings, period: dict) -> None:
    srcs = sources(s)
    params = {"s": date.fromisoformat(period["from"]), "e": date.fromisoformat(period["to"]) + timedelta(days=1)}
    with pg(srcs["telemetry_events"]) as tel, tel.cursor() as cur:
        for sql in PG_TELEMETRY:
            cur.execute(sql, params)
            cur.fetchall()
        cur.execute(PG_PER_USER, params)
        per_user = dict(cur.fetchall())
    top = sorted(per_user.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    with pg(srcs["users"]) as crm, crm.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        cur.fetchone()
        cur.execute(PG_COUNTRIES)
        countries = dict(cur.fetchall())
    by_country = Counter()
    for user, events in per_user.items():
        by_country[countries.get(user) or "unknown"] += events
    assert top and by_country


def api_overview(s: Settings, schema: str, period: dict):
    token = issue_dev_token(s, "analyst", ttl_seconds=7200)
    session = requests.Session()

    def call() -> None:
        response = session.get(f"http://{s.host}:{s.reports_api_port}/reports/overview", timeout=600,
                               params={"schema": schema, **period}, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return call


def timed_runs(call, runs: int) -> dict:
    call()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(round((time.perf_counter() - started) * 1000, 1))
    return {"median_ms": statistics.median(samples), "samples_ms": samples}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    today = date.today()
    period = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    with bench_stack(args.reuse):
        s = Settings()
        results = {"api_default": timed_runs(api_overview(s, "default", period), args.runs),
                   "api_debezium": timed_runs(api_overview(s, "debezium", period), args.runs),
                   "postgresql": timed_runs(lambda: postgresql_overview(s, period), args.runs)}
    for name in ("api_default", "api_debezium"):
        results[name]["postgresql_over_this"] = round(results["postgresql"]["median_ms"] / results[name]["median_ms"], 2)
    print(json.dumps({"machine": machine(), "period": period, "runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
