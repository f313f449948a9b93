"""Point reads through the OLAP server against chdb called in-process, same table, same run.

One indexed read — `SELECT count() FROM default.telemetry_events WHERE user_uuid = {u:String}`,
the lookup every user report starts with — on N events of U users (the batch road's table
layout, rows made in SQL). Baseline: chdb in-process, 4 threads with a connection each. Server:
clickhouse-connect as the read-only user (the security checks included) at 1 and 16 clients,
as reports_api sends it (no session) and with clickhouse-connect's default session per client.
Ratio = server reads/s at 16 clients / in-process reads/s (goal >= 0.6).

Run: python -m bench.olap_point_reads [--events N --users U --requests R --runs K]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
from pathlib import Path

import chdb
import clickhouse_connect

from bench.common import machine
from bench.olap_throughput import free_port, start_server
from bench.reports_latency import run_load
from bionicflow.config import Settings
from bionicflow.etl.schema import default_table_ddl
from bionicflow.kernel.tables import TELEMETRY_EVENTS

POINT_READ = "SELECT count() FROM default.telemetry_events WHERE user_uuid = {u:String}"
FILL = """INSERT INTO default.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, muscle_group,
    signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, _version)
SELECT number, toString(generateUUIDv4()), toString(cityHash64(number % {users:UInt64})),
       'hand', 'biceps', number % 500, number % 1000, (number % 97) / 7.0,
       now64(6) - number, now64(6) - number, 1
FROM numbers({events:UInt64})"""
USERS_SAMPLE = "SELECT DISTINCT user_uuid FROM default.telemetry_events LIMIT 2000"


def fill(data_dir: Path, events: int, users: int) -> list[str]:
    conn = chdb.connect(str(data_dir))
    try:
        conn.query(default_table_ddl(TELEMETRY_EVENTS))
        conn.query(FILL, params={"users": users, "events": events})
        conn.query("OPTIMIZE TABLE default.telemetry_events FINAL")
        return conn.query(USERS_SAMPLE, "CSV").bytes().decode().replace('"', "").split()
    finally:
        conn.close()


def in_process(data_dir: Path, users: list[str], requests: int) -> dict:
    """4 threads, one chdb connection each, the same read."""
    anchor = chdb.connect(str(data_dir))
    local = threading.local()

    def call(user: str) -> None:
        if not hasattr(local, "conn"):
            local.conn = chdb.connect(str(data_dir))
        local.conn.query(POINT_READ, "TabSeparated", params={"u": user}).bytes()

    try:
        return run_load(call, users, 4, requests)
    finally:
        anchor.close()


def server_caller(port: int, s: Settings, session: bool):
    local = threading.local()

    def call(user: str) -> None:
        if not hasattr(local, "client"):
            local.client = clickhouse_connect.get_client(
                host="127.0.0.1", port=port, username=s.clickhouse_reader_user,
                password=s.clickhouse_reader_password.get_secret_value(), autogenerate_session_id=session)
        local.client.query(POINT_READ, parameters={"u": user})
    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    s = Settings()
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as state:
        data_dir = Path(state) / "olap" / "data"
        users = fill(data_dir, args.events, args.users)
        for _ in range(args.runs):  # the engine allows one process per directory: in-process first, then the server
            results.setdefault("in-process, 4 threads", []).append(in_process(data_dir, users, args.requests))
            port = free_port()
            server = start_server(state, port)
            try:
                for session in (False, True):
                    for clients in (1, 16):
                        key = f"server, {clients} client{'s' if clients > 1 else ''}, " + (
                            "session per client" if session else "no session (reports_api)")
                        results.setdefault(key, []).append(
                            run_load(server_caller(port, s, session), users, clients, args.requests))
            finally:
                server.terminate()
                server.wait(60)
    median = {k: {f: statistics.median(r[f] for r in runs) for f in ("requests_per_s", "p50_ms", "p99_ms")}
              for k, runs in results.items()}
    base = median["in-process, 4 threads"]["requests_per_s"]
    print(json.dumps({
        "machine": machine(), "events": args.events, "users": args.users, "requests": args.requests, "runs": args.runs,
        "median": median,
        "ratio_to_in_process": {k: round(v["requests_per_s"] / base, 2) for k, v in median.items()},
        "errors": {k: sum(r["errors"] for r in runs) for k, runs in results.items()},
        "samples_reads_per_s": {k: [r["requests_per_s"] for r in runs] for k, runs in results.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
