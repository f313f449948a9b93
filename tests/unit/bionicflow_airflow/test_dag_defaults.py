"""The retry delay every DAG gets: its own unless the operator sets one for all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bionicflow_airflow.dag_defaults import dag_kwargs


def test_each_dag_keeps_its_own_delay_by_default(monkeypatch):
    monkeypatch.delenv("BIONICFLOW_TASK_RETRY_DELAY_SECONDS", raising=False)
    args = dag_kwargs(retry_seconds=20)
    assert args["default_args"] == {"retries": 2, "retry_delay": timedelta(seconds=20)}
    assert args["catchup"] is False


def test_the_operators_delay_holds_for_every_dag(monkeypatch):
    monkeypatch.setenv("BIONICFLOW_TASK_RETRY_DELAY_SECONDS", "5")
    assert dag_kwargs(retry_seconds=30)["default_args"]["retry_delay"] == timedelta(seconds=5)


def test_a_delay_under_a_second_is_refused(monkeypatch):
    monkeypatch.setenv("BIONICFLOW_TASK_RETRY_DELAY_SECONDS", "0")
    with pytest.raises(ValueError, match="task_retry_delay_seconds"):
        dag_kwargs()
