"""Airflow's environment in the embedded stack: what two stacks on one machine must not share."""

from bionicflow.kernel.config import Settings
from bionicflow.stack.airflow import INTERNAL_PORT_OFFSETS, airflow_env


def _internal_ports(env: dict[str, str]) -> dict[str, int]:
    return {name: int(env[name]) for name in INTERNAL_PORT_OFFSETS}


def test_the_default_stack_keeps_airflows_own_internal_ports(tmp_path):
    env = airflow_env(Settings(state_dir=tmp_path))
    assert _internal_ports(env) == {
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": 8793,
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": 8794,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": 8974,
    }


def test_a_stack_on_other_ports_binds_other_internal_ports(tmp_path):
    default = _internal_ports(airflow_env(Settings(state_dir=tmp_path / "one")))
    other = _internal_ports(airflow_env(Settings(state_dir=tmp_path / "two", airflow_port=18080)))
    assert set(default.values()).isdisjoint(other.values())
    assert other["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == 18793
