"""Kafka Connect hook on requests, reading the Airflow connection `kafka_connect` (type `kafka_connect`)."""

from __future__ import annotations

from airflow.sdk import BaseHook


class KafkaConnectHook(BaseHook):
    """Returns a `KafkaConnectClient` whose session retries transient failures only."""

    conn_name_attr = "kafka_connect_conn_id"
    default_conn_name = "kafka_connect"
    conn_type = "kafka_connect"
    hook_name = "Kafka Connect"

    def __init__(self, kafka_connect_conn_id: str = default_conn_name, retry_backoff: float = 0.5):
        """``retry_backoff``: urllib3's backoff factor between retries (0.5 s, 1 s, 2 s ... by default)."""
        super().__init__()
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.retry_backoff = retry_backoff

    def base_url(self) -> str:
        conn = self.get_connection(self.kafka_connect_conn_id)
        return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 8083}"

    def kafka_bootstrap(self) -> str:
        """The Kafka cluster behind this Connect worker (connection extra `kafka_bootstrap`)."""
        value = self.get_connection(self.kafka_connect_conn_id).extra_dejson.get("kafka_bootstrap")
        if not value:
            raise ValueError(f"connection {self.kafka_connect_conn_id!r} has no extra 'kafka_bootstrap' "
                             "(host:port of its Kafka cluster); add it to the connection")
        return value

    def get_conn(self):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        from bionicflow.cdc.connectors import KafkaConnectClient

        session = requests.Session()
        # Connection errors and 502/503/504 (a rebalancing worker) are transient; a 4xx is not.
        retry = Retry(total=5, connect=5, read=2, backoff_factor=self.retry_backoff, status_forcelist=(502, 503, 504),
                      allowed_methods=frozenset({"GET", "PUT", "DELETE", "POST"}))
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return KafkaConnectClient(self.base_url(), session=session)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: the worker's version and how many connectors it runs."""
        try:
            client = self.get_conn()
            info = client.session.get(self.base_url() + "/", timeout=10).json()
            running = len(client.session.get(self.base_url() + "/connectors", timeout=10).json())
        except Exception as exc:  # reported to the UI, as Airflow's test button expects
            return False, str(exc)
        return True, f"Kafka Connect {info.get('version')}, {running} connector(s)"
