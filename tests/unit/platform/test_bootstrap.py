"""The one bootstrap step list: the CLI's run, the DAG's tasks and the stack's connections agree."""

from __future__ import annotations

import json

import pytest

from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import BionicflowError
from bionicflow.platform import bootstrap
from bionicflow.stack.airflow import connection_env


def test_the_cli_and_the_dag_read_the_same_deployment_mode(tmp_path):
    """The CLI's Bootstrap comes from the settings; the DAG's from `olap_db`, whose extra the stack writes from them."""
    settings = Settings(state_dir=tmp_path, cdc_schema_mode="kafka", kafka_broker_list="broker-a:9092,broker-b:9092")
    made = bootstrap.from_settings(settings)
    assert (made.mode, made.broker_list) == ("kafka", "broker-a:9092,broker-b:9092")
    assert made.kafka_bootstrap == f"{settings.host}:{settings.kafka_port}"
    assert made.connector_wait == bootstrap.CONNECTOR_WAIT_SECONDS
    extra = json.loads(connection_env(settings)["AIRFLOW_CONN_OLAP_DB"])["extra"]
    assert (extra["cdc_schema_mode"], extra["kafka_broker_list"]) == (made.mode, made.broker_list)


def test_an_unknown_schema_mode_is_refused_by_the_settings(tmp_path):
    with pytest.raises(ValueError, match="cdc_schema_mode"):
        Settings(state_dir=tmp_path, cdc_schema_mode="clickpipes")


def test_run_all_runs_every_step_once_in_order(monkeypatch):
    ran = []
    steps = tuple(bootstrap.Step(s.name, s.summary, lambda b, n=s.name: ran.append(n) or _result(n)) for s in bootstrap.STEPS)
    monkeypatch.setattr(bootstrap, "STEPS", steps)
    result = bootstrap.run_all(_nothing_reachable("olap"))
    assert ran == [s.name for s in steps]
    assert result.statements == 7 and result.warnings == ["w"] and result.changed_connectors == ["crm-connector"]


def test_a_wrong_initial_load_is_refused_before_anything_connects():
    with pytest.raises(BionicflowError, match="initial"):
        bootstrap.run_all(_nothing_reachable("fast"))


def _result(name: str):
    return {"create_schemas": {"statements": 7, "warnings": ["w"]}, "register_connectors": ["crm-connector"],
            "wait_running": {}, "verify_topics": [], "initial_copy": []}[name]


def _nothing_reachable(initial: str) -> bootstrap.Bootstrap:
    def unreachable(*_):
        raise AssertionError("a step connected")

    return bootstrap.Bootstrap(olap=unreachable, connect=unreachable, kafka_bootstrap="nowhere:1",
                               source_connection=unreachable, sources=unreachable, initial=initial)


class _Connect:
    """Kafka Connect holding the brief's connectors as registered from debezium/*.json."""

    def __init__(self, change: dict | None = None):
        from bionicflow.cdc.connectors import load_connectors

        self.configs = {s.name: {**s.config, **(change or {})} for s in load_connectors()}

    def statuses(self):
        return {name: {"state": "RUNNING", "tasks": []} for name in self.configs}

    def config(self, name):
        return self.configs[name]


def _with_kafka(monkeypatch, partitions: dict[str, int], change: dict | None = None) -> bootstrap.Bootstrap:
    monkeypatch.setattr(bootstrap, "topic_partitions", lambda servers: partitions)
    made = _nothing_reachable("debezium")
    made.connect = lambda: _Connect(change)
    return made


def test_registering_the_connectors_makes_no_topic(monkeypatch):
    """Before any data Kafka has no table topic, as in the brief: Connect makes each with its table's first change."""
    registered = []
    monkeypatch.setattr(bootstrap, "register", lambda connect, initial: registered.append(initial) or ["crm-connector"])
    monkeypatch.setattr(bootstrap, "topic_partitions", lambda servers: pytest.fail("the step looked at Kafka"))
    made = _nothing_reachable("debezium")
    made.connect = lambda: "Kafka Connect"
    assert bootstrap.register_connectors(made) == ["crm-connector"]
    assert registered == ["debezium"]
    assert "topic" not in bootstrap.step("register_connectors").summary.split("(")[0]


def test_verify_topics_passes_on_a_fresh_stack_without_table_topics(monkeypatch):
    made = _with_kafka(monkeypatch, {"crm.message": 1, "_connect_configs": 1})
    assert bootstrap.verify_topics(made) == {
        "present": [], "created_with_first_change": ["crm.public.users", "telemetry.public.telemetry_events"]}
    after_data = _with_kafka(monkeypatch, {"crm.public.users": 1, "telemetry.public.telemetry_events": 1})
    assert bootstrap.verify_topics(after_data)["created_with_first_change"] == []


def test_verify_topics_refuses_a_connector_connect_would_not_create_one_partition_topics_for(monkeypatch):
    from bionicflow.cdc.topics import TopicError

    made = _with_kafka(monkeypatch, {}, change={"topic.creation.default.partitions": "6"})
    with pytest.raises(TopicError, match="crm-connector: topic.creation.default.partitions='6'.*bionicflow cdc"):
        bootstrap.verify_topics(made)
    split = _with_kafka(monkeypatch, {"crm.public.users": 4})
    with pytest.raises(TopicError, match="crm.public.users has 4 partitions"):
        bootstrap.verify_topics(split)
