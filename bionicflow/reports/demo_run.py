"""The reports page's "Generate" button: the demo_data run it started, followed to its end.

The page gets the run's id and a ticket (an HMAC of the id keyed by the reader's session), and
asks for the run's state with both: only the session that started a run may follow it, and the
server keeps no list of runs. The state comes from Airflow's REST API; a finished run's result
is what its `generate` task returned (users and events written).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from bionicflow.kernel.airflow_api import AirflowApiError, AirflowClient

DAG_ID = "demo_data"
TASK_ID = "generate"
FINISHED = frozenset({"success", "failed"})
RUN_PATH = "/dags/{dag}/dagRuns/{run}"
RESULT_PATH = "/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries/return_value"


@dataclass(frozen=True)
class RunStatus:
    state: str  # Airflow's: queued, running, success, failed
    result: dict | None = None  # the `generate` task's return value once the run succeeded

    @property
    def done(self) -> bool:
        return self.state in FINISHED


def run_url(airflow_url: str, run_id: str) -> str:
    """The run's page in the Airflow UI."""
    return f"{airflow_url.rstrip('/')}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"


def ticket(session_secret: str, run_id: str) -> str:
    """What lets this session, and only it, follow the run ``run_id``."""
    return hmac.new(session_secret.encode(), f"{DAG_ID}\n{run_id}".encode(), hashlib.sha256).hexdigest()


def ticket_matches(session_secret: str, run_id: str, sent: str) -> bool:
    return bool(sent) and hmac.compare_digest(ticket(session_secret, run_id).encode(), sent.encode())


def run_status(client: AirflowClient, run_id: str) -> RunStatus:
    """The run's state; with the `generate` task's result once it succeeded (None if Airflow has none)."""
    run = client.request("GET", RUN_PATH.format(dag=DAG_ID, run=quote(run_id, safe="")))
    if run["state"] != "success":
        return RunStatus(run["state"])
    try:
        entry = client.request("GET", RESULT_PATH.format(dag=DAG_ID, run=quote(run_id, safe=""), task=TASK_ID))
    except AirflowApiError:  # e.g. the XCom was cleared: the state alone still says how it went
        return RunStatus("success")
    value = entry.get("value")
    return RunStatus("success", value if isinstance(value, dict) else None)
