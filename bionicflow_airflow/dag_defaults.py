"""What every bionicflow DAG shares: start date, no catch-up, retries on transient errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def dag_kwargs(retry_seconds: int = 30) -> dict:
    """Keyword arguments for ``@dag``: catchup off, 2 retries with a delay, a fixed start date."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "default_args": {"retries": 2, "retry_delay": timedelta(seconds=retry_seconds)},
    }
