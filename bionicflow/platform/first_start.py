"""A fresh stack's first start: unpause the platform's DAGs and run `cdc_bootstrap`, once.

The stack itself knows no DAG; `bionicflow up` calls this after the launcher (and the README's
main job relies on it). A marker file in Airflow's home records the run that did it.
"""

from __future__ import annotations

from collections.abc import Callable

from bionicflow.kernel.airflow_api import PLATFORM_DAGS, airflow_client
from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import ServiceStartError

BOOTSTRAP_MARKER = "cdc-bootstrapped"


def bootstrap_once(settings: Settings, report: Callable[[str], None]) -> None:
    """On a fresh stack: unpause the platform's DAGs and run cdc_bootstrap, once."""
    marker = settings.state_dir / "airflow" / BOOTSTRAP_MARKER
    if marker.exists():
        return
    report("unpausing DAGs and running cdc_bootstrap (first start)")
    client = airflow_client(settings)
    for dag_id in PLATFORM_DAGS:
        client.unpause(dag_id)
    run = client.run("cdc_bootstrap", conf={"initial_load": settings.cdc_initial_load}, timeout=600)
    if run["state"] != "success":
        raise ServiceStartError(f"cdc_bootstrap failed: {client.task_states('cdc_bootstrap', run['dag_run_id'])}; "
                                "open the run in the Airflow UI for its logs")
    marker.write_text(run["dag_run_id"] + "\n")
