"""KafkaConnectClient against a scripted fake session: which answers are retried and which are not."""

from __future__ import annotations

import pytest
import requests

from bionicflow.cdc.connectors import ConnectError, ConnectRebalancing, KafkaConnectClient, trace_summary


class ScriptedSession:
    """Answers each request with the next (status, body) in the script and records the calls."""

    def __init__(self, script: list[tuple[int, str]]):
        self.script = list(script)
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, url: str, timeout: float, **kw) -> requests.Response:
        self.calls.append((method, url))
        status, body = self.script.pop(0)
        response = requests.Response()
        response.status_code, response._content = status, body.encode()
        return response


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(KafkaConnectClient._call.retry, "sleep", lambda seconds: None)


def test_a_rebalancing_worker_is_retried_until_it_answers():
    session = ScriptedSession([
        (500, '{"message":"Request cannot be completed because a rebalance is expected"}'),
        (409, '{"message":"Cannot complete request momentarily due to stale configuration"}'),
        (200, '{"name":"crm-connector","heartbeat.interval.ms":"9000"}'),
    ])
    config = KafkaConnectClient("http://connect:8083", session=session).config("crm-connector")
    assert config["heartbeat.interval.ms"] == "9000"
    assert len(session.calls) == 3


def test_a_missing_connector_is_none_not_an_error():
    session = ScriptedSession([(404, '{"message":"Connector crm-connector not found"}')])
    assert KafkaConnectClient("http://connect:8083", session=session).config("crm-connector") is None


def test_a_real_error_is_raised_at_once_with_the_server_message():
    session = ScriptedSession([(400, '{"message":"Connector configuration is invalid"}')])
    with pytest.raises(ConnectError, match="failed with 400.*configuration is invalid") as info:
        KafkaConnectClient("http://connect:8083", session=session).restart_failed("crm-connector")
    assert not isinstance(info.value, ConnectRebalancing)
    assert len(session.calls) == 1


def test_a_rebalance_that_never_ends_gives_up_with_a_message(monkeypatch):
    # the real limit is REBALANCE_RETRY_SECONDS of wall time; three attempts stand in for it here
    monkeypatch.setattr(KafkaConnectClient._call.retry, "stop", lambda state: state.attempt_number >= 3)
    client = KafkaConnectClient("http://connect:8083", session=ScriptedSession([(409, "rebalancing")] * 5))
    with pytest.raises(ConnectRebalancing, match="kept answering 409"):
        client.statuses()
    assert len(client.session.calls) == 3


def test_a_task_trace_keeps_the_exception_and_its_causes():
    trace = ("org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback\n"
             + "\tat org.apache.kafka.connect.runtime.Worker.run(Worker.java:1)\n" * 40
             + "Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 20000512 bytes\n"
             + "\tat org.apache.kafka.clients.producer.KafkaProducer.doSend(KafkaProducer.java:2)\n")
    assert trace_summary(trace) == (
        "org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback\n"
        "Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 20000512 bytes")
    assert trace_summary("") == ""
