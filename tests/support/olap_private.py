"""A private OLAP server, started as the stack starts it, for tests that attack or abuse it.

Its own state directory and port, so a test may crash, flood or lock it without touching the
shared test stack. Canaries: a file outside the data directory, a row in `ops`, a listening
port — what a read-only user must never reach.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bionicflow.olap.protocol import SERVER_FAULTS

ADMIN = ("default", "clickhouse_password")  # the embedded stack's demo credentials
READER = ("reports_reader", "reports_reader_password")
CANARY = "canary-7f3c1b"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Listener:
    """A TCP port that records every connection made to it (the canary of outbound requests)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@dataclass
class PrivateOlap:
    root: Path
    port: int
    proc: subprocess.Popen
    canary_file: Path
    listener: Listener
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def query(self, sql: str, auth=ADMIN, params: dict | None = None, **kwargs) -> requests.Response:
        return requests.post(self.url, params=params or {}, data=sql.encode(), auth=auth,
                             timeout=kwargs.pop("timeout", 30), **kwargs)

    def admin_ok(self, sql: str) -> str:
        response = self.query(sql)
        assert response.status_code == 200, response.text
        return response.text

    def admin_answers_within(self, seconds: float) -> float:
        """The admin's `SELECT 42` round trip; fails unless it answers in time."""
        started = time.monotonic()
        response = self.query("SELECT 42", timeout=seconds)
        elapsed = time.monotonic() - started
        assert response.status_code == 200 and response.text.strip() == "42", response.text
        assert elapsed < seconds, f"the admin waited {elapsed:.1f}s"
        return elapsed

    def leaked(self, text: str) -> bool:
        return CANARY in text

    def files_written(self, since: float) -> list[Path]:
        """Files created or changed outside the data directory under the server's root since ``since``."""
        data = self.root / "state" / "olap"
        return [p for p in self.root.rglob("*") if p.is_file() and data not in p.parents
                and p.stat().st_mtime > since and p.name != "server.log"]


_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\) \(version ")


def error_name(response: requests.Response) -> str | None:
    """The ClickHouse error name an answer carries (``READONLY``), or None for a success or a bare failure."""
    found = _ERROR_NAME.search(response.text) if response.headers.get("X-ClickHouse-Exception-Code") else None
    return found.group(1) if found else None


def refused(response: requests.Response, *names: str) -> bool:
    """Refused the ClickHouse way: an error with its code (one of ``names`` when given), no result."""
    name = error_name(response)
    return response.status_code >= 400 and name is not None and (not names or name in names)


def server_broke(response: requests.Response) -> bool:
    """Not a refusal but a fault: a 5xx without a ClickHouse error code, or an error of the server's own.

    Statuses follow ClickHouse's mapping, where most refusals (READONLY, a constraint) are 500s too,
    so a fault is told by the error's name, not by its status.
    """
    if response.status_code < 500:
        return False
    name = error_name(response)
    return name is None or name in SERVER_FAULTS


def private_root(name: str) -> Path:
    """A fresh folder for one private server, inside the project (the server's OS user can reach it,
    which it cannot under /tmp/pytest-of-root)."""
    from bionicflow.kernel.config import project_root

    root = project_root() / ".bionicflow-test-guard" / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root


def start_private_olap(root: Path, extra_env: dict | None = None, module: str = "bionicflow.olap") -> PrivateOlap:
    state = root / "state"
    secrets = state / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets, 0o700)
    canary_file = secrets / "canary_secret"
    canary_file.write_text(CANARY + "\n")
    outside = root / "outside.txt"
    outside.write_text(CANARY + "\n")
    port = free_port()
    env = {**os.environ, "BIONICFLOW_STATE_DIR": str(state), "BIONICFLOW_OLAP_PORT": str(port), **(extra_env or {})}
    log = open(root / "server.log", "ab")
    command = [sys.executable, "-m", module] if "." in module and not module.endswith(".py") else [sys.executable, module]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"private OLAP server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    server = PrivateOlap(root, port, proc, canary_file, Listener(), env)
    for sql in ("CREATE DATABASE IF NOT EXISTS ops", "CREATE DATABASE IF NOT EXISTS debezium",
                "CREATE TABLE IF NOT EXISTS ops.secret (s String) ENGINE = MergeTree ORDER BY s",
                f"INSERT INTO ops.secret VALUES ('{CANARY}')",
                "CREATE TABLE IF NOT EXISTS default.t (x UInt32) ENGINE = MergeTree ORDER BY x",
                "INSERT INTO default.t VALUES (1), (2)"):
        server.admin_ok(sql)
    return server


def stop_private_olap(server: PrivateOlap) -> None:
    server.listener.close()
    server.proc.terminate()
    try:
        server.proc.wait(5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
