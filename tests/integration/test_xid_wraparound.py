"""A row's `_xid` across a transaction-id wraparound, on a real PostgreSQL whose counter is set there.

A scratch cluster (not the stack's) gets its next transaction id set just below the end of
epoch 5 with pg_resetwal; rows written by transactions on both sides of the 32-bit wrap
must read back, through the same views the batch road uses, as their writers' 64-bit ids,
before and after VACUUM FREEZE.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from bionicflow.kernel.config import Settings
from bionicflow.stack.postgres import _os_user
from bionicflow.stack.preflight import find_pg_bindir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EPOCH = 5
NEXT_XID = 2**32 - 16  # 16 transactions before the wrap
CLOG_SEGMENT_XIDS = 1_048_576  # transactions per pg_xact segment file (32 pages of 8 kB, 4 per byte)
# The view batch loads read, made as crm_db/views.sql makes users_olap, over a table of the scratch cluster.
VIEW = "SELECT public.bionicflow_make_olap_view('public.t')"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], user: str | None) -> None:
    out = subprocess.run(args, user=user, capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"{args[0]} failed: {out.stderr[-1500:]}"


def _start(bindir: Path, data: Path, sockets: Path, user: str | None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    server = subprocess.Popen([str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c",
                               "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
                               "-c", "autovacuum=off"], user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            psycopg2.connect(host="127.0.0.1", port=port, dbname="postgres", user="postgres").close()
            return server, port
        except psycopg2.OperationalError:
            assert server.poll() is None, f"the scratch PostgreSQL exited: {server.stderr.read().decode()[-1500:]}"
            assert time.monotonic() < deadline, "the scratch PostgreSQL did not accept connections within 60s"
            time.sleep(0.2)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=60)


def _connect(port: int, dbname: str = "postgres"):
    conn = psycopg2.connect(host="127.0.0.1", port=port, dbname=dbname, user="postgres")
    conn.autocommit = True
    return conn


@pytest.fixture
def wrapping_cluster():
    """A PostgreSQL cluster whose next transaction id is 16 short of the end of epoch 5."""
    settings = Settings()
    bindir, user = find_pg_bindir(settings), _os_user(settings)
    tmp_path = Path(tempfile.mkdtemp(prefix="bionicflow-wraparound-"))  # pytest's own is private to root
    data = tmp_path / "data"
    if user:
        shutil.chown(tmp_path, user)
    _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--locale=C.UTF-8"], user)
    # freeze what initdb wrote: rows of unfrozen small ids would look "in the future" after the jump
    server, port = _start(bindir, data, tmp_path, user)
    for dbname in ("postgres", "template1"):
        conn = _connect(port, dbname)
        conn.cursor().execute("VACUUM (FREEZE)")
        conn.close()
    _stop(server)
    # the commit log must have the segment the new counter writes into (pg_resetwal's docs)
    segment = data / "pg_xact" / f"{NEXT_XID // CLOG_SEGMENT_XIDS:04X}"
    segment.write_bytes(bytes(CLOG_SEGMENT_XIDS // 4))
    if user:
        shutil.chown(segment, user)
    _run([str(bindir / "pg_resetwal"), "-D", str(data), "-e", str(EPOCH), "-x", str(NEXT_XID),
          "-u", str(NEXT_XID - 1000)], user)
    server, port = _start(bindir, data, tmp_path, user)
    conn = _connect(port)
    try:
        yield conn, bindir, port
    finally:
        conn.close()
        _stop(server)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_rows_written_across_the_wrap_read_back_as_their_writers_64_bit_ids(wrapping_cluster):
    conn, bindir, port = wrapping_cluster
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE etl_reader; CREATE TABLE t (id serial PRIMARY KEY, v int)")
    env = {**os.environ, "PGPASSWORD": ""}
    # one transaction, as `bionicflow up` runs it: the 16 transaction ids before the wrap stay for the writers
    subprocess.run([str(bindir / "psql"), "-X", "-q", "--single-transaction", "-h", "127.0.0.1", "-p", str(port),
                    "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-v", "owner=postgres", "-v", "etl_reader=etl_reader",
                    "-v", "table=t", "-v", "key_masks=t_key_masks", "-f", str(ROOT / "sources" / "batch_views.sql")],
                   env=env, check=True, capture_output=True)
    with conn.cursor() as cur:
        cur.execute(VIEW)
        writers = {}
        for value in range(40):  # one transaction each: 16 before the wrap, 24 after
            cur.execute("BEGIN")
            cur.execute("INSERT INTO t (v) VALUES (%s) RETURNING id, pg_current_xact_id()::text::bigint", (value,))
            key, writer = cur.fetchone()
            cur.execute("COMMIT")
            writers[key] = writer
        assert min(writers.values()) < (EPOCH + 1) * 2**32 <= max(writers.values()), writers

        def read() -> dict[int, int]:
            cur.execute("SELECT id, _xid FROM t_olap")
            return dict(cur.fetchall())

        assert read() == writers
        cur.execute("VACUUM (FREEZE) t")
        assert read() == writers, "freezing changed the rows' transaction ids"
        cur.execute("SELECT snapshot_xmin, next_xid FROM bionicflow_source_state WHERE table_name = 't'")
        snapshot_xmin, next_xid = cur.fetchone()
        assert max(writers.values()) < snapshot_xmin <= next_xid < (EPOCH + 2) * 2**32
