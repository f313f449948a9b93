"""What the guard costs, and whether the admin stays served while the read-only user abuses the server.

1. Point reads (the indexed lookup every user report starts with) by the read-only user,
   16 clients without sessions (as reports_api sends them), against the server as shipped
   (`python -m bionicflow.olap`: OS user + Landlock, head limits, request-scoped state, the
   statement allow-lists with their cached verdicts) and against the same code with the layers
   off (`bench/olap_guard_off.py`: no confinement, uvicorn's own protocol, every statement
   "passed"), alternating, same data, same run. Goal: guarded >= 0.9x of unguarded.
2. The admin's `SELECT 42` round trip, once on an idle server and once while 64 reader
   connections abuse it — 16 heavy scans, 16 uploads that stall after 70 KB, 32 threads
   opening sessions — p50 / p99 of 200 probes each. Goal: p99 <= 100 ms.

Run: python -m bench.olap_guard [--events N --users U --requests R --runs K]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.common import machine
from bench.olap_point_reads import fill, server_caller
from bench.olap_throughput import free_port
from bench.reports_latency import percentiles, run_load
from bionicflow.kernel.config import Settings

OFF = str(Path(__file__).with_name("olap_guard_off.py"))
HEAVY = "SELECT count() FROM numbers_mt(100000000000) WHERE cityHash64(number) = 0"


def start(state: str, port: int, guarded: bool) -> subprocess.Popen:
    env = {**os.environ, "BIONICFLOW_STATE_DIR": state, "BIONICFLOW_OLAP_PORT": str(port)}
    command = [sys.executable, "-m", "bionicflow.olap"] if guarded else [sys.executable, OFF]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the OLAP server did not start in 90 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def point_reads(state: str, users: list[str], requests_total: int, guarded: bool, s: Settings) -> dict:
    port = free_port()
    proc = start(state, port, guarded)
    try:
        run_load(server_caller(port, s, False), users, 16, 200)  # warm: pools, verdicts, engine caches
        return run_load(server_caller(port, s, False), users[200:], 16, requests_total)
    finally:
        stop(proc)


def admin_probes(port: int, s: Settings, count: int = 200) -> dict:
    auth = (s.clickhouse_user, s.clickhouse_password.get_secret_value())
    session = requests.Session()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.post(f"http://127.0.0.1:{port}/", data=b"SELECT 42", auth=auth, timeout=60)
        samples.append(time.perf_counter() - started)
        assert response.text.strip() == "42", response.text
        time.sleep(0.02)  # a probe every ~20 ms: the admin's pace, not a load of its own
    return percentiles(samples) | {"max_ms": round(max(samples) * 1000, 1)}


def abuse(port: int, s: Settings, stop_event: threading.Event) -> list[threading.Thread]:
    """64 reader connections: heavy scans, stalled uploads, a session flood."""
    reader = (s.clickhouse_reader_user, s.clickhouse_reader_password.get_secret_value())
    url = f"http://127.0.0.1:{port}/"

    def heavy() -> None:
        while not stop_event.is_set():
            try:
                requests.post(url, data=HEAVY.encode(), auth=reader, params={"max_execution_time": "5"}, timeout=30)
            except requests.RequestException:
                pass

    def stalled() -> None:
        head = (f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {base64.b64encode(':'.join(reader).encode()).decode()}"
                "\r\nContent-Length: 10000000\r\n\r\n").encode()
        while not stop_event.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                    sock.sendall(head + b"SELECT 1 /*" + b"x" * 70_000)
                    sock.recv(4096)  # until the server gives up on the body
            except OSError:
                pass

    def sessions(offset: int) -> None:
        i = 0
        while not stop_event.is_set():
            i += 1
            try:
                requests.post(url, data=b"SELECT 1", auth=reader, params={"session_id": f"flood-{offset}-{i}"},
                              timeout=30)
            except requests.RequestException:
                pass

    workers = [threading.Thread(target=heavy, daemon=True) for _ in range(16)]
    workers += [threading.Thread(target=stalled, daemon=True) for _ in range(16)]
    workers += [threading.Thread(target=sessions, args=(n,), daemon=True) for n in range(32)]
    for worker in workers:
        worker.start()
    return workers


def admin_under_abuse(state: str, s: Settings) -> dict:
    port = free_port()
    proc = start(state, port, guarded=True)
    try:
        idle = admin_probes(port, s)
        stop_event = threading.Event()
        workers = abuse(port, s, stop_event)
        time.sleep(3)  # let the abuse fill the reader slots before probing (a load ramp, not a synchronisation)
        try:
            busy = admin_probes(port, s)
        finally:
            stop_event.set()
        for worker in workers:
            worker.join(60)
        return {"idle": idle, "under_abuse": busy}
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    s = Settings()
    runs: dict[str, list[dict]] = {"guarded": [], "unguarded": []}
    state = tempfile.mkdtemp(prefix="bench-guard-")
    os.chmod(state, 0o755)  # the server's OS user must reach its data directory
    users = fill(Path(state) / "olap" / "data", args.events, args.users)
    for _ in range(args.runs):
        for kind in ("unguarded", "guarded"):
            runs[kind].append(point_reads(state, users, args.requests, kind == "guarded", s))
    figures = ("requests_per_s", "p50_ms", "p99_ms")
    median = {k: {f: statistics.median(r[f] for r in v) for f in figures} for k, v in runs.items()}
    ratios = [g["requests_per_s"] / u["requests_per_s"] for g, u in zip(runs["guarded"], runs["unguarded"])]
    print(json.dumps({
        "machine": machine(), "events": args.events, "users": args.users, "requests": args.requests,
        "runs": args.runs, "point_reads_16_clients": median,
        "guarded_to_unguarded": round(statistics.median(ratios), 2),
        "per_run_ratios": [round(r, 2) for r in ratios],
        "errors": {k: sum(r["errors"] for r in v) for k, v in runs.items()},
        "admin_select_42": admin_under_abuse(state, s),
    }, indent=2))


if __name__ == "__main__":
    main()
