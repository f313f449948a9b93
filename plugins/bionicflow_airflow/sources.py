"""PostgreSQL sources from Airflow connections, in the shape the batch loads take."""

from __future__ import annotations

from airflow.sdk import BaseHook

from bionicflow.etl.load import PgSource

# Which Airflow connection reads each source table: the read-only ETL role (least privilege).
SOURCE_CONNECTIONS = {"users": "crm_db_reader", "telemetry_events": "telemetry_db_reader"}
# Which connection may write Debezium signals (ad hoc incremental snapshots): the database owner.
SIGNAL_CONNECTIONS = {"users": "crm_db", "telemetry_events": "telemetry_db"}


def pg_source(table: str) -> PgSource:
    conn = BaseHook.get_connection(SOURCE_CONNECTIONS[table])
    return PgSource(host=conn.host, port=conn.port or 5432, database=conn.schema, user=conn.login,
                    password=conn.password or "")
