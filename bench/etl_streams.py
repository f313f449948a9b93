"""Experiment: does a full load of telemetry_events get faster when read as K key ranges at once?

Each variant runs what `etl_default`'s full refresh runs (the same SELECT from `postgresql()`,
the same target table and settings), split into K `UNION ALL` branches on key ranges, each
branch its own PostgreSQL connection. Variants take turns; each starts on a quiet engine.

Run: python -m bench.etl_streams --reuse STATE_DIR [--runs K]   (a stack loaded with
     BIONICFLOW_BENCH_KEEP=1 by bench.reports_latency --load-only)
"""

from __future__ import annotations

import time

from bench.batch_etl import olap, pg, settle, sources
from bench.common import bench_stack, print_variants, variant_arguments
from bionicflow.kernel.tables import TELEMETRY_EVENTS as TABLE
from bionicflow.kernel.config import Settings
from bionicflow.kernel.sources import LOAD_SETTINGS, source_params, source_select
from bionicflow.etl.ddl import default_table_ddl

VARIANTS = {"1 stream": (1, {}), "2 streams": (2, {}), "2 streams, max_insert_threads=2": (2, {"max_insert_threads": 2})}
TARGET = "bench_streams"


def key_bounds(src) -> tuple[int, int]:
    with pg(src) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT min(id), max(id) FROM {TABLE.olap_relation}")
        return cur.fetchone()


def load_in_streams(client, src, streams: int, settings: dict) -> float:
    client.command(f"DROP TABLE IF EXISTS default.{TARGET}")
    client.command(default_table_ddl(TABLE, name=TARGET))
    low, high = key_bounds(src)
    step = (high - low) // streams + 1
    params = source_params(TABLE, src, version=1)
    branches = []
    for i in range(streams):
        branches.append(source_select(TABLE, "{version:UInt64} AS _version",
                                      where=f'"id" >= {{lo{i}:Int64}} AND "id" < {{hi{i}:Int64}}'))
        params[f"lo{i}"], params[f"hi{i}"] = low + i * step, low + (i + 1) * step
    columns = ", ".join([*TABLE.business_columns, "_version"])
    settle(client)
    started = time.perf_counter()
    client.command(f"INSERT INTO default.{TARGET} ({columns})\n" + "\nUNION ALL\n".join(branches),
                   parameters=params, settings={**LOAD_SETTINGS, **settings})
    seconds = time.perf_counter() - started
    rows = int(client.command(f"SELECT count() FROM default.{TARGET}"))
    if rows != int(client.command(f"SELECT count() FROM default.{TABLE.name} FINAL")):  # loaded from the same source
        raise RuntimeError(f"{rows} rows loaded: the key ranges missed or repeated rows")
    return seconds


def main() -> None:
    args = variant_arguments()
    with bench_stack(args.reuse):
        s = Settings()
        client, src = olap(s), sources(s)[TABLE.name]
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.runs):
            for name, (streams, settings) in VARIANTS.items():
                samples[name].append(round(load_in_streams(client, src, streams, settings), 2))
        client.command(f"DROP TABLE IF EXISTS default.{TARGET}")
    print_variants(TABLE.name, args.runs, samples)


if __name__ == "__main__":
    main()
