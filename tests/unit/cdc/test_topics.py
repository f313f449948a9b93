"""Topics come with each table's first change: what the bootstrap's `verify_topics` refuses (pure part)."""

from __future__ import annotations

from bionicflow.cdc import topics
from bionicflow.cdc.source_connectors import COMMON_OPTIONS
from bionicflow.cdc.connectors import load_connectors

BRIEF = ["crm.public.users", "telemetry.public.telemetry_events"]


def _brief_configs() -> dict[str, dict]:
    return {spec.name: spec.config for spec in load_connectors()}


def test_every_platform_connector_has_connect_create_its_topics_with_one_partition():
    """The brief's JSON files and an added source's connector carry what Connect needs to create the topics."""
    assert topics.creation_problems({**_brief_configs(), "added-connector": COMMON_OPTIONS}, {}, BRIEF) == []


def test_before_any_data_missing_topics_are_no_problem_and_are_reported_as_coming():
    assert topics.creation_problems(_brief_configs(), {"crm.message": 1}, BRIEF) == []
    assert topics.split_by_presence({"crm.public.users": 1, "crm.message": 1}, BRIEF) == {
        "present": ["crm.public.users"], "created_with_first_change": ["telemetry.public.telemetry_events"]}


def test_a_connector_without_topic_creation_settings_is_refused_with_the_fix():
    configs = _brief_configs()
    configs["crm-connector"] = {k: v for k, v in configs["crm-connector"].items() if k != topics.PARTITIONS}
    configs["telemetry-connector"] = {**configs["telemetry-connector"], topics.PARTITIONS: "3"}
    problems = topics.creation_problems(configs, {}, BRIEF)
    assert len(problems) == 2 and all("bionicflow cdc bootstrap" in p for p in problems)
    assert problems[0].startswith("connector crm-connector: topic.creation.default.partitions=None")
    assert "'3'" in problems[1]
    no_replication = {"c": {**COMMON_OPTIONS, topics.REPLICATION: ""}}
    assert len(topics.creation_problems(no_replication, {}, BRIEF)) == 1


def test_connectors_of_another_class_are_not_the_platforms_to_judge():
    sink = {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "x"}
    assert topics.creation_problems({"someones-sink": sink}, {}, BRIEF) == []


def test_a_table_topic_with_more_than_one_partition_is_refused_other_topics_are_not_judged():
    problems = topics.creation_problems({}, {"crm.public.users": 3, "elsewhere": 6}, BRIEF)
    assert len(problems) == 1 and problems[0].startswith("topic crm.public.users has 3 partitions")
