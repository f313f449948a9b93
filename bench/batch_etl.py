"""Batch road throughput, demo-data generation and reconciliation time, on a stack of their own.

Same source data for every path, each loading every row of both tables into ClickHouse:
  (a) naive:   psycopg2 server-side cursor -> Python rows -> clickhouse-connect insert (100k batches)
  (b) etl:     bionicflow.etl.load.full_refresh (what `etl_default` runs in full mode)
  (c) bare:    INSERT INTO t SELECT * FROM postgresql(...) into a plain MergeTree (the ceiling)
Also: demo-data generation rows/s (Faker pools + numpy + COPY) and one reconciliation
(source vs default vs debezium, every row checksummed) in seconds.

Run: python -m bench.batch_etl [--users N --events M --runs K]
     python -m bench.batch_etl --reuse STATE_DIR   (a stack loaded by bench.reconcile or
     bench.reports_latency with BIONICFLOW_BENCH_KEEP=1: loads and reconciles only, no generation)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import psycopg2

from bench.common import bench_stack, fresh_stack, machine, scale_arguments, timed
from bionicflow.kernel.olap import olap_client
from bionicflow.kernel.tables import TABLES
from bionicflow.kernel.config import Settings
from bionicflow.demo.data import generate
from bionicflow.etl.load import full_refresh
from bionicflow.kernel.sources import PgSource
from bionicflow.reconcile.run import reconcile


def sources(s: Settings) -> dict[str, PgSource]:
    return {
        "users": PgSource(s.host, s.crm_db_port, "crm_db", s.crm_user, s.crm_password.get_secret_value()),
        "telemetry_events": PgSource(s.host, s.telemetry_db_port, "telemetry_db", s.telemetry_user,
                                     s.telemetry_password.get_secret_value()),
    }


def pg(src: PgSource):
    return psycopg2.connect(host=src.host, port=src.port, dbname=src.database, user=src.user, password=src.password)


def olap(s: Settings):
    return olap_client(s, send_receive_timeout=900)


def naive(client, src: PgSource, table) -> None:
    target = f"bench.naive_{table.name}"
    client.command(f"DROP TABLE IF EXISTS {target}")
    cols = ", ".join(f"{c.name} {c.type}" for c in table.columns)
    client.command(f"CREATE TABLE {target} ({cols}) ENGINE = MergeTree ORDER BY {table.key}")
    conn = pg(src)
    with conn.cursor(name="naive") as cur:  # server-side cursor: rows stream in batches
        cur.itersize = 100_000
        cur.execute(f"SELECT {', '.join(c.source for c in table.columns)} FROM public.{table.source_table}")
        while rows := cur.fetchmany(100_000):
            client.insert(target, rows, column_names=table.business_columns)  # psycopg2 gives uuid as str
    conn.close()


def bare(client, src: PgSource, table) -> None:
    target = f"bench.bare_{table.name}"
    client.command(f"DROP TABLE IF EXISTS {target}")
    client.command(f"CREATE TABLE {target} ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM postgresql("
                   "{a:String}, {d:String}, {t:String}, {u:String}, {p:String}) LIMIT 0",
                   parameters={"a": f"{src.host}:{src.port}", "d": src.database, "t": table.olap_relation,
                               "u": src.user, "p": src.password})
    client.command(f"INSERT INTO {target} SELECT * FROM postgresql({{a:String}}, {{d:String}}, {{t:String}}, "
                   "{u:String}, {p:String})", parameters={"a": f"{src.host}:{src.port}", "d": src.database,
                                                          "t": table.olap_relation, "u": src.user, "p": src.password})


def settle(client, deadline_s: float = 600) -> None:
    """Wait until the engine has no background merges running."""
    deadline = time.monotonic() + deadline_s
    while int(client.command("SELECT count() FROM system.merges")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"background merges still running after {deadline_s:.0f} s")
        time.sleep(1)  # polling interval, not synchronisation: the loop condition decides


def demo_data(srcs: dict[str, PgSource], users: int, events: int) -> dict:
    crm, tel = pg(srcs["users"]), pg(srcs["telemetry_events"])
    seconds = timed(lambda: generate(crm, tel, users=users, events=events, seed=1))
    crm.close()
    tel.close()
    return {"seconds": round(seconds, 1), "rows_per_s": round((users + events) / seconds)}


def source_rows(srcs: dict[str, PgSource]) -> int:
    total = 0
    for table in TABLES:
        with pg(srcs[table.name]) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM public.{table.source_table}")
            total += cur.fetchone()[0]
    return total


def scale_run() -> tuple[argparse.Namespace, dict]:
    """The command line of a benchmark over N users + M events, and its result document so far."""
    parser = argparse.ArgumentParser()
    scale_arguments(parser, "a kept benchmark stack whose sources are loaded")
    args = parser.parse_args()
    return args, {"machine": machine(), "users": args.users, "events": args.events, "runs": args.runs}


@contextlib.contextmanager
def loaded_stack(args: argparse.Namespace, out: dict):
    """A benchmark stack whose sources hold the data (generated now unless reused); yields settings, sources."""
    with bench_stack(args.reuse) as env:
        s = Settings()
        srcs = sources(s)
        if not args.reuse:
            fresh_stack(env)
            out["demo_data"] = demo_data(srcs, args.users, args.events)
        yield s, srcs


def main() -> None:
    args, out = scale_run()
    with loaded_stack(args, out) as (s, srcs):
        total = source_rows(srcs) if args.reuse else args.users + args.events
        client = olap(s)
        client.command("CREATE DATABASE IF NOT EXISTS bench")
        paths = {
            "naive": lambda: [naive(client, srcs[t.name], t) for t in TABLES],
            "etl_default": lambda: [full_refresh(client, t, srcs[t.name]) for t in TABLES],
            "bare_insert_select": lambda: [bare(client, srcs[t.name], t) for t in TABLES],
        }
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):  # round-robin, each on a quiet engine: no path pays for another's merges
            for name, fn in paths.items():
                settle(client)
                samples[name].append(timed(fn))
        med = {name: statistics.median(v) for name, v in samples.items()}
        out["load"] = {name: {"median_s": round(med[name], 2), "rows_per_s": round(total / med[name]),
                              "samples_s": [round(x, 2) for x in samples[name]]} for name in paths}
        out["etl_vs_bare"] = round(med["bare_insert_select"] / med["etl_default"], 2)
        out["etl_vs_naive"] = round(med["naive"] / med["etl_default"], 1)
        started = time.perf_counter()
        report = reconcile(client, srcs, {}, [], {})
        out["reconcile"] = {"seconds": round(time.perf_counter() - started, 1), "rows": total,
                            "default_match": all(r.match for r in report.results if r.side == "default")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
