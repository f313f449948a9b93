"""
### demo_data

The brief's "generate users and events" button: writes realistic users into `crm_db` and
telemetry events (each linked to an existing user) into `telemetry_db` with COPY.
Optional `updates` change that many random users; `deletes` remove that many random events,
so both roads have updates and deletes to carry.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, get_current_context, task

from bionicflow_airflow.dag_defaults import dag_kwargs

# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="demo_data",
    description="Generate demo users and telemetry events in the PostgreSQL sources.",
    schedule=None,
    **dag_kwargs(retry_seconds=10),
    tags=["bionicflow", "demo"],
    doc_md=__doc__,
    params={
        "users": Param(1000, type="integer", minimum=0, description="Users to create."),
        "events": Param(10000, type="integer", minimum=0, description="Telemetry events to create."),
        "updates": Param(0, type="integer", minimum=0, description="Random users to update."),
        "deletes": Param(0, type="integer", minimum=0, description="Random events to delete."),
    },
)
def demo_data():
    @task(multiple_outputs=True, retries=0)
    def generate() -> dict:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from bionicflow.demo.data import generate as write_demo_data

        params = get_current_context()["params"]
        crm = PostgresHook(postgres_conn_id="crm_db").get_conn()
        telemetry = PostgresHook(postgres_conn_id="telemetry_db").get_conn()
        try:
            result = write_demo_data(crm, telemetry, users=params["users"], events=params["events"],
                                     updates=params["updates"], deletes=params["deletes"])
        finally:
            crm.close()
            telemetry.close()
        log.info("wrote %d users and %d events; updated %d, deleted %d", result.users, result.events, result.updates,
                 result.deletes)
        return result.__dict__

    generate()


demo_data()
