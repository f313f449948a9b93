"""Airflow's own cost per DAG run: trigger-to-finish of a run whose one task does nothing.

The run: `demo_data` with users=0 and events=0 — one real task that connects to both sources
and writes nothing — triggered through the REST API (/api/v2) of the embedded stack's
scheduler (LocalExecutor). Per run: wall time from the trigger request until the API reports
`success` (polled every 50 ms), the task's own duration (its start/end as Airflow records
them), and the difference: what scheduling, queueing and starting the task process cost.

Run: python -m bench.dag_overhead [--runs N]   (starts its own stack, without CDC)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime

from bench.common import bench_stack, fresh_stack, machine
from bionicflow.kernel.airflow_api import AirflowClient
from bionicflow.kernel.config import Settings

DAG = "demo_data"
EMPTY = {"users": 0, "events": 0, "updates": 0, "deletes": 0}
POLL_SECONDS = 0.05
DEADLINE_SECONDS = 300


def finished_run(client: AirflowClient, run_id: str) -> tuple[float, dict]:
    """Poll until the run succeeds; the monotonic time it was first seen finished, and the run."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        run = client.request("GET", f"/dags/{DAG}/dagRuns/{run_id}")
        if run["state"] == "success":
            return time.monotonic(), run
        if run["state"] == "failed":
            raise RuntimeError(f"{DAG} run {run_id} failed: {client.task_states(DAG, run_id)}")
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{DAG} run {run_id} not finished after {DEADLINE_SECONDS} s")


def task_seconds(client: AirflowClient, run_id: str) -> float:
    (ti,) = client.request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return (datetime.fromisoformat(ti["end_date"]) - datetime.fromisoformat(ti["start_date"])).total_seconds()


def one_run(client: AirflowClient) -> dict:
    started = time.monotonic()
    run_id = client.request("POST", f"/dags/{DAG}/dagRuns", json={"logical_date": None, "conf": EMPTY})["dag_run_id"]
    ended, _ = finished_run(client, run_id)
    wall, task = ended - started, task_seconds(client, run_id)
    return {"wall_s": wall, "task_s": task, "overhead_s": wall - task}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["BIONICFLOW_AUTO_BOOTSTRAP"] = "0"  # no connectors: the scheduler has nothing else to do
    with bench_stack() as env:
        fresh_stack(env)
        s = Settings()
        client = AirflowClient(s.airflow_url, s.airflow_admin_user, s.airflow_admin_password.get_secret_value())
        client.unpause(DAG)
        one_run(client)  # warm: the first run also serialises the DAG and starts the executor's workers
        runs = [one_run(client) for _ in range(args.runs)]
    out = {"machine": machine(), "dag": DAG, "conf": EMPTY, "runs": args.runs}
    for key in ("wall_s", "task_s", "overhead_s"):
        samples = [r[key] for r in runs]
        out[key] = {"median": round(statistics.median(samples), 2), "samples": [round(x, 2) for x in samples]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
