"""up / status / down / up again, as an operator runs them."""

import json
import os
import subprocess
import sys
import textwrap
import time

import psycopg2

from bionicflow.stack import proctree
from bionicflow.stack.preflight import port_is_free
from bionicflow.kernel.tables import USERS
from tests.support.rows import default_rows, olap_admin, source_rows
from tests.support.stack import cli, run_ok

REQUIRED = {
    "crm_db", "telemetry_db", "kafka", "kafka_connect", "olap", "airflow_api_server",
    "airflow_scheduler", "airflow_dag_processor", "airflow_triggerer", "reports_api",
}


def _status() -> dict:
    result = cli("status", "--json")
    return json.loads(result.stdout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_status_json_reports_every_service_healthy(stack):
    result = cli("status", "--json")
    doc = json.loads(result.stdout)
    assert result.returncode == 0, f"status --json exits 1 on a healthy stack: warnings {doc.get('warnings')}"
    services = doc["services"]
    assert REQUIRED <= set(services)
    for name in REQUIRED:
        svc = services[name]
        assert svc["healthy"] is True, f"{name} not healthy: {svc}"
        assert isinstance(svc["pid"], int) and _alive(svc["pid"]), f"{name} has no live pid: {svc}"
        assert set(svc) >= {"healthy", "pid", "port", "url"}
    assert services["olap"]["port"] == stack.olap_port


def test_second_up_reuses_the_running_stack(stack):
    before = {n: s["pid"] for n, s in _status()["services"].items()}
    result = cli("up")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stderr
    assert {n: s["pid"] for n, s in _status()["services"].items()} == before


def _fake_orphan(settings, service: str, port: int) -> subprocess.Popen:
    """A process of this stack that no supervisor owns (as a crash leaves one), holding ``port``."""
    listen = textwrap.dedent(f"""
        import socket, time
        s = socket.socket()
        # as every server does: connections the stopped service left in TIME_WAIT must not block the bind
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(({settings.host!r}, {port}))
        s.listen()
        time.sleep(600)
    """)
    env = {**os.environ, proctree.TAG_VARIABLE: proctree.tag(settings.state_dir, service)}
    orphan = subprocess.Popen([sys.executable, "-c", listen], cwd=settings.state_dir, env=env,
                              start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while port_is_free(settings.host, port):
        assert orphan.poll() is None, f"the stand-in orphan exited: {orphan.stderr.read()}"
        assert time.monotonic() < deadline, f"the stand-in orphan did not listen on {port} within 30s"
        time.sleep(0.1)
    return orphan


def test_down_leaves_no_process_an_orphan_is_named_and_up_finds_the_data(stack, airflow):
    """One down/up cycle for both stories: data and a batch cursor outlive `down`; a leftover process of this
    stack holding a service's port is named by status, refused by up, reported by down and stopped by down --force."""
    settings = stack
    run_ok(airflow, "etl_default", {"tables": ["users"]})  # a batch cursor that must outlive down/up
    marker = f"lifecycle-{time.time_ns()}"
    with psycopg2.connect(host=settings.host, port=settings.crm_db_port, dbname="crm_db",
                          user=settings.crm_user, password=settings.crm_password.get_secret_value()) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (name, email) VALUES (%s, %s)", (marker, f"{marker}@example.org"))
    conn.close()
    admin = olap_admin(settings)
    admin.command("CREATE TABLE IF NOT EXISTS default.lifecycle (v String) ENGINE = MergeTree ORDER BY v")
    admin.insert("default.lifecycle", [[marker]], column_names=["v"])

    assert cli("stop", "reports_api").returncode == 0
    pids = [s["pid"] for s in _status()["services"].values() if s["pid"]]
    orphan = _fake_orphan(settings, "reports_api", settings.reports_api_port)
    try:
        named = [o for o in _status()["orphans"] if o["pid"] == orphan.pid]
        assert named and named[0]["service"] == "reports_api", _status()["orphans"]
        refused = cli("up", timeout=300)
        assert refused.returncode == 2 and f"pid {orphan.pid}" in refused.stderr, refused.stderr
        assert "bionicflow down --force" in refused.stderr
        plain = cli("down", timeout=300)
        assert plain.returncode == 1 and f"pid {orphan.pid}" in plain.stderr, plain.stderr
        still = [pid for pid in pids if _alive(pid)]
        assert not still, f"processes left behind after down: {still}"
        assert orphan.poll() is None, "plain down stopped a process it does not own"
        assert [o["pid"] for o in _status()["orphans"]] == [orphan.pid], "down left more than the orphan it named"
        forced = cli("down", "--force", timeout=300)
        assert forced.returncode == 0, forced.stderr
        orphan.wait(timeout=30)
    finally:
        orphan.kill()
    assert proctree.stack_processes(settings.state_dir) == [], "processes of the stack left after down --force"
    assert not any(s["healthy"] for s in _status()["services"].values())

    result = cli("up", timeout=900)
    assert result.returncode == 0, result.stderr
    with psycopg2.connect(host=settings.host, port=settings.crm_db_port, dbname="crm_db",
                          user=settings.crm_user, password=settings.crm_password.get_secret_value()) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM users WHERE name = %s", (marker,))
            assert cur.fetchone()[0] == 1
    conn.close()
    rows = olap_admin(settings).query("SELECT count() FROM default.lifecycle WHERE v = {m:String}", parameters={"m": marker})
    assert rows.result_rows == [(1,)]
    # the cursor survived: the next load resumes from it (no whole-table refresh) and brings the row written
    # after the last load and before `down`, duplicating nothing
    run = run_ok(airflow, "etl_default", {"tables": ["users"]})
    mode, reason = olap_admin(settings).query("SELECT mode, reason FROM ops.etl_runs WHERE run_id = {r:String}",
                                         parameters={"r": run["dag_run_id"]}).result_rows[0]
    assert (mode, reason) == ("incremental", ""), (mode, reason)
    assert default_rows(settings, USERS) == source_rows(settings, USERS)


def test_logs_command_prints_a_service_log(stack):
    result = cli("logs", "olap", "-n", "5")
    assert result.returncode == 0
    assert "serving" in result.stdout or result.stdout.strip(), "olap log is empty"
    missing = cli("logs", "no_such_service")
    assert missing.returncode != 0 and "known:" in missing.stderr


def test_stop_and_start_one_service(stack):
    assert cli("stop", "reports_api").returncode == 0
    stopped = cli("status", "--json")
    assert json.loads(stopped.stdout)["services"]["reports_api"]["state"] == "STOPPED"
    assert stopped.returncode == 1, "status --json must say unhealthy by its exit code too"
    started = cli("start", "reports_api")
    assert started.returncode == 0, started.stderr
    assert _status()["services"]["reports_api"]["healthy"] is True
    unknown = cli("stop", "no_such_service")
    assert unknown.returncode == 2 and "known: crm_db" in unknown.stderr
