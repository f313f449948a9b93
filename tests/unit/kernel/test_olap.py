"""The platform's ClickHouse clients: one clock for every statement they send."""

import clickhouse_connect

from bionicflow.kernel import olap


def test_every_platform_client_runs_its_statements_in_utc(monkeypatch):
    made = []
    monkeypatch.setattr(clickhouse_connect, "get_client", lambda **kwargs: made.append(kwargs))
    olap.connect("127.0.0.1", 8123, "u", "p")
    olap.connect("127.0.0.1", 8123, "u", "p", settings={"max_threads": 1, "session_timezone": "Europe/Paris"})
    assert made[0]["settings"] == {"session_timezone": "UTC"}
    # a caller's own settings are kept; one that names a zone on purpose keeps it
    assert made[1]["settings"] == {"session_timezone": "Europe/Paris", "max_threads": 1}
