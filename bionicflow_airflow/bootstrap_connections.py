"""The platform bootstrap's `Bootstrap` from Airflow connections (`olap_db`, `kafka_connect`, the readers)."""

from __future__ import annotations

import logging

from bionicflow.platform.bootstrap import Bootstrap
from bionicflow.kernel.tables import Table


def bootstrap_from_connections(initial: str, log: logging.Logger) -> Bootstrap:
    """Where the DAG's steps find each system: the same connections every other DAG uses."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from bionicflow.cdc.initial_load import COPY_TIMEOUT
    from bionicflow_airflow import ClickHouseHook, KafkaConnectHook
    from bionicflow_airflow.sources import SOURCE_CONNECTIONS, pg_source

    clickhouse, connect = ClickHouseHook(send_receive_timeout=COPY_TIMEOUT), KafkaConnectHook()
    mode, broker_list = clickhouse.cdc_schema()

    def source_connection(table: Table):
        return PostgresHook(postgres_conn_id=SOURCE_CONNECTIONS[table.name]).get_conn()

    return Bootstrap(
        olap=clickhouse.get_client, connect=connect.get_conn, kafka_bootstrap=connect.kafka_bootstrap(),
        source_connection=source_connection,
        sources=lambda: {table: pg_source(table) for table in SOURCE_CONNECTIONS},
        mode=mode, broker_list=broker_list, initial=initial, warn=lambda line: log.warning("%s", line),
    )
