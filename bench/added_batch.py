"""Batch loads of added tables: nothing changed with 10 tables in the catalogue, and 1% changed vs a full refresh.

On a benchmark stack of its own (every DAG paused, so no scheduled load runs beside the measured
ones): a source `bench_db` in the stack's CRM PostgreSQL, owned by a role of its own, with

* `by_uuid`: --rows rows keyed by a uuid, 12 columns of mixed types;
* `by_pair`: --rows rows keyed by (account uuid, line integer), the same columns;
* 8 small tables keyed by text (1,000 rows each),

all put on both roads with `tables add` (with the brief's two, 12 tables in the catalogue). Each run:

* (a) the incremental load of the 10 added tables, one after another, as `etl_default` runs each
  (`load_added`), with nothing changed;
* per big table: 1% of its rows changed (1/300 inserted, 1/300 updated, 1/300 deleted, scattered
  over the key range), then (b) its incremental load, then (c) its full refresh (the baseline, in
  the same run). Each of (b) and (c) starts once the CDC road has streamed the burst and no merge
  is running: both are timed in the same machine state, not in the wake of the other's writes. After every (b), `default` must equal the source in rows and in a sum over every
  row's values.

Goals (issue "tables"): (a) ≤ 3 s; (b) ≤ 0.15x (c) for the uuid-keyed and the composite-keyed table.

Run: python -m bench.added_batch [--rows N --runs K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import psycopg2

from bench.batch_incremental import pause_dags
from bench.common import bench_stack, bionicflow, fresh_stack, machine
from bionicflow.cdc.connectors import KafkaConnectClient
from bionicflow.etl.added_tables import load_added
from bionicflow.kernel.config import Settings
from bionicflow.kernel.olap import olap_client
from bionicflow.kernel.source_registry import SourceAddress, add_source
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.table_catalogue import find_entry
from bionicflow.platform.table_add import Roads, add_table

ROLE, PASSWORD = "bench_owner", "bench owner pw"
COLUMNS = """amount numeric(14, 2), qty integer, name text NOT NULL, note varchar(80), placed_at timestamptz,
             day date, meta jsonb, tags text[] NOT NULL, paid boolean, score double precision, span interval"""
VALUES = """(g % 100000) / 100.0, g % 1000, 'name ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END,
            '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', DATE '2020-01-01' + (g % 2000),
            jsonb_build_object('g', g), ARRAY['a', 'b' || (g % 10)], g % 2 = 0, g / 7.0, (g % 100) * interval '1 minute'"""
TABLES_SQL = f"""
CREATE TABLE by_uuid (id uuid PRIMARY KEY, {COLUMNS});
INSERT INTO by_uuid SELECT md5(g::text)::uuid, {VALUES} FROM generate_series(1, %(rows)s) g;
CREATE TABLE by_pair (account uuid, line integer, {COLUMNS}, PRIMARY KEY (account, line));
INSERT INTO by_pair SELECT md5((g / 10)::text)::uuid, g % 10, {VALUES} FROM generate_series(1, %(rows)s) g;
ANALYZE by_uuid; ANALYZE by_pair;
"""
SMALL = 8
# 1%: a third inserted (keys the table has not had), a third updated, a third deleted; the rows picked by a hash of
# their key so that they scatter over the whole key range.
CHANGE_SQL = {
    "by_uuid": """
INSERT INTO by_uuid SELECT md5('new' || %(run)s || g)::uuid, {values} FROM generate_series(1, %(n)s) g;
UPDATE by_uuid SET amount = amount + 1, note = 'changed', tags = tags || 'x'::text WHERE abs(hashtext(id::text || %(run)s)) % 300 = 1;
DELETE FROM by_uuid WHERE abs(hashtext(id::text || %(run)s)) % 300 = 2;
""",
    "by_pair": """
INSERT INTO by_pair SELECT md5(g::text)::uuid, 100 + %(run)s, {values} FROM generate_series(1, %(n)s) g;
UPDATE by_pair SET amount = amount + 1, note = 'changed', tags = tags || 'x'::text
WHERE abs(hashtext(account::text || line || %(run)s)) % 300 = 1;
DELETE FROM by_pair WHERE abs(hashtext(account::text || line || %(run)s)) % 300 = 2;
""",
}
# The same sum over every row's values on both sides: rows, amounts, note lengths, tags.
SOURCE_SUM = "SELECT count(*), sum(amount), sum(length(coalesce(note, ''))), sum(cardinality(tags)) FROM {t}"
COPY_SUM = ("SELECT count(), sum(amount), sum(length(ifNull(note, ''))), sum(length(tags)) FROM default.{t} FINAL "
            "WHERE NOT is_deleted")


def _owner(s: Settings, database: str):
    conn = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname=database, user=ROLE, password=PASSWORD)
    conn.autocommit = True
    return conn


def prepare(s: Settings, rows: int) -> SourceAddress:
    """The source database, its tables, and each on both roads (`tables add`)."""
    password = (s.secrets_dir / "crm_db_superuser_password").read_text().strip()
    admin = psycopg2.connect(host=s.host, port=s.crm_db_port, dbname="postgres", user="postgres", password=password)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {ROLE} LOGIN REPLICATION PASSWORD %s", (PASSWORD,))
        cur.execute(f"CREATE DATABASE bench_db OWNER {ROLE}")
    admin.close()
    conn = _owner(s, "bench_db")
    with conn.cursor() as cur:
        cur.execute(TABLES_SQL.replace("%(rows)s", str(int(rows))))  # no parameters: the SQL holds % operators
        for i in range(SMALL):
            cur.execute(f"CREATE TABLE small_{i} (code text PRIMARY KEY, label text, n integer)")
            cur.execute(f"INSERT INTO small_{i} SELECT 'code ' || g, 'label ' || g, g FROM generate_series(1, 1000) g")
    conn.close()
    source = SourceAddress("bench", s.host, s.crm_db_port, "bench_db", ROLE)
    add_source(olap_client(s), s, source)
    roads = Roads(olap_client(s, send_receive_timeout=900), KafkaConnectClient(f"http://{s.host}:{s.kafka_connect_port}"),
                  s)
    for name in ("by_uuid", "by_pair", *(f"small_{i}" for i in range(SMALL))):
        started = time.perf_counter()
        add_table(roads, source, "public", name, name)
        print(f"tables add {name}: {time.perf_counter() - started:.1f}s", flush=True)
    return source


def _load(s: Settings, pg: PgSource, name: str, mode: str) -> tuple[float, str]:
    olap = olap_client(s, send_receive_timeout=900)
    started = time.perf_counter()
    result = load_added(olap, find_entry(olap, name), pg, "bench", mode)
    return time.perf_counter() - started, result.reason


def nothing_changed(s: Settings, pg: PgSource, names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        _, reason = _load(s, pg, name, "incremental")
        assert "nothing changed" in reason, f"{name}: {reason}"
    return time.perf_counter() - started


CDC_SUM = COPY_SUM.replace("default.", "debezium.")


def _settled(s: Settings, name: str, want: tuple | None) -> None:
    """Before a timed load: the CDC road has streamed the burst (``want``) and no merge is running."""
    olap = olap_client(s)
    deadline = time.monotonic() + 600
    while ((want is not None and tuple(float(v) for v in olap.query(CDC_SUM.format(t=name)).first_row) != want)
           or int(olap.command("SELECT count() FROM system.merges"))):
        if time.monotonic() > deadline:
            raise SystemExit(f"debezium.{name} did not take the burst, or merges did not end, within 600 s")
        time.sleep(0.5)


def one_percent(s: Settings, pg: PgSource, name: str, rows: int, run: int) -> dict:
    conn = _owner(s, "bench_db")
    with conn.cursor() as cur:
        sql = CHANGE_SQL[name].format(values=VALUES).replace("%(n)s", str(rows // 300))
        cur.execute(sql.replace("%(run)s", str(int(run))))
        cur.execute(SOURCE_SUM.format(t=name))
        source = tuple(float(v) for v in cur.fetchone())
    _settled(s, name, source)
    changed, reason = _load(s, pg, name, "incremental")
    assert "change journal noted" in reason, f"{name}: {reason}"
    conn.close()
    got = tuple(float(v) for v in olap_client(s).query(COPY_SUM.format(t=name)).first_row)
    want = source
    assert got == want, f"default.{name} differs from the source after the incremental load: {got} vs {want}"
    _settled(s, name, source)
    full, _ = _load(s, pg, name, "full")
    return {"incremental_s": changed, "full_s": full}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with bench_stack() as env:
        fresh_stack(env)
        bionicflow(env, "cdc", "bootstrap")
        os.environ["BIONICFLOW_SOURCE_BENCH_PASSWORD"] = PASSWORD
        s = Settings()
        pause_dags(s)  # no scheduled load beside the measured ones
        prepare(s, args.rows)
        pg = PgSource(s.host, s.crm_db_port, "bench_db", ROLE, PASSWORD)
        names = ["by_uuid", "by_pair", *(f"small_{i}" for i in range(SMALL))]
        for name in names:  # each table's cursor from the journal, as after its first scheduled load
            _load(s, pg, name, "incremental")
        unchanged, changed = [], {"by_uuid": [], "by_pair": []}
        for run in range(args.runs):
            _settled(s, "by_uuid", None)
            unchanged.append(nothing_changed(s, pg, names))
            for name in changed:
                changed[name].append(one_percent(s, pg, name, args.rows, run))
            print(f"run {run + 1}: nothing changed {unchanged[-1]:.2f}s; " + "; ".join(
                f"{n} 1% {c[-1]['incremental_s']:.2f}s vs full {c[-1]['full_s']:.2f}s" for n, c in changed.items()),
                flush=True)
        print(json.dumps({
            "machine": machine(), "rows": args.rows, "runs": args.runs, "tables": len(names),
            "nothing_changed_s": {"median": statistics.median(unchanged), "samples": unchanged},
            **{name: {"incremental_s": statistics.median(r["incremental_s"] for r in runs),
                      "full_s": statistics.median(r["full_s"] for r in runs),
                      "ratio": statistics.median(r["incremental_s"] / r["full_s"] for r in runs),
                      "samples": runs} for name, runs in changed.items()},
        }, indent=2))


if __name__ == "__main__":
    main()
