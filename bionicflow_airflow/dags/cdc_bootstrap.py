"""
### cdc_bootstrap

Prepares both roads into ClickHouse, idempotently: one task per step of the platform's bootstrap
(bionicflow/platform/bootstrap.py), the list `bionicflow cdc bootstrap` runs in one go.

{steps}

Param `initial_load` (`debezium`, the default, or `olap`) only matters when a connector is
created; an existing connector keeps the snapshot mode it was created with.

Run it by hand after changing a connector file; `bionicflow up` runs it once on a fresh stack.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, task

from bionicflow.platform.bootstrap import STEPS, steps_markdown
from bionicflow_airflow.dag_defaults import dag_kwargs


# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@task
def bootstrap_step(name: str, params: dict | None = None):
    """One step of bionicflow.platform.bootstrap, the same list the CLI runs in one go."""
    from bionicflow.platform.bootstrap import step
    from bionicflow_airflow.bootstrap_connections import bootstrap_from_connections

    assert params is not None  # Airflow passes the run's params to a task that takes `params`
    return step(name).run(bootstrap_from_connections(params["initial_load"], log))


@dag(
    dag_id="cdc_bootstrap",
    description="Create the ClickHouse schemas and register the Debezium connectors (idempotent).",
    schedule=None,
    **dag_kwargs(retry_seconds=20),
    max_active_runs=1,
    tags=["bionicflow", "cdc", "bootstrap"],
    doc_md=(__doc__ or "").format(steps=steps_markdown()),
    params={
        "initial_load": Param("debezium", enum=["debezium", "olap"],
                              description="How a new connector's existing rows reach `debezium`: Debezium's "
                                          "snapshot, or ClickHouse copying the tables (fast)."),
    },
)
def cdc_bootstrap():
    previous = None
    for each in STEPS:  # one task per step, in the list's order
        current = bootstrap_step.override(task_id=each.name, doc_md=each.summary)(each.name)
        if previous is not None:
            previous >> current
        previous = current


cdc_bootstrap()
