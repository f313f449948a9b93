"""The README's main job and the first-start bootstrap, as an operator runs them."""

from bionicflow.kernel.airflow_api import airflow_client
from bionicflow.platform.first_start import BOOTSTRAP_MARKER, bootstrap_once
from tests.support.stack import cli


def test_first_start_bootstrap_runs_once(stack):
    marker = stack.state_dir / "airflow" / BOOTSTRAP_MARKER
    marker.unlink(missing_ok=True)
    messages = []
    bootstrap_once(stack, messages.append)
    assert marker.exists() and messages
    client = airflow_client(stack)
    runs = client.request("GET", "/dags/cdc_bootstrap/dagRuns")["total_entries"]
    paused = {d["dag_id"]: d["is_paused"] for d in client.request("GET", "/dags")["dags"]}
    assert not any(paused.values()), paused
    bootstrap_once(stack, messages.append)  # second start: nothing to do
    assert client.request("GET", "/dags/cdc_bootstrap/dagRuns")["total_entries"] == runs


def test_demo_runs_both_roads_and_reconciles_to_a_match(stack):
    result = cli("demo", "--users", "200", "--events", "2000", "--updates", "10", "--deletes", "20", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert "reconciliation: match" in result.stdout
    assert "telemetry_events" in result.stdout and "Airflow UI" in result.stdout
