"""Registers bionicflow's CDC console in the Airflow UI, menu Admin (Airflow 3.1+ plugin interface)."""

from airflow.plugins_manager import AirflowPlugin

from bionicflow_airflow.cdc_console import URL_PREFIX, build_app


class BionicflowCdcConsolePlugin(AirflowPlugin):
    name = "bionicflow_cdc_console"
    fastapi_apps = [{"app": build_app(), "url_prefix": URL_PREFIX, "name": "bionicflow CDC console"}]
    external_views = [{
        "name": "CDC console",
        "href": URL_PREFIX.lstrip("/") + "/",  # relative: works behind a proxy prefix
        "url_route": "cdc-console",
        "destination": "nav",
        "category": "admin",  # the Admin menu (the UI's categories: browse, admin, docs, user)
    }]
