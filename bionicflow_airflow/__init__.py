"""bionicflow's Airflow hooks (one external system each), provider info and UI plugin.

The hooks are imported on first use, not with the package: Airflow imports the package to read
its provider info (provider.py), and the ClickHouse hook imports the provider machinery back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and linters only: at run time the names come from __getattr__
    from bionicflow_airflow.clickhouse_hook import ClickHouseHook
    from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

__all__ = ["ClickHouseHook", "KafkaConnectHook"]


def __getattr__(name: str):
    if name == "ClickHouseHook":
        from bionicflow_airflow.clickhouse_hook import ClickHouseHook

        return ClickHouseHook
    if name == "KafkaConnectHook":
        from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

        return KafkaConnectHook
    raise AttributeError(f"module 'bionicflow_airflow' has no attribute {name!r}")
