"""CPU time a stack's processes spend, by part, over a stretch of a benchmark: a per-change budget.

The stack's processes are found by their tag (bionicflow.stack.proctree); PostgreSQL's WAL
senders (the backends streaming changes to Debezium) are told from the cluster's other
processes by their title. A process that ends inside the stretch is not counted (the
load's own short-lived backends); one that starts inside it is counted whole.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from bionicflow.stack.proctree import StackProcess, stack_processes

PARTS = {
    "kafka": "Kafka broker", "kafka_connect": "Kafka Connect (Debezium)", "cdc_consumer": "CDC consumer",
    "olap": "OLAP server (engine)", "reports_api": "reports_api",
}
SOURCES = ("crm_db", "telemetry_db")


def part_of(process: StackProcess) -> str:
    # PostgreSQL's backends retitle themselves ("postgres: walsender …", "postgres: airflow airflow …") and
    # may not carry the tag: told apart by their titles
    command = process.command
    if "walsender" in command:
        return "PostgreSQL WAL senders"
    if (process.service or "").startswith("airflow") or (command.startswith("postgres") and " airflow " in command):
        return "Airflow"
    if process.service in SOURCES or command.startswith("postgres"):
        return "PostgreSQL (writes, checkpoints …)"
    return PARTS.get(process.service or "", "other")


def sample(state_dir: str | Path) -> dict[int, tuple[str, float]]:
    """pid -> (part, CPU seconds used so far, user + system)."""
    found = {}
    for process in stack_processes(Path(state_dir)):
        try:
            times = psutil.Process(process.pid).cpu_times()
        except psutil.Error:  # ended between the listing and now
            continue
        found[process.pid] = (part_of(process), times.user + times.system)
    return found


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per part between two samples."""
    out: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        out[part] = out.get(part, 0.0) + seconds - (before[pid][1] if pid in before else 0.0)
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def per_change(seconds_by_part: dict[str, float], changes: int) -> dict[str, float]:
    """Microseconds of CPU per change, by part, and their total."""
    out = {part: round(seconds * 1e6 / changes, 1) for part, seconds in seconds_by_part.items()}
    out["total"] = round(sum(seconds_by_part.values()) * 1e6 / changes, 1)
    return out
