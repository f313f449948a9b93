"""Cost of validating CDC messages in the `debezium` views, in the ClickHouse engine (chdb in-process).

The same batch of good Debezium messages is inserted into `debezium.users_kafka` (the views
turn it into rows) with three versions of the views, in the same run:
  shipped:   the views as rendered by bionicflow.cdc.ddl (every check, including the
             column type checks, as eagerly evaluated array elements)
  no types:  the same views without the column type checks (the baseline: what validation
             cost before type checks existed)
  lazy or:   the same checks written as one OR chain (evaluated lazily by ClickHouse)
Result: messages/s (median of --runs) and the ratio against "no types".

Run: python -m bench.cdc_views [--messages N] [--runs K]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import chdb

from bench.common import machine, median_of, timed
from bionicflow.cdc import ddl as schema

ROW = {"user_uuid": "3f1c2b7e-8d9a-4c6b-9e1f-2a3b4c5d6e7f", "name": "Alice Example", "email": "alice@example.org",
       "age": 33, "gender": "F", "country": "DE", "address": "Somestreet 12, 10115 Berlin", "phone": "+49 30 1234567",
       "registered_at": 1_700_000_000_123_456}


def messages(count: int) -> str:
    """JSONEachRow lines for users_kafka: Debezium create events of distinct users."""
    lines = []
    for offset in range(count):
        value = {"schema": {"type": "struct"}, "payload": {
            "before": None, "after": dict(ROW, id=offset), "op": "c",
            "source": {"lsn": offset, "ts_us": 1_700_000_000_000_001, "table": "users"}}}
        lines.append(json.dumps({"payload": json.dumps(value), "_topic": "crm.public.users", "_partition": 0,
                                 "_offset": offset}))
    return "\n".join(lines) + "\n"


def _where(check_count: int, lazy: bool) -> tuple[str, str]:
    """(usable, refused) WHERE conditions over the first `check_count` checks of `users`."""
    conditions = [condition for condition, _ in schema._checks(schema.USERS)[:check_count]]
    if lazy:
        usable = "NOT (" + " OR ".join(f"({c})" for c in conditions) + ")"
    else:
        usable = "NOT has([" + ", ".join(f"toUInt8({c})" for c in conditions) + "], 1)"
    return usable, f"NOT {usable}"


def variant_ddl(name: str) -> list[str]:
    statements = schema.render("embedded")
    if name == "shipped":
        return statements
    all_checks = len(schema._checks(schema.USERS))
    checks = all_checks - len(schema.USERS.columns) if name == "no types" else all_checks
    usable, refused = _where(checks, lazy=name == "lazy or")
    shipped_usable = schema._usable(schema.USERS)
    return [s.replace(f"WHERE NOT {shipped_usable}", f"WHERE {refused}").replace(f"WHERE {shipped_usable}", f"WHERE {usable}")
            for s in statements]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = messages(args.messages)
    conn = chdb.connect(tempfile.mkdtemp(prefix="bench-cdc-views-"))

    def run(variant: str) -> float:
        conn.query(f"DROP DATABASE IF EXISTS {schema.DATABASE} SYNC")
        for statement in variant_ddl(variant):
            conn.query(statement)
        seconds = timed(lambda: conn.query(f"INSERT INTO {schema.DATABASE}.users_kafka FORMAT JSONEachRow {data}"))
        stored = int(conn.query(f"SELECT count() FROM {schema.DATABASE}.users", "CSV").bytes())
        assert stored == args.messages, f"{variant}: {stored} rows stored, expected {args.messages}"
        return seconds

    print(f"machine: {machine()}; {args.messages:,} messages, median of {args.runs} runs")
    results = {v: median_of(args.runs, lambda v=v: run(v)) for v in ("no types", "shipped", "lazy or")}
    base = results["no types"][0]
    for variant, (median, samples) in results.items():
        print(f"{variant:9s} {median:7.2f} s  {args.messages / median:9,.0f} msg/s  "
              f"{base / median:5.2f}x of 'no types'  runs: {', '.join(f'{s:.2f}' for s in samples)}")


if __name__ == "__main__":
    main()
