"""Airflow 3 components and its API."""

import requests


def _base(settings):
    return f"http://{settings.host}:{settings.airflow_port}"


def test_health_reports_every_component_healthy(stack):
    doc = requests.get(f"{_base(stack)}/api/v2/monitor/health", timeout=10).json()
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert doc[component]["status"] == "healthy", f"{component}: {doc[component]}"


def test_api_needs_login_and_dag_folder_has_no_import_errors(stack):
    assert requests.get(f"{_base(stack)}/api/v2/dags", timeout=10).status_code == 401
    token = requests.post(
        f"{_base(stack)}/auth/token",
        json={"username": stack.airflow_admin_user, "password": stack.airflow_admin_password.get_secret_value()},
        timeout=10,
    )
    assert token.status_code in (200, 201), token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    errors = requests.get(f"{_base(stack)}/api/v2/importErrors", headers=headers, timeout=10)
    assert errors.status_code == 200
    assert errors.json()["total_entries"] == 0, errors.json()
    wrong = requests.post(f"{_base(stack)}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=10)
    assert wrong.status_code in (401, 403)
