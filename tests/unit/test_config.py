import json

from bionicflow.config import Settings
from bionicflow.stack.airflow import connection_env


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("BIONICFLOW_CRM_DB_PORT", "6444")
    monkeypatch.setenv("BIONICFLOW_CLICKHOUSE_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.crm_db_port == 6444
    assert settings.clickhouse_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)  # secrets never print


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    (tmp_path / "BIONICFLOW_CRM_PASSWORD").write_text("from-file")  # named like the variable
    settings = Settings(_secrets_dir=tmp_path)
    assert settings.crm_password.get_secret_value() == "from-file"


def test_airflow_connections_quote_credentials():
    settings = Settings(crm_password="p@ss/word:1")
    env = connection_env(settings)
    assert env["AIRFLOW_CONN_CRM_DB"] == "postgres://crm_user:p%40ss%2Fword%3A1@127.0.0.1:5444/crm_db"
    olap = json.loads(env["AIRFLOW_CONN_OLAP_DB"])
    assert (olap["conn_type"], olap["port"]) == ("clickhouse", 8123)
    assert set(env) == {"AIRFLOW_CONN_CRM_DB", "AIRFLOW_CONN_TELEMETRY_DB", "AIRFLOW_CONN_CRM_DB_READER",
                        "AIRFLOW_CONN_TELEMETRY_DB_READER", "AIRFLOW_CONN_OLAP_DB", "AIRFLOW_CONN_KAFKA_CONNECT"}
    assert env["AIRFLOW_CONN_TELEMETRY_DB_READER"].startswith("postgres://etl_reader:")
