"""`bionicflow tables add` of a 1M-row table with 15 columns of mixed types, against the brief's users table.

On a stack of its own: N users in crm_db (the brief's table, demo data) and a table `wide` of
N rows and 15 columns (integers, numeric(p,s), text, uuid, timestamptz, date, jsonb, text[],
boolean, double, an enum, bytea, interval) in a database `bench_db` of the same PostgreSQL.

* baseline: the brief's users table onto both roads the fast way the platform has for it: the
  batch road's full refresh (`etl_default` mode full) plus the CDC road's `olap` initial copy,
  back to back — the same two copies `tables add` makes;
* tables add: `add_table` end to end (ClickHouse tables, source view, publication, a new
  connector and its slot, both first copies), timed until both copies hold the table, then
  `tables remove --drop-copies`; per road its rows/s.

* under load: a writer inserts --rate telemetry events/s into the brief's table meanwhile
  (bench/cdc_under_load.py); the events' freshness in `debezium` is sampled for --seconds
  before, during one more `tables add`, and --seconds after.

Goals (issue "tables"): tables add ≤ 1.2x the baseline, each road's first copy ≥ the brief's
rates, the brief's freshness p99 during `tables add` within 2x the undisturbed one.

Run: python -m bench.tables_add [--rows N --runs K --rate R --seconds S]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import psycopg2

from bench.batch_etl import sources
from bench.cdc_under_load import Stream, under_load
from bench.common import bench_stack, bionicflow, fresh_stack, machine
from bionicflow.cdc import initial_load
from bionicflow.cdc.connectors import KafkaConnectClient
from bionicflow.demo.data import generate
from bionicflow.etl.load import full_refresh
from bionicflow.kernel.config import Settings
from bionicflow.kernel.olap import olap_client
from bionicflow.kernel.source_registry import SourceAddress, add_source
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import USERS
from bionicflow.platform.table_add import Roads, add_table, remove_table

ROLE, PASSWORD = "bench_owner", "bench owner pw"
WIDE_SQL = """
CREATE TYPE tier AS ENUM ('free', 'pro', 'enterprise');
CREATE TABLE wide (
    id bigint PRIMARY KEY, account uuid NOT NULL, amount numeric(14, 2), qty integer, small smallint,
    name text NOT NULL, note varchar(80), placed_at timestamptz, day date, meta jsonb, tags text[] NOT NULL,
    paid boolean, score double precision, level tier, span interval
);
INSERT INTO wide
SELECT g, md5(g::text)::uuid, (g % 100000) / 100.0, g % 1000, (g % 300)::smallint, 'name ' || g,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END,
       '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', DATE '2020-01-01' + (g % 2000),
       jsonb_build_object('g', g, 'k', 'v'), ARRAY['a', 'b' || (g % 10)], g % 2 = 0, g / 7.0,
       (ARRAY['free', 'pro', 'enterprise'])[1 + g % 3]::tier, (g % 100) * interval '1 minute'
FROM generate_series(1, %(rows)s) g;
ANALYZE wide;
"""


def _superuser(s: Settings, database: str):
    password = (s.secrets_dir / "crm_db_superuser_password").read_text().strip()
    conn = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname=database, user="postgres", password=password)
    conn.autocommit = True
    return conn


def prepare(s: Settings, rows: int) -> SourceAddress:
    crm = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname="crm_db", user=s.crm_user,
                           password=s.crm_password.get_secret_value())
    telemetry = psycopg2.connect(host=s.host, port=s.telemetry_db_port, dbname="telemetry_db", user=s.telemetry_user,
                                 password=s.telemetry_password.get_secret_value())
    generate(crm, telemetry, users=rows, events=0, seed=1)
    crm.close()
    telemetry.close()
    admin = _superuser(s, "postgres")
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {ROLE} LOGIN REPLICATION PASSWORD %s", (PASSWORD,))
        cur.execute(f"CREATE DATABASE bench_db OWNER {ROLE}")
    admin.close()
    conn = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname="bench_db", user=ROLE, password=PASSWORD)
    with conn, conn.cursor() as cur:
        cur.execute(WIDE_SQL.replace("%(rows)s", str(int(rows))))  # no parameters: the SQL holds % operators
    conn.close()
    source = SourceAddress("bench", s.host, s.crm_db_port, "bench_db", ROLE)
    add_source(olap_client(s), s, source)
    return source


def brief_users(s: Settings) -> tuple[float, float]:
    """Seconds of the brief's users onto each road: the batch full refresh, the CDC road's olap initial copy."""
    olap = olap_client(s, send_receive_timeout=900)
    source = PgSource(s.host, s.crm_db_port, "crm_db", s.crm_user, s.crm_password.get_secret_value())
    olap.command("TRUNCATE TABLE debezium.users")
    started = time.perf_counter()
    full_refresh(olap, USERS, source, run_id="bench")
    batch = time.perf_counter() - started
    initial_load.copy_table(olap, USERS, source)
    return batch, time.perf_counter() - started - batch


def wide(s: Settings, source: SourceAddress, run: int) -> dict:
    olap = olap_client(s, send_receive_timeout=900)
    connect = KafkaConnectClient(f"http://{s.host}:{s.kafka_connect_port}")
    roads = Roads(olap, connect, s)
    name = f"wide_{run}"
    added = add_table(roads, source, "public", "wide", name)
    remove_table(roads, name, source, keep_copies=False)
    return {"seconds": added.seconds, "batch_rows_per_s": added.batch.rows / added.batch.seconds,
            "cdc_rows_per_s": added.cdc.rows / added.cdc.seconds, "rows": added.batch.rows}


STREAM = Stream(
    insert_sql="INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
               "signal_duration, signal_amplitude, created_ts, saved_ts) SELECT gen_random_uuid(), 'arm', %(mark)s, "
               "g, g, g / 3.0, clock_timestamp(), clock_timestamp() FROM generate_series(1, %(n)s) g",
    newest_sql="SELECT max(saved_ts) FROM debezium.telemetry_events WHERE muscle_group = {m:String}",
    mark="tables-add-bench",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2500, help="events/s written into the brief's table meanwhile")
    parser.add_argument("--seconds", type=float, default=60, help="the undisturbed phases before and after")
    args = parser.parse_args()
    with bench_stack() as env:
        fresh_stack(env)
        bionicflow(env, "cdc", "bootstrap")
        s = Settings()
        import os

        os.environ["BIONICFLOW_SOURCE_BENCH_PASSWORD"] = PASSWORD
        source = prepare(s, args.rows)
        baseline, added = [], []
        for run in range(args.runs):  # interleaved: both see the same machine state
            baseline.append(brief_users(s))
            added.append(wide(s, source, run))
            print(f"run {run + 1}: users {sum(baseline[-1]):.1f}s, tables add {added[-1]['seconds']:.1f}s", flush=True)
        loaded = under_load(sources(s)["telemetry_events"], olap_client(s), STREAM, args.rate, args.seconds,
                            lambda: wide(s, source, args.runs))
        users_s = statistics.median(sum(b) for b in baseline)
        add_s = statistics.median(a["seconds"] for a in added)
        print(json.dumps({
            "machine": machine(), "rows": args.rows, "runs": args.runs,
            "brief_users_both_copies_s": {"median": users_s, "samples": [sum(b) for b in baseline]},
            "tables_add_s": {"median": add_s, "samples": [a["seconds"] for a in added]},
            "ratio": add_s / users_s,
            "batch_first_copy_rows_per_s": statistics.median(a["batch_rows_per_s"] for a in added),
            "cdc_first_copy_rows_per_s": statistics.median(a["cdc_rows_per_s"] for a in added),
            "brief_users_batch_rows_per_s": statistics.median(args.rows / b for b, _ in baseline),
            "brief_users_cdc_rows_per_s": statistics.median(args.rows / c for _, c in baseline),
            "under_load": {"events_per_s": args.rate, **loaded},
        }, indent=2))


if __name__ == "__main__":
    main()
