"""A small client of Airflow 3's REST API (/api/v2): unpause, trigger, wait, inspect."""

from __future__ import annotations

import time

import requests

from bionicflow.kernel.errors import BionicflowError

TIMEOUT = 30
# A run of a few short tasks takes ~5 s: polled each second, its end was seen ~0.5 s late on average.
RUN_POLL_SECONDS = 0.25


class AirflowApiError(BionicflowError):
    """Airflow answered with an error or a run did not finish as expected."""


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str):
        self.base = base_url.rstrip("/")
        response = requests.post(f"{self.base}/auth/token", json={"username": username, "password": password},
                                 timeout=TIMEOUT)
        if response.status_code >= 400:
            raise AirflowApiError(f"Airflow login as {username!r} failed ({response.status_code}): "
                                  "check BIONICFLOW_AIRFLOW_ADMIN_USER / _PASSWORD")
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def request(self, method: str, path: str, **kw) -> dict:
        response = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=TIMEOUT, **kw)
        if response.status_code >= 400:
            raise AirflowApiError(f"Airflow {method} {path} failed ({response.status_code}): {response.text[:500]}")
        return response.json()

    def wait_parsed(self, dag_id: str, timeout: float = 180) -> None:
        """The dag-processor parses files asynchronously: wait until the DAG is known."""
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(f"{self.base}/api/v2/dags/{dag_id}", headers=self.headers, timeout=TIMEOUT)
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise AirflowApiError(f"DAG {dag_id} not parsed within {timeout:.0f}s; see `bionicflow logs "
                                      "airflow_dag_processor` and the Airflow UI's import errors")
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.wait_parsed(dag_id)
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        self.unpause(dag_id)
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def wait(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(RUN_POLL_SECONDS)

    def run(self, dag_id: str, conf: dict | None = None, timeout: float = 600) -> dict:
        """Trigger and wait; returns the finished run (its state may be 'failed')."""
        return self.wait(dag_id, self.trigger(dag_id, conf)["dag_run_id"], timeout)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        doc = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
                for ti in doc["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """The task's log as text; ``map_index`` picks one instance of a mapped task."""
        response = requests.get(
            f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"map_index": map_index} if map_index >= 0 else None, headers=self.headers, timeout=TIMEOUT)
        return response.text


# The platform's DAGs (tests/dags checks this list against bionicflow_airflow/dags/).
PLATFORM_DAGS = ("cdc_bootstrap", "etl_default", "cdc_reconcile", "backfill", "demo_data", "reports",
                 "report_snapshots")


def airflow_client(settings) -> AirflowClient:
    """A client of the stack's Airflow REST API as its admin user."""
    return AirflowClient(settings.airflow_url, settings.airflow_admin_user,
                         settings.airflow_admin_password.get_secret_value())
