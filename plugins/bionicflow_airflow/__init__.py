"""bionicflow's Airflow hooks (one external system each) and UI plugin."""

from bionicflow_airflow.clickhouse_hook import ClickHouseHook
from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook

__all__ = ["ClickHouseHook", "KafkaConnectHook"]
