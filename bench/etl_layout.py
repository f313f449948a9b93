"""Experiment: what separates `etl_default`'s full load from the bare insert (docs/benchmarks.md, batch road).

The full load of telemetry_events (the same SELECT from `postgresql()` and settings as
`etl_default`) into targets that differ in one thing each: the replacing table sorted by
`(user_uuid, id)` (the key before 2026-11-24), the same with the uuids read as text (a
PostgreSQL view casting them, so ClickHouse parses no UUID), sorted by today's
`(cityHash64(user_uuid), id)`, sorted by `id` alone; and a plain unsorted `MergeTree`.
Variants take turns; each starts on a quiet engine.

Run: python -m bench.etl_layout --reuse STATE_DIR [--runs K]   (a stack loaded with
     BIONICFLOW_BENCH_KEEP=1 by bench.reconcile --load-only)
"""

from __future__ import annotations

import time
from dataclasses import replace

from bench.batch_etl import olap, pg, settle, sources
from bench.common import bench_stack, print_variants, variant_arguments
from bionicflow.kernel.tables import TELEMETRY_EVENTS as TABLE
from bionicflow.kernel.config import Settings
from bionicflow.kernel.sources import LOAD_SETTINGS, source_params, source_select
from bionicflow.etl.ddl import default_table_ddl

TARGET = "bench_layout"
TEXT_VIEW = "telemetry_events_uuid_text"
TEXT_VIEW_DDL = f"""CREATE OR REPLACE VIEW public.{TEXT_VIEW} AS
SELECT id, event_uuid::text AS event_uuid, user_uuid::text AS user_uuid, prosthesis_type, muscle_group,
       signal_frequency, signal_duration, signal_amplitude::text AS signal_amplitude, created_ts, saved_ts
FROM public.telemetry_events"""
REPLACING = "ReplacingMergeTree(_version)"
TEXT_KEY = "(user_uuid, id)"  # the sorting key before 2026-11-24 (session 7)
# name: (relation read, engine, sorting key)
VARIANTS = {
    "replacing, (user_uuid, id) (before)": (TABLE.olap_relation, REPLACING, TEXT_KEY),
    "replacing, (user_uuid, id), uuids read as text": (TEXT_VIEW, REPLACING, TEXT_KEY),
    f"replacing, {TABLE.order_by} (now)": (TABLE.olap_relation, REPLACING, TABLE.order_by),
    "replacing, id": (TABLE.olap_relation, REPLACING, "id"),
    "plain MergeTree, unsorted": (TABLE.olap_relation, "MergeTree", "tuple()"),
}


def target_ddl(engine: str, order_by: str) -> str:
    ddl = default_table_ddl(TABLE, name=TARGET)
    return ddl.replace(REPLACING, engine).replace(f"ORDER BY {TABLE.order_by}", f"ORDER BY {order_by}")


def load(client, src, relation: str, engine: str, order_by: str) -> float:
    client.command(f"DROP TABLE IF EXISTS default.{TARGET}")
    client.command(target_ddl(engine, order_by))
    table = replace(TABLE, olap_source=relation)
    settle(client)
    started = time.perf_counter()
    client.command(f"INSERT INTO default.{TARGET} ({', '.join([*TABLE.business_columns, '_version'])})\n"
                   + source_select(table, "{version:UInt64} AS _version"),
                   parameters=source_params(table, src, version=1), settings=LOAD_SETTINGS)
    seconds = time.perf_counter() - started
    rows = int(client.command(f"SELECT count() FROM default.{TARGET}"))
    if rows != int(client.command(f"SELECT count() FROM default.{TABLE.name} FINAL")):  # loaded from the same source
        raise RuntimeError(f"{rows} rows loaded into the {engine} sorted by {order_by}: not the source's count")
    return seconds


def pg_execute(src, sql: str) -> None:
    with pg(src) as conn, conn.cursor() as cur:
        cur.execute(sql)


def main() -> None:
    args = variant_arguments()
    with bench_stack(args.reuse):
        s = Settings()
        client, src = olap(s), sources(s)[TABLE.name]
        pg_execute(src, TEXT_VIEW_DDL)
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        try:
            for _ in range(args.runs):
                for name, variant in VARIANTS.items():
                    samples[name].append(round(load(client, src, *variant), 2))
        finally:
            client.command(f"DROP TABLE IF EXISTS default.{TARGET}")
            pg_execute(src, f"DROP VIEW IF EXISTS public.{TEXT_VIEW}")
    print_variants(TABLE.name, args.runs, samples)


if __name__ == "__main__":
    main()
