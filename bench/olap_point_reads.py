"""Point reads through the OLAP server against chdb called in-process, same table, same run.

One indexed read — `SELECT count() FROM default.telemetry_events WHERE user_uuid = {u:String}`,
the lookup every user report starts with — on N events of U users (the batch road's table
layout, rows made in SQL). Baseline: chdb in-process, 4 threads with a connection each. Server:
clickhouse-connect as the read-only user (the security checks included) at 1 and 16 clients,
as reports_api sends it (no session) and with clickhouse-connect's default session per client;
and the same read sent by wrk (a C load generator, as ClickHouse's own clickhouse-benchmark
would be), whose own CPU on the shared 2 cores is a small fraction of 16 Python clients'.
Ratio = server reads/s at 16 clients / in-process reads/s (goal >= 0.6). client_cpu_ms_per_request:
the client's own CPU per read (for the in-process rows that is the engine's, which runs in this process).

Run: python -m bench.olap_point_reads [--events N --users U --requests R --runs K --wrk-seconds S]
(wrk: `apt install wrk`; without it those rows are left out and the output says so)
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlencode

import chdb

from bench.common import machine
from bench.olap_throughput import free_port, start_server
from bench.reports_latency import run_load
from bionicflow.kernel.olap import connect
from bionicflow.kernel.config import Settings
from bionicflow.etl.ddl import default_table_ddl
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
            local.client = connect("127.0.0.1", port, s.clickhouse_reader_user,
                                   s.clickhouse_reader_password.get_secret_value(), autogenerate_session_id=session)
        local.client.query(POINT_READ, parameters={"u": user})
    return call


WRK_SCRIPT = Path(__file__).with_name("point_read.lua")


def wrk_load(port: int, s: Settings, users: list[str], connections: int, seconds: int, state: str) -> dict:
    """The point read as POSTs from wrk over `connections` keep-alive connections, one thread."""
    paths = Path(state) / "point_read_paths.txt"
    paths.write_text("".join(f"/?{urlencode({'param_u': u})}\n" for u in users))
    token = base64.b64encode(
        f"{s.clickhouse_reader_user}:{s.clickhouse_reader_password.get_secret_value()}".encode()).decode()
    cpu_before = _children_cpu()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}",
         "--", str(paths), f"Basic {token}", POINT_READ + " FORMAT Native"],
        check=True, capture_output=True, text=True, timeout=seconds + 60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["client_cpu_ms_per_request"] = round((_children_cpu() - cpu_before) * 1000 / max(result["requests"], 1), 3)
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()
    has_wrk = shutil.which("wrk") is not None
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
                for clients in (1, 16) if has_wrk else ():
                    key = f"server, {clients} connection{'s' if clients > 1 else ''}, wrk (no session)"
                    results.setdefault(key, []).append(wrk_load(port, s, users, clients, args.wrk_seconds, state))
            finally:
                server.terminate()
                server.wait(60)
    figures = ("requests_per_s", "p50_ms", "p99_ms", "client_cpu_ms_per_request")
    median = {k: {f: statistics.median(r[f] for r in runs) for f in figures if f in runs[0]}
              for k, runs in results.items()}
    base = median["in-process, 4 threads"]["requests_per_s"]
    print(json.dumps({
        "machine": machine(), "wrk": has_wrk or "not installed: its rows are left out",
        "events": args.events, "users": args.users, "requests": args.requests, "runs": args.runs,
        "median": median,
        "ratio_to_in_process": {k: round(v["requests_per_s"] / base, 2) for k, v in median.items()},
        "median_of_per_run_ratios": {
            k: round(statistics.median(r["requests_per_s"] / b["requests_per_s"]
                                       for r, b in zip(runs, results["in-process, 4 threads"])), 2)
            for k, runs in results.items()},
        "errors": {k: sum(r["errors"] for r in runs) for k, runs in results.items()},
        "samples_reads_per_s": {k: [r["requests_per_s"] for r in runs] for k, runs in results.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
