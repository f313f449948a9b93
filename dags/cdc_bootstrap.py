"""
### cdc_bootstrap

Prepares both roads into ClickHouse, idempotently:

1. creates the ClickHouse schemas `default`, `ops` and `debezium` (tables, views, dead letters), and warns
   about tables an older version created with another sorting key (with the fix);
2. creates the CDC topics, registers or updates the Debezium connectors `crm-connector` and `telemetry-connector`
   from `debezium/*.json` through the Kafka Connect REST API (connection `kafka_connect`);
3. waits until every connector and task is RUNNING;
4. checks that each table's topic exists (bootstrap creates them, so a fresh empty
   source still has its topic);
5. with the initial load `olap`: copies each table whose connector streams without a
   snapshot and was not copied before, ClickHouse pulling from PostgreSQL (docs/cdc.md).

Param `initial_load` (`debezium`, the default, or `olap`) only matters when a connector is
created; an existing connector keeps the snapshot mode it was created with.

Run it by hand after changing a connector file; `bionicflow up` runs it once on a fresh stack.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, task

from bionicflow.dag_defaults import dag_kwargs


# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="cdc_bootstrap",
    description="Create the ClickHouse schemas and register the Debezium connectors (idempotent).",
    schedule=None,
    **dag_kwargs(retry_seconds=20),
    max_active_runs=1,
    tags=["bionicflow", "cdc", "bootstrap"],
    doc_md=__doc__,
    params={
        "initial_load": Param("debezium", enum=["debezium", "olap"],
                              description="How a new connector's existing rows reach `debezium`: Debezium's "
                                          "snapshot, or ClickHouse copying the tables (fast)."),
    },
)
def cdc_bootstrap():
    # Each task is one step of bionicflow.bootstrap, the same the CLI runs in one go.
    @task
    def create_schemas() -> int:
        from bionicflow import bootstrap
        from bionicflow_airflow import ClickHouseHook

        from bionicflow_airflow.cdc_health import source_drift

        hook = ClickHouseHook()
        olap = hook.get_client()
        count, _ = bootstrap.create_schemas(olap, *hook.cdc_schema())
        for line in source_drift(olap):  # columns added, dropped or renamed in a source: never silent
            log.warning("source schema: %s", line)
        return count

    @task
    def register_connectors(params: dict | None = None) -> list[str]:
        from bionicflow import bootstrap
        from bionicflow_airflow import KafkaConnectHook

        hook = KafkaConnectHook()
        return bootstrap.register_connectors(hook.get_conn(), hook.kafka_bootstrap(), params["initial_load"])

    @task
    def wait_running(changed: list[str]) -> dict:
        from bionicflow import bootstrap
        from bionicflow_airflow import KafkaConnectHook

        return bootstrap.wait_running(KafkaConnectHook().get_conn(), timeout=300)

    @task
    def verify_topics(states: dict) -> list[str]:
        from bionicflow import bootstrap
        from bionicflow_airflow import KafkaConnectHook

        return bootstrap.verify_topics(KafkaConnectHook().kafka_bootstrap())

    @task
    def initial_copy(topics: list[str]) -> list[dict]:
        from dataclasses import asdict

        from bionicflow import bootstrap
        from bionicflow.cdc.initial_load import COPY_TIMEOUT
        from bionicflow_airflow import ClickHouseHook, KafkaConnectHook
        from bionicflow_airflow.sources import SOURCE_CONNECTIONS, pg_source

        sources = {table: pg_source(table) for table in SOURCE_CONNECTIONS}
        olap = ClickHouseHook(send_receive_timeout=COPY_TIMEOUT).get_client()
        return [asdict(c) for c in bootstrap.initial_copy(olap, KafkaConnectHook().get_conn(), sources)]

    schemas = create_schemas()
    changed = register_connectors()
    schemas >> changed
    initial_copy(verify_topics(wait_running(changed)))


cdc_bootstrap()
