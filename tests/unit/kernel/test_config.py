import json

from bionicflow.kernel.config import Settings
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


def _documented_variables() -> set[str]:
    """Every BIONICFLOW_* variable docs/configuration.md's table names (`X_USER` / `_PASSWORD` names two)."""
    import re

    from bionicflow.kernel.config import project_root

    names = set()
    for line in (project_root() / "docs" / "configuration.md").read_text().splitlines():
        if not line.startswith("| `BIONICFLOW_"):
            continue
        cell = line.split("|")[1]
        full = re.findall(r"`(BIONICFLOW_[A-Z0-9_]+)`", cell)
        names.update(full)
        names.update(full[0].rsplit("_", 1)[0] + short for short in re.findall(r"`(_[A-Z0-9_]+)`", cell))
    return names


def test_every_setting_is_in_the_configuration_table_and_nothing_else():
    from bionicflow.kernel.config import ENV_PREFIX

    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    documented = _documented_variables()
    assert not fields - documented, f"add to docs/configuration.md's table: {sorted(fields - documented)}"
    assert not documented - fields, f"docs/configuration.md names settings that do not exist: {sorted(documented - fields)}"
