"""The read-only user can slow itself down, never the platform (issue "guard", items 4 and 5).

A private OLAP server with short request timeouts; every test ends with the admin's
`SELECT 42` answered within 5 s while the abuse goes on, or right after it.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.olap_private import (
    ADMIN,
    READER,
    private_root,
    refused,
    server_broke,
    start_private_olap,
    stop_private_olap,
)
from bionicflow.kernel.olap import connect

HEAVY = "SELECT count() FROM numbers_mt(100000000000) WHERE cityHash64(number) = 0"


@pytest.fixture(scope="module")
def olap():
    server = start_private_olap(private_root("abuse"), {"BIONICFLOW_OLAP_HEAD_TIMEOUT_SECONDS": "2",
                                                        "BIONICFLOW_OLAP_BODY_IDLE_SECONDS": "2"})
    yield server
    stop_private_olap(server)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _poll(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds}s")


def _running_heavy(olap) -> int:
    text = olap.admin_ok("SELECT count() FROM system.processes WHERE query LIKE '%numbers_mt(100000000000)%' "
                         "AND query NOT LIKE '%system.processes%'")
    return int(text)


def test_readers_holding_every_slot_they_may_leave_the_admin_served(olap):
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(olap.query, HEAVY, READER, {"max_execution_time": "10", "max_threads": "1"},
                               timeout=60) for _ in range(16)]
        try:
            _poll(lambda: _running_heavy(olap) >= 12, 30, "the readers to fill their 12 slots")
            answers = [olap.admin_answers_within(5) for _ in range(5)]
            assert max(answers) < 5
            assert _running_heavy(olap) <= 12, "readers hold more than their share of the slots"
        finally:  # the queued readers start as the running ones end: stop them all
            _poll(lambda: olap.admin_ok("KILL QUERY WHERE query LIKE '%numbers_mt(100000000000)%' SYNC") is not None
                  and all(f.done() for f in futures), 30, "every reader query to end")
        broken = [f.result().text for f in futures if server_broke(f.result())]
    assert not broken, broken[:3]


def test_a_session_flood_leaves_sessions_for_everyone_else(olap):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: olap.query("SELECT 1", READER, {"session_id": f"flood-{i}"}), range(520)))
    ok = [a for a in answers if a.status_code == 200]
    assert len(ok) == 500, f"{len(ok)} of 520 sessions opened: the reader's limit is 500"
    assert all(refused(a, "TOO_MANY_SIMULTANEOUS_QUERIES") for a in answers if a.status_code != 200)
    client = connect("127.0.0.1", olap.port, *ADMIN)
    assert client.command("SELECT 42") == 42  # a default client opens a session of its own
    client.close()


def test_stalled_uploads_are_timed_out_and_hold_nothing(olap):
    head = (f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
            f"{__import__('base64').b64encode(':'.join(READER).encode()).decode()}\r\n"
            "Content-Length: 10000000\r\n\r\n").encode()
    sockets = []
    for _ in range(16):
        sock = socket.create_connection(("127.0.0.1", olap.port))
        sock.sendall(head + b"SELECT 1 /*" + b"x" * 70_000)
        sockets.append(sock)
    try:
        olap.admin_answers_within(5)
        for sock in sockets:
            sock.settimeout(15)
            answer = sock.recv(4096)
            assert answer.startswith((b"HTTP/1.1 408", b"HTTP/1.1 413")), answer[:200]
    finally:
        for sock in sockets:
            sock.close()


def test_a_slow_or_huge_head_is_refused_before_authentication(olap):
    slow = socket.create_connection(("127.0.0.1", olap.port))
    slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    slow.settimeout(15)
    assert slow.recv(4096).startswith(b"HTTP/1.1 408")
    slow.close()
    before = _rss_kib(olap.proc.pid)
    response = requests.get(olap.url, params={"query": "SELECT 1"}, headers={"X-Big": "a" * 8_000_000}, timeout=30)
    assert response.status_code == 431
    assert _rss_kib(olap.proc.pid) - before < 64 * 1024
    olap.admin_answers_within(5)


def test_large_bodies_of_unknown_or_read_only_users_are_not_buffered(olap):
    before = _rss_kib(olap.proc.pid)
    files = {"t": ("t.tsv", b"1\n" * (150 * 1024 * 1024), "text/tab-separated-values")}
    anonymous = requests.post(olap.url, params={"query": "SELECT 1", "t_structure": "x UInt8"}, files=files, timeout=60)
    assert anonymous.status_code in (401, 403)
    reader = requests.post(olap.url, params={"query": "SELECT 1", "t_structure": "x UInt8"}, files=files,
                           auth=READER, timeout=60)
    assert reader.status_code == 413 and reader.headers["X-ClickHouse-Exception-Code"] == "229"
    query = requests.post(olap.url, data=b"SELECT 1 /*" + b"x" * (100 * 1024 * 1024) + b"*/", auth=READER, timeout=60)
    assert query.status_code == 413
    assert _rss_kib(olap.proc.pid) - before < 128 * 1024, "the server buffered a body it had refused"
    olap.admin_answers_within(5)
