"""Least privilege and secrets, proven on the running stack."""

from __future__ import annotations

import ipaddress
import json

import psutil
import psycopg2
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.support.stack import cli
from bionicflow.kernel.olap import olap_client


def _pg(stack, db: str, user: str, password: str):
    port = stack.crm_db_port if db == "crm_db" else stack.telemetry_db_port
    return psycopg2.connect(host=stack.host, port=port, dbname=db, user=user, password=password)


@pytest.mark.parametrize("role", ["debezium", "etl_reader"])
@pytest.mark.parametrize("db, table", [("crm_db", "users"), ("telemetry_db", "telemetry_events")])
def test_source_readers_read_but_cannot_write(stack, db, table, role):
    """Debezium's user and the batch road's reader: SELECT, nothing else (Debezium: also its signals)."""
    user, password = {"debezium": (stack.debezium_user, stack.debezium_password),
                      "etl_reader": (stack.etl_reader_user, stack.etl_reader_password)}[role]
    conn = _pg(stack, db, user, password.get_secret_value())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM public.{table}")  # snapshots and batch loads need SELECT
            statements = [f"DELETE FROM public.{table}", f"UPDATE public.{table} SET id = id",
                          f"TRUNCATE public.{table}", "CREATE TABLE public.evil (x int)", f"DROP TABLE public.{table}"]
            if role == "etl_reader":
                statements.append("INSERT INTO public.debezium_signal VALUES ('x', 'execute-snapshot', '{}')")
            for statement in statements:
                with pytest.raises(psycopg2.Error, match="permission denied|must be owner"):
                    cur.execute(statement)
    finally:
        conn.close()


def test_reports_reader_cannot_write_or_read_ops(stack, report_data):
    reader = olap_client(stack, reader=True)
    assert reader.query("SELECT count() FROM debezium.users FINAL").result_rows[0][0] > 0
    for sql in ("SELECT * FROM ops.etl_runs", "SELECT * FROM merge('ops', '.*')",
                "SELECT count() FROM debezium.users WHERE user_id IN (SELECT rows FROM ops.etl_runs)",
                "SELECT query FROM system.query_log"):
        with pytest.raises(DatabaseError, match="497"):
            reader.query(sql)
    with pytest.raises(DatabaseError, match="497"):
        reader.query("SELECT * FROM etl_runs", settings={"database": "ops"})
    with pytest.raises(DatabaseError, match="164"):
        reader.command("INSERT INTO default.users (user_id) VALUES (1)")


def test_http_surfaces_refuse_anonymous_requests(stack):
    h = stack.host
    assert requests.get(f"http://{h}:{stack.airflow_port}/api/v2/dags", timeout=30).status_code in (401, 403)
    olap = requests.post(f"http://{h}:{stack.olap_port}/", data=b"SELECT 1", timeout=30)
    assert olap.status_code == 401
    for path in ("/reports?schema=default", "/reports/overview?schema=default", "/reports/compare"):
        assert requests.get(f"http://{h}:{stack.reports_api_port}{path}", timeout=30).status_code == 401


def _secrets(stack) -> dict[str, str]:
    found = {name: value.get_secret_value() for name, value in stack if hasattr(value, "get_secret_value")}
    for path in stack.secrets_dir.glob("*_password"):
        found[path.name] = path.read_text().strip()
    # 'admin' (the demo Airflow password) is also the user name printed everywhere: not a findable secret.
    return {name: value for name, value in found.items() if len(value) >= 8}


def test_no_password_in_logs_or_status(stack, report_data):
    secrets = _secrets(stack)
    assert {"crm_password", "clickhouse_password", "debezium_password"} <= set(secrets)
    status = cli("status", "--json")
    leaks = [name for name, value in secrets.items() if value in status.stdout + status.stderr]
    assert not leaks, f"`bionicflow status --json` shows {leaks}"
    for log in stack.logs_dir.rglob("*"):
        if log.is_file():
            text = log.read_bytes().decode("utf-8", "replace")
            leaks = [name for name, value in secrets.items() if value in text]
            assert not leaks, f"{log} contains {leaks}"


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)  # Java listens on IPv4-mapped IPv6 sockets
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def test_every_service_listens_on_loopback_only(stack):
    doc = json.loads(cli("status", "--json").stdout)
    pids = [s["pid"] for s in doc["services"].values() if s.get("pid")]
    assert len(pids) >= 10
    exposed = []
    for pid in pids:
        try:
            procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                conns = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            exposed += [(proc.name(), c.laddr) for c in conns if c.status == psutil.CONN_LISTEN and not _loopback(c.laddr.ip)]
    assert not exposed, f"listening beyond loopback: {exposed}"
