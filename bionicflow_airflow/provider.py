"""bionicflow as an Airflow provider: its connection types, so the UI knows them and its Test button works.

Airflow finds this through the `apache_airflow_provider` entry point in pyproject.toml. ClickHouse
comes from the official `apache-airflow-providers-clickhousedb` (connection type `clickhouse`,
docs/dependencies.md); bionicflow adds Kafka Connect.
"""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "bionicflow",
        "name": "bionicflow",
        "description": "Hooks of the bionicflow PostgreSQL -> ClickHouse platform: Kafka Connect's REST API.",
        "versions": ["0.1.0"],
        "integrations": [{"integration-name": "Kafka Connect",
                          "external-doc-url": "https://kafka.apache.org/documentation/#connect",
                          "tags": ["software"]}],
        "hooks": [{"integration-name": "Kafka Connect", "python-modules": ["bionicflow_airflow.kafka_connect_hook"]}],
        "connection-types": [{
            "connection-type": "kafka_connect",
            "hook-class-name": "bionicflow_airflow.kafka_connect_hook.KafkaConnectHook",
            "hook-name": "Kafka Connect",
            # the connection form: the worker's REST address, and the Kafka cluster it writes to
            "ui-field-behaviour": {
                "hidden-fields": ["login", "password"],
                "relabeling": {"schema": "Scheme (http or https)"},
                "placeholders": {"host": "127.0.0.1", "port": "8083", "schema": "http",
                                 "extra": '{"kafka_bootstrap": "127.0.0.1:9092"}'},
            },
        }],
    }
