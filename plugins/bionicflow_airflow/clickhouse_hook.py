"""ClickHouse hook on clickhouse-connect, reading the Airflow connection `olap_db`."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook


class ClickHouseHook(BaseHook):
    """Returns a clickhouse-connect client for a ClickHouse (or bionicflow OLAP) server."""

    conn_name_attr = "olap_conn_id"
    default_conn_name = "olap_db"
    conn_type = "clickhouse"
    hook_name = "ClickHouse"

    def __init__(self, olap_conn_id: str = default_conn_name, send_receive_timeout: int = 300):
        super().__init__()
        self.olap_conn_id = olap_conn_id
        self.send_receive_timeout = send_receive_timeout

    def get_conn(self) -> Any:
        from bionicflow.kernel.olap import connect  # heavy import (clickhouse-connect): only when a task runs

        conn = self.get_connection(self.olap_conn_id)
        extra = conn.extra_dejson
        self.log.info("connecting to ClickHouse %s:%s as %s", conn.host, conn.port, conn.login)
        return connect(
            conn.host, conn.port or 8123, conn.login or "default", conn.password or "",
            database=conn.schema or "default", secure=bool(extra.get("secure", False)),
            connect_timeout=int(extra.get("connect_timeout", 10)), send_receive_timeout=self.send_receive_timeout,
        )

    def cdc_schema(self) -> tuple[str, str]:
        """How the `debezium` schema reads Kafka on this server: (mode, broker list), from the connection's extra.

        `cdc_schema_mode`: "embedded" (bionicflow's consumer, the default) or "kafka" (ClickHouse's
        Kafka engine, compose and clusters) reading `kafka_broker_list`.
        """
        extra = self.get_connection(self.olap_conn_id).extra_dejson
        return extra.get("cdc_schema_mode", "embedded"), extra.get("kafka_broker_list", "kafka:29092")

    def test_connection(self) -> tuple[bool, str]:
        try:
            version = self.get_conn().server_version
        except Exception as exc:  # reported to the UI, as Airflow's test button expects
            return False, str(exc)
        return True, f"connected to ClickHouse {version}"
