"""Registers bionicflow's "CDC vs batch" page in the Airflow UI (Airflow 3.1+ plugin interface)."""

from airflow.plugins_manager import AirflowPlugin

from bionicflow_airflow.ui import URL_PREFIX, build_app


class BionicflowUiPlugin(AirflowPlugin):
    name = "bionicflow"
    fastapi_apps = [{"app": build_app(), "url_prefix": URL_PREFIX, "name": "bionicflow CDC vs batch"}]
    external_views = [{
        "name": "CDC vs batch",
        "href": URL_PREFIX.lstrip("/") + "/cdc-vs-batch",  # relative: works behind a proxy prefix
        "url_route": "cdc-vs-batch",
        "destination": "nav",
        "category": "browse",
    }]
