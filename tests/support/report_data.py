"""The reports' unit-test dataset: the same business rows in both schemas of an in-process chdb engine.

The rows go to `default` (as a batch load) and `debezium` (as CDC rows, with a superseded
version and a deleted key), so FINAL decides what the reports see. Built by the product's DDL.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bionicflow.cdc import ddl as cdc_schema
from bionicflow.etl import ddl as etl_schema
from bionicflow.kernel import tables
from bionicflow.reports.accounts import customer_uuid

NOW = datetime(2026, 11, 20, 12, 0, 0)
TYPES = ("hand", "leg", "knee")
GROUPS = ("biceps", "calf", "triceps")


@dataclass
class Dataset:
    users: list[dict]
    events: list[dict]
    deleted_event_ids: set[int]


def make_dataset(seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    users = [{"user_id": i, "user_uuid": customer_uuid("customer1") if i == 1 else f"00000000-0000-4000-8000-{i:012d}",
              "name": f"user {i}",
              "email": f"u{i}@example.org", "age": 20 + i, "gender": ("female", "male")[i % 2],
              "country": ("DE", "FR", None)[i % 3], "address": "", "phone": None,
              "registered_at": NOW - timedelta(days=400)} for i in range(1, 6)]
    events = []
    for i in range(1, 401):
        user = users[rng.randrange(0, 4)]  # user 5 never has events
        created = NOW - timedelta(days=rng.randrange(0, 60), seconds=rng.randrange(0, 86400), microseconds=rng.randrange(10**6))
        events.append({"id": i, "event_uuid": f"10000000-0000-4000-8000-{i:012d}", "user_uuid": user["user_uuid"],
                       "prosthesis_type": rng.choice(TYPES), "muscle_group": rng.choice(GROUPS),
                       "signal_frequency": rng.randrange(20, 500), "signal_duration": rng.randrange(10, 5000),
                       "signal_amplitude": round(rng.gammavariate(2.0, 0.4), 6), "created_ts": created,
                       "saved_ts": created + timedelta(seconds=2)})
    return Dataset(users, events, deleted_event_ids={3, 50, 77})


def _values(row: dict, columns: list[str]) -> list:
    return [row[c] for c in columns]


def load(conn, data: Dataset) -> None:
    for statement in etl_schema.render() + cdc_schema.render("embedded"):
        conn.query(statement)
    live_events = [e for e in data.events if e["id"] not in data.deleted_event_ids]
    for table, rows in ((tables.USERS, data.users), (tables.TELEMETRY_EVENTS, live_events)):
        cols = table.business_columns
        insert(conn, f"default.{table.name}", cols + ["_version"], [_values(r, cols) + [1] for r in rows])
    # debezium: a stale first version of every user, then the current one; deleted events as tombstones.
    users = tables.USERS.business_columns
    meta = ["_op", "_lsn", "_version", "_source_ts", "is_deleted"]
    stale = [_values(dict(u, name="old name", age=1), users) + ["r", 1, 1, NOW, 0] for u in data.users]
    current = [_values(u, users) + ["u", 2, 2, NOW, 0] for u in data.users]
    insert(conn, "debezium.users", users + meta, stale + current)
    events = tables.TELEMETRY_EVENTS.business_columns
    rows = [_values(e, events) + ["r", 1, 1, NOW, 0] for e in data.events]
    rows += [_values(e, events) + ["d", 2, 2, NOW, 1] for e in data.events if e["id"] in data.deleted_event_ids]
    insert(conn, "debezium.telemetry_events", events + meta, rows)


def insert(conn, table: str, columns: list[str], rows: list[list]) -> None:
    def enc(v):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v

    body = "\n".join(json.dumps(dict(zip(columns, map(enc, r)))) for r in rows)
    conn.query(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow {body}")




def estimated_rows(conn, sql: str, params: dict) -> dict[str, int]:
    """Rows the engine will read per table once the index has chosen the granules."""
    lines = conn.query(f"EXPLAIN ESTIMATE {sql}", "TSV", params=params).bytes().decode().splitlines()
    return {f"{db}.{table}": int(rows) for db, table, _parts, rows, _marks in (line.split("\t") for line in lines)}
