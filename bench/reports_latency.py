"""User report latency through reports_api, per schema and concurrency, against PostgreSQL.

Data: N users + M events generated in the sources (demo generator, fixed seed), loaded into
`default` by the batch road's full refresh; `debezium.*` gets the same rows with CDC
bookkeeping columns by INSERT ... SELECT (the table layout CDC produces, without waiting for
a Debezium snapshot of millions of rows at ~7k rows/s — measured separately in bench.cdc).

Each request: GET /reports?schema=…&user_uuid=…&from=…&to=… with an analyst token (HTTP,
JSON, auth; the schema's freshness at most every 2 s). Once loaded, every user's report
snapshot is built (timed); then half of 20,000 sampled users are marked stale, as a change marks
them: `api_<schema>` asks for the other half (one snapshot row read), `api_<schema>_tables`
for these (the snapshot row read, then the report computed from the tables). Within a path no
user is asked for twice (see UserPool: the engine caches what a repeated filter skipped, which
a stranger's report never finds). Baseline in the same run: the same
report computed by PostgreSQL (profile from crm_db; totals, per type, per muscle group and per
day from telemetry_db, which has an index on user_uuid), one connection per client thread.
Two floors in the same run, to tell the engine's and the service's share from the report's:
one indexed point read sent straight to the OLAP server, and reports_api's `GET /health`.

CPU per request: the OLAP server's and reports_api's processes (process CPU time over a run,
read with psutil) and this process's client threads, so the share of each party on the shared
cores shows beside the rates. Every path is warmed with 200 requests first, and the runs are
interleaved (run 1 of every path and level, then run 2, …) so no path is measured colder.

Run: python -m bench.reports_latency [--users N --events M --requests R]
Iterate: BIONICFLOW_BENCH_KEEP=1 keeps the loaded stack; `--reuse STATE_DIR` measures it again
without reloading (after `bionicflow stop/start olap reports_api` to pick up code changes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from datetime import date, timedelta

import psutil
import psycopg2
import requests

from bench.batch_etl import olap, sources
from bench.common import bench_stack, fresh_stack, machine, scale_arguments
from bionicflow.kernel.olap import olap_client
from bionicflow.cdc import ddl as cdc_schema
from bionicflow.kernel.config import Settings
from bionicflow.demo.data import generate
from bionicflow.etl import ddl as etl_schema
from bionicflow.etl.load import full_refresh
from bionicflow.kernel import snapshot_marks
from bionicflow.reports import snapshots as report_snapshots
from bionicflow.reports.auth import issue_dev_token
from bionicflow.stack.proctree import stack_processes

PG_REPORT = (
    ("crm", "SELECT name, country, age, gender FROM users WHERE user_uuid = %(u)s"),
    ("tel", "SELECT count(*), count(DISTINCT created_ts::date), avg(signal_amplitude), min(signal_amplitude), "
            "max(signal_amplitude), avg(signal_frequency), avg(signal_duration), sum(signal_duration) "
            "FROM telemetry_events WHERE user_uuid = %(u)s AND created_ts >= %(s)s AND created_ts < %(e)s"),
    ("tel", "SELECT prosthesis_type, count(*), avg(signal_amplitude), avg(signal_frequency), avg(signal_duration) "
            "FROM telemetry_events WHERE user_uuid = %(u)s AND created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1"),
    ("tel", "SELECT muscle_group, count(*), avg(signal_amplitude), avg(signal_frequency), avg(signal_duration) "
            "FROM telemetry_events WHERE user_uuid = %(u)s AND created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1"),
    ("tel", "SELECT created_ts::date, count(*), avg(signal_amplitude) "
            "FROM telemetry_events WHERE user_uuid = %(u)s AND created_ts >= %(s)s AND created_ts < %(e)s GROUP BY 1"),
)


def copy_to_debezium(client) -> None:
    """debezium.* holds the same rows as default.*, with the bookkeeping columns CDC writes."""
    for statement in cdc_schema.render("embedded"):
        client.command(statement)
    for table in cdc_schema.TABLES:
        cols = ", ".join(table.business_columns)
        client.command(f"TRUNCATE TABLE debezium.{table.name}")
        client.command(f"INSERT INTO debezium.{table.name} ({cols}, _op, _lsn, _version, _source_ts, is_deleted) "
                       f"SELECT {cols}, 'r', 0, 1, now64(6), 0 FROM default.{table.name}")


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.50) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1)}


def run_load(call, users: list[str], clients: int, requests_total: int) -> dict:
    """`requests_total` calls spread over `clients` threads; latency of each call."""
    latencies: list[float] = []
    lock = threading.Lock()

    failures: list[str] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        try:
            call(users[i % len(users)])
        except Exception as exc:  # counted and reported: saturation shows as errors, not a crash
            with lock:
                failures.append(str(exc).splitlines()[0][:120])
            return
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    started, cpu_before = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests_total)))
    out = percentiles(latencies) if latencies else {"p50_ms": None, "p99_ms": None}
    out["requests_per_s"] = round(len(latencies) / (time.perf_counter() - started), 1)
    # the client threads' own CPU runs on the cores the servers use: shown, so it is not taken for theirs
    out["client_cpu_ms_per_request"] = round((time.process_time() - cpu_before) * 1000 / requests_total, 3)
    out["errors"] = len(failures)
    if failures:
        out["first_error"] = failures[0]
    return out


SERVICES_TIMED = ("olap", "reports_api")
WARM_UP_REQUESTS = 200


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def timed_load(s: Settings, call, users: list[str], clients: int, requests_total: int) -> dict:
    """`run_load` plus the CPU milliseconds per request of the OLAP server, reports_api and the client."""
    pids = {name: [p.pid for p in stack_processes(s.state_dir, name)] for name in SERVICES_TIMED}
    before = {name: _cpu_seconds(ps) for name, ps in pids.items()}
    out = run_load(call, users, clients, requests_total)
    out["cpu_ms_per_request"] = {name: round((_cpu_seconds(ps) - before[name]) * 1000 / requests_total, 2)
                                 for name, ps in pids.items()} | {"client": out["client_cpu_ms_per_request"]}
    return out


def median_run(runs: list[dict]) -> dict:
    """Median of each figure over the runs, plus the samples and the errors."""
    figures = ("p50_ms", "p99_ms", "requests_per_s")
    out = {k: (round(statistics.median(r[k] for r in runs), 1) if all(r[k] is not None for r in runs) else None)
           for k in figures}
    if all("cpu_ms_per_request" in r for r in runs):
        out["cpu_ms_per_request"] = {k: round(statistics.median(r["cpu_ms_per_request"][k] for r in runs), 2)
                                     for k in runs[0]["cpu_ms_per_request"]}
    out["p99_ms_samples"] = [r["p99_ms"] for r in runs]
    out["errors"] = sum(r["errors"] for r in runs)
    out["first_error"] = next((r["first_error"] for r in runs if r.get("first_error")), None)
    return out


def api_caller(s: Settings, schema: str, period: dict):
    token = issue_dev_token(s, "analyst", ttl_seconds=7200)
    local = threading.local()

    def call(user: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.get(f"http://{s.host}:{s.reports_api_port}/reports", timeout=120,
                               params={"schema": schema, "user_uuid": user, **period},
                               headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            log = (s.logs_dir / "reports_api.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}\nreports_api.log:\n{log}")
    return call


def olap_point_read_caller(s: Settings):
    """The floor of any report on this engine: one indexed point read, through the OLAP server as
    reports_api's read-only user, without reports_api (no auth, no JSON, one column)."""

    local = threading.local()

    def call(user: str) -> None:
        if not hasattr(local, "client"):
            local.client = olap_client(s, reader=True)
        local.client.query("SELECT count() FROM default.telemetry_events WHERE user_uuid = {u:String}",
                           parameters={"u": user})
    return call


def api_health_caller(s: Settings):
    """The floor of reports_api itself: GET /health (HTTP and the framework, no auth, no query)."""
    local = threading.local()

    def call(user: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.get(f"http://{s.host}:{s.reports_api_port}/health", timeout=120).raise_for_status()
    return call


def pg_caller(s: Settings, period: dict):
    srcs = sources(s)
    local = threading.local()
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"]) + timedelta(days=1)

    def call(user: str) -> None:
        if not hasattr(local, "conns"):
            local.conns = {k: psycopg2.connect(host=v.host, port=v.port, dbname=v.database, user=v.user,
                                               password=v.password) for k, v in (("crm", srcs["users"]),
                                                                                  ("tel", srcs["telemetry_events"]))}
        for db, sql in PG_REPORT:
            with local.conns[db].cursor() as cur:
                cur.execute(sql, {"u": user, "s": start, "e": end})
                cur.fetchall()
    return call


def load(s: Settings, users: int, events: int) -> None:
    """Generate the sources, load `default` by full refresh and copy it into `debezium`."""
    crm = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname="crm_db", user=s.crm_user,
                           password=s.crm_password.get_secret_value())
    tel = psycopg2.connect(host=s.host, port=s.telemetry_db_port, dbname="telemetry_db", user=s.telemetry_user,
                           password=s.telemetry_password.get_secret_value())
    generate(crm, tel, users=users, events=events, seed=1)
    with tel.cursor() as cur:
        cur.execute("ANALYZE telemetry_events")
    tel.commit()
    crm.close()
    tel.close()
    client, srcs = olap(s), sources(s)
    for statement in etl_schema.render():
        client.command(statement)
    for table in cdc_schema.TABLES:
        full_refresh(client, table, srcs[table.name])
    copy_to_debezium(client)


@contextlib.contextmanager
def loaded_stack(args) -> Iterator[Settings | None]:
    """A benchmark stack whose sources, `default` and `debezium` hold N users + M events.

    A fresh stack is loaded unless ``args.reuse`` names a kept one; None when ``args.load_only``
    asks to stop once loaded. No connectors: the tables are loaded directly (see above), and
    a running snapshot would compete.
    """
    os.environ["BIONICFLOW_AUTO_BOOTSTRAP"] = "0"
    with bench_stack(args.reuse) as env:
        s = Settings()
        if not args.reuse:
            fresh_stack(env)
            load(s, args.users, args.events)
            if args.load_only:
                yield None
                return
        yield s


def prepare_snapshots(s: Settings, stale_users: list[str]) -> dict:
    """Build every user's snapshot in both schemas (timed), then mark `stale_users` stale as a change would."""
    client = olap(s)
    built = {}
    for schema in snapshot_marks.SCHEMAS:
        for statement in snapshot_marks.render(schema):  # a stack kept from before snapshots existed
            client.command(statement)
        started = time.perf_counter()
        rows = report_snapshots.refresh(client, schema, settle_seconds=0, everyone=True)
        built[schema] = {"users": rows, "seconds": round(time.perf_counter() - started, 1)}
        for start in range(0, len(stale_users), 250):  # bound parameters travel in the URL: keep it short
            client.command(snapshot_marks.mark_where_sql(schema, "users", "user_uuid IN {u:Array(String)}"),
                           parameters={"u": stale_users[start:start + 250]})
        # the marks' small parts merged, as background merges leave a table between changes (a report
        # reads a granule from every part: measuring them unmerged measures the burst of marks above)
        report_snapshots.merge(client, schema)
        built[schema]["active_parts"] = report_snapshots.active_parts(client, schema)
    return built


def check_report_sources(s: Settings, period: dict, current: str, stale: str) -> None:
    """Each path reads what its name says: a snapshot for a current user, the tables for a stale one."""
    token = issue_dev_token(s, "analyst", ttl_seconds=600)
    for schema in snapshot_marks.SCHEMAS:
        for user, expected in ((current, "snapshot"), (stale, "tables")):
            got = requests.get(f"http://{s.host}:{s.reports_api_port}/reports", timeout=60,
                               params={"schema": schema, "user_uuid": user, **period},
                               headers={"Authorization": f"Bearer {token}"}).json().get("computed_from")
            if got != expected:
                raise RuntimeError(f"{schema} report of {user} computed from {got!r}, expected {expected!r}")


SAMPLED_USERS = 20_000


def sample_users(s: Settings) -> list[str]:
    """SAMPLED_USERS users with events, the same ones in the same shuffled order on every call."""
    with psycopg2.connect(host=s.host, port=s.telemetry_db_port, dbname="telemetry_db", user=s.telemetry_user,
                          password=s.telemetry_password.get_secret_value()) as tel, tel.cursor() as cur:
        cur.execute("SELECT user_uuid::text FROM (SELECT DISTINCT user_uuid FROM telemetry_events) AS u "
                    "ORDER BY md5(user_uuid::text) LIMIT %s", (SAMPLED_USERS,))
        users = [r[0] for r in cur.fetchall()]
    random.Random(1).shuffle(users)
    return users


class UserPool:
    """The users one path asks for, each once, in order across warm-up and runs.

    The engine remembers which granules a filter with the same constant skipped (its query
    condition cache), so asking for the same users again measures a cache a stranger's
    report never hits; a pool too small for the requests wraps around and says so.
    """

    def __init__(self, users: list[str]):
        self.users, self.next, self.wrapped = users, 0, False

    def take(self, n: int) -> list[str]:
        if self.next + n > len(self.users):
            self.wrapped, self.next = True, 0
        self.next += n
        return self.users[self.next - n:self.next]


def main() -> None:
    parser = argparse.ArgumentParser()
    scale_arguments(parser, "measure a kept, already loaded benchmark stack", load_only=True)
    parser.add_argument("--requests", type=int, default=400, help="requests per (path, concurrency, run)")
    parser.add_argument("--concurrency", default="1,16,64", help="client counts, comma-separated")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    today = date.today()
    period = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    out: dict = {"machine": machine(), "users": args.users, "events": args.events, "period": period,
                 "requests_per_level": args.requests, "runs": args.runs}
    with loaded_stack(args) as s:
        if s is None:
            return
        users = sample_users(s)
        current, stale = users[0::2], users[1::2]
        out["snapshots_built"] = prepare_snapshots(s, stale)
        check_report_sources(s, period, current[0], stale[0])
        paths = {"api_default": api_caller(s, "default", period), "api_debezium": api_caller(s, "debezium", period),
                 "api_default_tables": api_caller(s, "default", period),
                 "api_debezium_tables": api_caller(s, "debezium", period),
                 "postgresql": pg_caller(s, period), "floor_olap_point_read": olap_point_read_caller(s),
                 "floor_api_health": api_health_caller(s)}
        pools = {name: UserPool(stale if name.endswith("_tables") else current) for name in paths}
        for name, call in paths.items():  # warm: connections, and the engine's caches for every path
            run_load(call, pools[name].take(WARM_UP_REQUESTS), 4, WARM_UP_REQUESTS)
        # runs interleaved (run, then path, then level): a drift of the machine or the caches over
        # the minutes of a benchmark reaches every path alike, not the ones measured first
        measured: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in levels} for name in paths}
        for _ in range(args.runs):
            for name, call in paths.items():
                for c in levels:
                    measured[name][c].append(timed_load(s, call, pools[name].take(args.requests), c, args.requests))
        out["users_asked_twice"] = sorted(name for name, pool in pools.items() if pool.wrapped) or None
        out["results"] = {name: {str(c): median_run(runs) for c, runs in by_level.items()}
                          for name, by_level in measured.items()}
        for c in map(str, levels):
            pg99 = out["results"]["postgresql"][c]["p99_ms"]
            for schema in ("default", "debezium"):
                p99 = out["results"][f"api_{schema}"][c]["p99_ms"]
                out["results"][f"api_{schema}"][c]["vs_postgresql_p99"] = round(pg99 / p99, 2) if p99 and pg99 else None
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
