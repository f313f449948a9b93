"""What every bionicflow DAG shares: start date, no catch-up, retries on transient errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bionicflow.kernel.config import Settings

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def dag_kwargs(retry_seconds: int = 30) -> dict:
    """Keyword arguments for ``@dag``: catchup off, 2 retries with a delay, a fixed start date.

    ``retry_seconds`` is the DAG's own delay; `BIONICFLOW_TASK_RETRY_DELAY_SECONDS` sets one for every DAG
    (the test stack uses 5 s: a fault scenario waits out the retries of a task it made fail).
    """
    delay = Settings().task_retry_delay_seconds or retry_seconds
    return {
        "start_date": START_DATE,
        "catchup": False,
        "default_args": {"retries": 2, "retry_delay": timedelta(seconds=delay)},
    }
