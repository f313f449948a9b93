"""Where the OLAP engine's CPU per CDC change goes: each view on a `_kafka` table, in-process (chdb).

The same batches of Debezium messages (the JSON-with-schema envelope Kafka Connect writes, as
the consumer inserts them into `debezium.telemetry_events_kafka`) are inserted into the
`debezium` schema with its views as shipped, then with views dropped one by one, and once
through a staging Memory table (as the OLAP server stages an insert into a table with views,
bionicflow/olap/staged_insert.py). Reported: CPU microseconds per change (user + system of this
process, which runs the engine), median of --runs. Merges, HTTP and the consumer are not in it:
the stack's number (bench.cdc streaming) less this one is their share.

Run: python -m bench.cdc_engine_share [--changes N --batch B --runs K]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import uuid

from bench.common import machine
from bionicflow.kernel.tables import TELEMETRY_EVENTS as TABLE

MARKS = f"user_report_snapshots_marks_{TABLE.name}"
VARIANTS = {  # the views dropped, cumulatively
    "every view (as shipped)": [],
    "without the report-snapshot marks": [MARKS],
    "… and the dead-letter view": [MARKS, f"{TABLE.name}_dead_letters_mv"],
    "… and the TRUNCATE view (the row view alone)": [MARKS, f"{TABLE.name}_dead_letters_mv",
                                                     f"{TABLE.name}_truncations_mv"],
}
STAGE = ("CREATE TEMPORARY TABLE stage (payload String, _topic String, _partition UInt64, _offset UInt64) "
         "ENGINE = Memory")


def message(i: int) -> str:
    after = {"id": i, "event_uuid": str(uuid.UUID(int=i)), "user_uuid": str(uuid.UUID(int=i % 1000)),
             "prosthesis_type": "arm", "muscle_group": "biceps", "signal_frequency": 100, "signal_duration": 10,
             "signal_amplitude": 1.25, "created_ts": 1_765_000_000_000_000 + i, "saved_ts": 1_765_000_000_000_000 + i}
    schema = {"type": "struct", "fields": [{"field": k, "type": "string", "optional": False} for k in after] * 2}
    value = json.dumps({"schema": schema, "payload": {
        "before": None, "after": after, "op": "c",
        "source": {"lsn": i, "ts_us": 1_765_000_000_000_000 + i, "table": TABLE.source_table}}})
    return json.dumps({"payload": value, "_topic": TABLE.topic, "_partition": 0, "_offset": i}) + "\n"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(dropped: list[str], batches: list[str], staged: bool) -> float:
    """CPU µs per change of inserting the batches into a fresh `debezium` schema."""
    from tests.support.chdb_engine import engine  # the schema as the product's DDL makes it

    conn = engine(tempfile.mkdtemp(prefix="bench-engine-share-"))
    for view in dropped:
        conn.query(f"DROP VIEW debezium.{view}")
    if staged:
        conn.query(STAGE)
    target = "stage" if staged else f"debezium.{TABLE.name}_kafka"
    started = _cpu_seconds()
    for body in batches:
        with conn.send_insert(f"INSERT INTO {target}", "JSONEachRow") as insert:
            insert.append(body)
            insert.finish()
        if staged:
            conn.query(f"INSERT INTO debezium.{TABLE.name}_kafka SELECT * FROM stage")
            conn.query("TRUNCATE TABLE stage")
    spent = _cpu_seconds() - started
    changes = sum(body.count("\n") for body in batches)
    rows = int(conn.query(f"SELECT count() FROM debezium.{TABLE.name}", "CSV").bytes())
    conn.close()
    if rows != changes:
        raise RuntimeError(f"{rows} rows from {changes} changes: the views lost some")
    return spent * 1e6 / changes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    batches = ["".join(message(b + j) for j in range(args.batch)) for b in range(0, args.changes, args.batch)]
    out: dict = {"machine": machine(), "changes": args.changes, "batch": args.batch, "runs": args.runs,
                 "message_bytes": len(batches[0]) // args.batch, "cpu_us_per_change": {}}
    cases = [(name, dropped, False) for name, dropped in VARIANTS.items()]
    cases.append(("every view, staged as the OLAP server stages it", [], True))
    for name, dropped, staged in cases:
        samples = [one_run(dropped, batches, staged) for _ in range(args.runs)]
        out["cpu_us_per_change"][name] = {"median": round(statistics.median(samples), 1),
                                          "runs": [round(s, 1) for s in samples]}
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
