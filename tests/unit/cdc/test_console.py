"""The CDC console's logic without a stack: showing untrusted bytes, planning reads, reading without
committing (a fake consumer), connectors, lag, slots, the same-origin rule and the brief's URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from confluent_kafka import KafkaError

from bionicflow.cdc import console
from bionicflow.cdc.connectors import ConnectorSpec


def test_json_is_shown_as_text_and_pretty_and_bad_utf8_does_not_break_the_page():
    value = console.shown(b'{"payload": {"after": {"name": "Zo\xc3\xab"}}}')
    assert value.text == '{"payload": {"after": {"name": "Zoë"}}}' and value.size == 40 and not value.truncated
    assert json.loads(value.pretty) == {"payload": {"after": {"name": "Zoë"}}} and "\n  " in value.pretty
    broken = console.shown(b"\xff\xfeabc")
    assert broken.text == "\ufffd\ufffdabc" and broken.pretty is None
    assert console.shown(None).null and console.shown(b"42").pretty is None  # a bare number stays text
    envelope = console.shown(b'{"schema": {"type": "struct"}, "payload": {"after": {"id": 1}}}')
    assert envelope.pretty.index('"payload"') < envelope.pretty.index('"schema"')  # the row first
    assert envelope.text.index('"schema"') < envelope.text.index('"payload"')  # the text as it came


def test_a_huge_value_is_cut_with_its_size_and_not_parsed():
    huge = json.dumps({"address": "x" * 50_000}).encode()
    value = console.shown(huge, cap=1000)
    assert len(value.text) == 1000 and value.truncated and value.size == len(huge) and value.pretty is None


def _partitions(*marks):
    return tuple(console.PartitionInfo(n, low, high) for n, (low, high) in enumerate(marks))


def test_latest_reads_the_last_limit_of_each_partition_and_an_offset_reads_forward():
    parts = _partitions((0, 1000), (990, 995), (7, 7))
    assert console.plan_reads(parts, 100) == [console.Read(0, 900, 1000), console.Read(1, 990, 995),
                                              console.Read(2, 7, 7)]
    assert console.plan_reads(parts, 10, partition=0, offset=42) == [console.Read(0, 42, 52)]
    assert console.plan_reads(parts, 10, partition=1, offset=3) == [console.Read(1, 990, 995)]  # below low: low
    assert console.plan_reads(parts, 10, partition=0, offset=5000) == [console.Read(0, 1000, 1000)]  # past the end
    filtered = console.plan_reads(parts, 10, partition=0, filtering=True)
    assert filtered == [console.Read(0, 0, 1000)]  # a key filter looks further back (up to SCAN_LIMIT)


@pytest.mark.parametrize("kwargs, message", [
    ({"limit": 0}, "limit must be 1…500"), ({"limit": 501}, "limit must be 1…500"),
    ({"limit": 5, "offset": -1}, "offset must be 0 or more"), ({"limit": 5, "partition": 9}, "no partition 9"),
])
def test_bad_reads_say_what_is_accepted(kwargs, message):
    with pytest.raises(console.ConsoleError, match=message):
        console.plan_reads(_partitions((0, 10)), **kwargs)


class FakeMessage:
    def __init__(self, partition, offset, key=None, value=b"{}", error=None, headers=None, ts=1_765_000_000_000):
        self._p, self._o, self._k, self._v, self._e, self._h, self._ts = \
            partition, offset, key, value, error, headers, ts

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def key(self):
        return self._k

    def value(self):
        return self._v

    def error(self):
        return self._e

    def headers(self):
        return self._h

    def timestamp(self):
        return (1, self._ts)


class FakeConsumer:
    """Serves the assigned partitions' messages; records what the console did to it."""

    def __init__(self, log, stored):
        self.log, self.stored, self.queue = log, stored, []

    def __call__(self, config):
        self.log["config"] = config
        return self

    def assign(self, partitions):
        self.log["assigned"] = [(tp.topic, tp.partition, tp.offset) for tp in partitions]
        for tp in partitions:
            self.queue += [m for m in self.stored if m.partition() == tp.partition and m.offset() >= tp.offset]
            self.queue.append(FakeMessage(tp.partition, -1, error=KafkaError(KafkaError._PARTITION_EOF)))

    def consume(self, num_messages, timeout):
        batch, self.queue = self.queue[:num_messages], self.queue[num_messages:]
        return batch

    def commit(self, *args, **kwargs):
        raise AssertionError("the console must never commit")

    def subscribe(self, *args, **kwargs):
        raise AssertionError("the console must never join a group")

    def close(self):
        self.log["closed"] = True


def _read(stored, reads, limit, **kwargs):
    log: dict = {}
    topic = console.TopicInfo("crm.public.users", _partitions((0, 100), (0, 100)))
    page = console.read_messages("kafka:9092", topic, reads, limit, consumer_factory=FakeConsumer(log, stored),
                                 **kwargs)
    return page, log


def test_reading_assigns_explicit_offsets_in_a_throwaway_group_commits_nothing_and_closes():
    stored = [FakeMessage(p, o, key=f'{{"id": {p * 100 + o}}}'.encode(), ts=1_765_000_000_000 + o)
              for p in (0, 1) for o in range(95, 100)]
    page, log = _read(stored, [console.Read(0, 97, 100), console.Read(1, 95, 100)], limit=4)
    config = log["config"]
    assert config["group.id"].startswith(console.CONSOLE_GROUP_PREFIX) and config["enable.auto.commit"] is False
    assert config["enable.auto.offset.store"] is False
    assert log["assigned"] == [("crm.public.users", 0, 97), ("crm.public.users", 1, 95)] and log["closed"]
    assert page.complete and page.scanned == 8
    assert [(m.partition, m.offset) for m in page.messages] == [(0, 99), (1, 99), (0, 98), (1, 98)]  # newest first
    assert page.messages[0].key.text == '{"id": 99}' and page.messages[0].timestamp.tzinfo is UTC


def test_a_key_filter_keeps_matching_keys_only_and_from_an_offset_reads_in_order():
    stored = [FakeMessage(0, o, key=f'{{"id": {o}}}'.encode()) for o in range(10)] + [FakeMessage(0, 10, key=None)]
    page, _ = _read(stored, [console.Read(0, 0, 11)], limit=5, key_contains='"ID": 1', newest_first=False)
    assert [m.offset for m in page.messages] == [1] and page.scanned == 11  # case-insensitive, a null key never
    page, _ = _read(stored, [console.Read(0, 3, 6)], limit=2, newest_first=False)
    assert [m.offset for m in page.messages] == [3, 4]


def test_an_empty_range_opens_no_consumer():
    def never(config):
        raise AssertionError("no consumer for nothing to read")

    topic = console.TopicInfo("t", _partitions((5, 5)))
    assert console.read_messages("k:1", topic, [console.Read(0, 5, 5)], 10, consumer_factory=never).messages == []


def test_headers_and_timestamp_are_shown():
    view = console.message_view(FakeMessage(0, 7, key=b"k", headers=[("trace", b"abc"), ("empty", None)], ts=0))
    assert [(name, h.text, h.null) for name, h in view.headers] == [("trace", "abc", False), ("empty", "", True)]
    assert view.timestamp == datetime(1970, 1, 1, tzinfo=UTC)


CONNECT_DOC = {
    "crm-connector": {
        "status": {"name": "crm-connector", "connector": {"state": "RUNNING", "worker_id": "w1:8083"},
                   "tasks": [{"id": 1, "state": "FAILED", "worker_id": "w2:8083",
                              "trace": "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x.y\n"
                                       "Caused by: org.postgresql.util.PSQLException: slot in use\n\tat a.b"},
                             {"id": 0, "state": "RUNNING", "worker_id": "w1:8083"}], "type": "source"},
        "info": {"name": "crm-connector", "type": "source", "tasks": [],
                 "config": {"database.password": "${env:DEBEZIUM_PASSWORD}", "sasl.jaas.config": "secret!",
                            "topic.prefix": "crm"}},
    },
}


def test_connectors_show_each_task_with_worker_and_trace_and_mask_secrets():
    (view,) = console.connector_views(CONNECT_DOC)
    assert (view.name, view.type, view.state, view.worker, view.healthy) == (
        "crm-connector", "source", "RUNNING", "w1:8083", False)
    assert [(t.id, t.state, t.worker) for t in view.tasks] == [(0, "RUNNING", "w1:8083"), (1, "FAILED", "w2:8083")]
    failed = view.tasks[1]
    assert "\tat x.y" in failed.trace and failed.cause.splitlines() == [
        "org.apache.kafka.connect.errors.ConnectException: boom",
        "Caused by: org.postgresql.util.PSQLException: slot in use"]
    assert dict(view.config) == {"database.password": "${env:DEBEZIUM_PASSWORD}", "sasl.jaas.config": "****",
                                 "topic.prefix": "crm"}


class FakeConnect:
    def __init__(self):
        self.calls = []

    def _call(self, method, path, **kwargs):
        self.calls.append((method, path))
        return type("Answer", (), {"json": lambda self: CONNECT_DOC})()


def test_restart_posts_to_the_one_task_and_refuses_unknown_ones():
    client = FakeConnect()
    console.restart_task(client, "crm-connector", 1)  # type: ignore[arg-type]
    assert client.calls[-1] == ("POST", "/connectors/crm-connector/tasks/1/restart")
    with pytest.raises(console.ConsoleError, match="connector crm-connector has no task 7; tasks: 0, 1"):
        console.restart_task(client, "crm-connector", 7)  # type: ignore[arg-type]
    with pytest.raises(console.ConsoleError, match="no connector 'nope'; connectors: crm-connector"):
        console.restart_task(client, "nope", 0)  # type: ignore[arg-type]
    assert [c for c in client.calls if c[0] == "POST"] == [("POST", "/connectors/crm-connector/tasks/1/restart")]


def test_group_lag_is_next_offset_minus_committed_and_unknown_without_a_commit():
    (group,) = console.group_views([("clickhouse_crm_consumer", "STABLE")],
                                   {"clickhouse_crm_consumer": [("crm.public.users", 0, 90), ("t", 1, -1001)]},
                                   {("crm.public.users", 0): 100, ("t", 1): 5})
    assert [(p.topic, p.committed, p.high, p.lag) for p in group.partitions] == [
        ("crm.public.users", 90, 100, 10), ("t", None, 5, None)]
    assert group.lag == 10 and group.state == "STABLE"


def test_topics_count_messages_and_sizes_from_the_log_directory(tmp_path):
    (tmp_path / "crm.public.users-0").mkdir()
    (tmp_path / "crm.public.users-0" / "00000.log").write_bytes(b"x" * 300)
    (tmp_path / "crm.public.users-0" / "00000.index").write_bytes(b"x" * 10_485_760)  # preallocated: not data
    (tmp_path / "crm.public.users-0" / "00042.log").write_bytes(b"x" * 20)
    assert console.partition_size(tmp_path, "crm.public.users", 0) == 320
    assert console.partition_size(tmp_path, "crm.public.users", 1) is None
    assert console.partition_size(None, "t", 0) is None
    topic = console.TopicInfo("crm.public.users", (console.PartitionInfo(0, 10, 25, 320),))
    assert (topic.messages, topic.size_bytes, topic.internal) == (15, 320, False)
    assert console.TopicInfo("__consumer_offsets", (console.PartitionInfo(0, 0, 1, None),)).size_bytes is None
    assert console.find_topic([topic], "crm.public.users") is topic
    with pytest.raises(console.UnknownTopic, match="appears with its first change"):
        console.find_topic([topic], "telemetry.public.telemetry_events")


def test_topic_names_and_serdes_are_checked_and_topics_paged():
    assert console.check_topic_name("telemetry.public.telemetry_events")
    for bad in ("../etc", "a b", "", "x" * 250):
        with pytest.raises(console.ConsoleError, match="not a Kafka topic name"):
            console.check_topic_name(bad)
    assert console.check_serde("keySerde", None) == "String" and console.check_serde("valueSerde", "JSON") == "JSON"
    with pytest.raises(console.ConsoleError, match="String or JSON"):
        console.check_serde("valueSerde", "Avro")
    assert console.page_of(list(range(30)), 25, 2) == ([25, 26, 27, 28, 29], 2)
    with pytest.raises(console.ConsoleError, match="perPage"):
        console.page_of([], 0, 1)


def test_slots_name_their_connector_flag_missing_and_oversized_ones_and_list_strangers():
    specs = [ConnectorSpec("crm-connector", {"database.dbname": "crm_db"}, "crm_debezium_slot", "CRM_DB_PORT"),
             ConnectorSpec("telemetry-connector", {"database.dbname": "telemetry_db"}, "telemetry_debezium_slot",
                           "TELEMETRY_DB_PORT")]
    views = console.slot_views({"crm_debezium_slot": (5_000, True), "old_slot": (9_000, False)}, 8_000, specs)
    assert [(v.slot, v.connector, v.database, v.retained_bytes, v.active) for v in views] == [
        ("crm_debezium_slot", "crm-connector", "crm_db", 5_000, True),
        ("telemetry_debezium_slot", "telemetry-connector", "telemetry_db", None, None),
        ("old_slot", "", "?", 9_000, False)]
    assert views[0].problem == "" and views[1].problem.startswith("missing")
    assert "pg_drop_replication_slot('old_slot')" in views[2].problem


@pytest.mark.parametrize("headers, allowed", [
    ({"origin": "http://127.0.0.1:8080"}, True),
    ({"referer": "http://127.0.0.1:8080/cdc-console/connectors"}, True),
    ({"origin": "http://evil.example"}, False),
    ({"origin": "null"}, False),
    ({}, False),  # a cookie-authenticated POST that names no origin
    ({"authorization": "Bearer abc"}, True),  # an API client: no other site can attach its token
])
def test_a_restart_must_come_from_this_site_or_carry_a_token(headers, allowed):
    assert console.same_origin(headers, "127.0.0.1:8080") is allowed


def test_every_kafka_ui_address_of_the_brief_has_a_place_here():
    for step in console.BRIEF_STEPS:
        if "/ui/clusters/" in step.brief_url:
            path, _, query = step.brief_url.split("8084", 1)[1].partition("?")
            assert console.kafka_ui_path(path) + (f"?{query}" if query else "") == step.console_path
    assert console.kafka_ui_path("/ui/clusters/local/all-topics/crm.public.users/messages") == \
        "/topics/crm.public.users/messages"
    for bad in ("/ui/clusters/x/brokers", "/ui/clusters/x/all-topics/t/settings", "/ui/clusters/x/all-topics/a b"):
        with pytest.raises(console.ConsoleError):
            console.kafka_ui_path(bad)
