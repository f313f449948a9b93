"""Demo-data write speed: `demo_data`'s generator (bionicflow.demo.data.generate) end to end.

Each run empties both source tables and writes N users + M events (generation, COPY, index
upkeep, commit), on a stack of its own without CDC (nothing else competing for the 2 cores),
or with `--with-cdc` while Debezium, Kafka and the consumer stream every new row at the same
time (as in the running platform). Reports rows/s, median of the runs.

Run: python -m bench.demo_data [--users N --events M --runs K] [--reuse STATE_DIR] [--with-cdc]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from bench.batch_etl import pg, sources
from bench.common import bench_stack, fresh_stack, machine, scale_arguments, timed
from bionicflow.kernel.config import Settings
from bionicflow.demo.data import generate


def empty_sources(srcs) -> None:
    for name, conn in (("users", pg(srcs["users"])), ("telemetry_events", pg(srcs["telemetry_events"]))):
        with conn, conn.cursor() as cur:
            cur.execute(f"TRUNCATE {name}")  # our own table names, not input
        conn.close()


def one_run(srcs, users: int, events: int) -> float:
    empty_sources(srcs)
    crm, tel = pg(srcs["users"]), pg(srcs["telemetry_events"])
    try:
        return timed(lambda: generate(crm, tel, users=users, events=events, seed=1))
    finally:
        crm.close()
        tel.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    scale_arguments(parser, "a kept benchmark stack (its source tables are emptied)")
    parser.add_argument("--with-cdc", action="store_true", help="connectors running: CDC streams the rows meanwhile")
    args = parser.parse_args()
    os.environ["BIONICFLOW_AUTO_BOOTSTRAP"] = "1" if args.with_cdc else "0"
    out: dict = {"machine": machine(), "users": args.users, "events": args.events, "runs": args.runs,
                 "cdc_running": args.with_cdc}
    with bench_stack(args.reuse) as env:
        if not args.reuse:
            fresh_stack(env)
        srcs = sources(Settings())
        samples = [one_run(srcs, args.users, args.events) for _ in range(args.runs)]
    total = args.users + args.events
    median = statistics.median(samples)
    out["demo_data"] = {"median_s": round(median, 1), "rows_per_s": round(total / median),
                        "samples_s": [round(x, 1) for x in samples]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
