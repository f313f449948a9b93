"""ClickHouse hook: the official provider's, on bionicflow's connection `olap_db` (type `clickhouse`).

`apache-airflow-providers-clickhousedb` gives the connection type, the UI form, the Test button
and DB-API (so `SQLExecuteQueryOperator` works); bionicflow adds its default connection, a
per-hook request timeout and how the `debezium` schema reads Kafka on that server.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook as OfficialClickHouseHook

from clickhouse_connect.driver.client import Client

from bionicflow.kernel.olap import CONNECT_TIMEOUT, connect


class ClickHouseHook(OfficialClickHouseHook):
    """``get_client()``: a clickhouse-connect client for a ClickHouse (or bionicflow OLAP) server."""

    default_conn_name = "olap_db"

    def __init__(self, olap_conn_id: str = default_conn_name, send_receive_timeout: int = 300, **kwargs: Any):
        # Long statements (an initial copy of millions of rows) need more than clickhouse-connect's 300 s; the
        # connect timeout is the kernel's, as for every other client of the platform (a server that is up answers).
        client_kwargs = {"send_receive_timeout": send_receive_timeout, "connect_timeout": CONNECT_TIMEOUT,
                         **kwargs.pop("client_kwargs", {})}
        super().__init__(clickhouse_conn_id=olap_conn_id, client_kwargs=client_kwargs, **kwargs)

    def get_client(self) -> Client:
        """A client from the kernel's factory (as every client of the platform), on this connection's settings."""
        kwargs = self._get_client_kwargs()
        return connect(kwargs.pop("host"), kwargs.pop("port"), kwargs.pop("username"), kwargs.pop("password"), **kwargs)

    def cdc_schema(self) -> tuple[str, str]:
        """How the `debezium` schema reads Kafka on this server: (mode, broker list), from the connection's extra.

        `cdc_schema_mode`: "embedded" (bionicflow's consumer, the default) or "kafka" (ClickHouse's
        Kafka engine, compose and clusters) reading `kafka_broker_list`.
        """
        extra = self.get_connection(self.get_conn_id()).extra_dejson
        return extra.get("cdc_schema_mode", "embedded"), extra.get("kafka_broker_list", "kafka:29092")
