"""Reconciliation time at scale: source vs `default` vs `debezium`, every row checksummed.

Data: N users + M events in the sources (demo generator, fixed seed); `default` loaded by the
batch road's full refresh and `debezium` given the same rows (as bench.reports_latency does),
so both sides match the source and the common case — nothing to report — is measured.
Then a few rows of `debezium` are changed and deleted and the mismatch case (which adds the
key-by-key join) is measured too.

Baseline in the same run: one read of every column of both source tables through
`postgresql()`, counted in ClickHouse — the floor of any reconciliation that looks at every
source row.

Run: python -m bench.reconcile [--users N --events M --runs K]
Iterate: BIONICFLOW_BENCH_KEEP=1 keeps the loaded stack; `--reuse STATE_DIR` measures it again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.batch_etl import olap, sources
from bench.common import machine, scale_arguments, timed
from bench.reports_latency import copy_to_debezium, loaded_stack
from bionicflow.kernel.tables import TABLES
from bionicflow.reconcile.compare import compare_table
from bionicflow.reconcile.run import reconcile

# ignore(*) makes ClickHouse fetch and parse every column (a bare count() would fetch none).
SOURCE_READ_SQL = ("SELECT count() FROM postgresql({address:String}, {database:String}, {source_table:String}, "
                   "{user:String}, {password:String}) WHERE NOT ignore(*)")
# Every 50,000th event changed, every 70,000th deleted: a few hundred differences, as after a CDC incident.
BREAK_DEBEZIUM = (
    "ALTER TABLE debezium.telemetry_events UPDATE signal_amplitude = signal_amplitude + 1 WHERE id % 50000 = 0",
    "ALTER TABLE debezium.telemetry_events DELETE WHERE id % 70000 = 0",
)


def read_sources(client, srcs) -> None:
    for table in TABLES:
        src = srcs[table.name]
        client.query(SOURCE_READ_SQL, parameters={
            "address": f"{src.host}:{src.port}", "database": src.database, "source_table": table.olap_relation,
            "user": src.user, "password": src.password})


def one_reconcile(client, srcs) -> tuple[float, dict]:
    started = time.perf_counter()
    report = reconcile(client, srcs, {}, [], {})
    return time.perf_counter() - started, {f"{r.table}.{r.side}": r.match for r in report.results}


def steps(client, srcs) -> dict[str, float]:
    """Seconds per table for one compare, to see where the time goes."""
    return {table.name: round(timed(lambda t=table: compare_table(client, t, srcs[t.name])), 2) for table in TABLES}


def measure(client, srcs, runs: int) -> dict:
    samples, matches = [], {}
    for _ in range(runs):
        seconds, matches = one_reconcile(client, srcs)
        samples.append(seconds)
    return {"median_s": round(statistics.median(samples), 2), "samples_s": [round(x, 2) for x in samples],
            "match": matches, "per_table_s": steps(client, srcs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    scale_arguments(parser, "measure a kept, already loaded benchmark stack", load_only=True)
    args = parser.parse_args()
    out: dict = {"machine": machine(), "users": args.users, "events": args.events, "runs": args.runs}
    with loaded_stack(args) as s:
        if s is None:
            return
        client, srcs = olap(s), sources(s)
        copy_to_debezium(client)  # a previous run may have left it broken
        reads = [timed(lambda: read_sources(client, srcs)) for _ in range(args.runs)]
        out["source_read"] = {"median_s": round(statistics.median(reads), 2), "samples_s": [round(x, 2) for x in reads]}
        out["matching"] = measure(client, srcs, args.runs)
        for statement in BREAK_DEBEZIUM:
            client.command(statement, settings={"mutations_sync": 2})
        out["mismatching"] = measure(client, srcs, args.runs)
        out["matching_vs_source_read"] = round(out["matching"]["median_s"] / out["source_read"]["median_s"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
