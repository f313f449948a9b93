"""The connection types in the running Airflow: its connection form knows them, its Test button reaches the hooks."""

from __future__ import annotations

import requests


def test_the_connection_form_knows_kafka_connect_and_clickhouse(stack, airflow):
    response = requests.get(f"{airflow.base}/ui/connections/hook_meta", headers=airflow.headers, timeout=60)
    assert response.status_code == 200, response.text
    types = {meta["connection_type"]: meta for meta in response.json()}
    assert types["kafka_connect"]["hook_name"] == "Kafka Connect"
    assert types["kafka_connect"]["hook_class_name"] == "bionicflow_airflow.kafka_connect_hook.KafkaConnectHook"
    assert types["clickhouse"]["hook_class_name"] == "airflow.providers.clickhousedb.hooks.clickhouse.ClickHouseHook"


def test_the_test_button_on_the_stacks_connections(stack, airflow):
    """As the UI sends it for a stored connection: its id and type; the stored credentials are used."""
    for conn_id, conn_type, expected in (("olap_db", "clickhouse", "Connection successfully tested"),
                                         ("kafka_connect", "kafka_connect", "Kafka Connect 4.")):
        result = airflow.request("POST", "/connections/test", json={"connection_id": conn_id, "conn_type": conn_type})
        assert result["status"] is True, (conn_id, result)
        assert expected in result["message"], (conn_id, result)


def test_the_test_button_reports_a_wrong_password(stack, airflow):
    body = {"connection_id": "olap_wrong", "conn_type": "clickhouse", "host": stack.host, "port": stack.olap_port,
            "login": stack.clickhouse_user, "password": "not-the-password"}
    result = airflow.request("POST", "/connections/test", json=body)
    assert result["status"] is False and "516" in result["message"], result
