from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bionicflow.reports import PeriodError
from bionicflow.reports.store import period_from_run, user_differences


class FakeClient:
    """Stored user reports per schema, answered as clickhouse-connect would."""

    def __init__(self, stored: dict[str, list[tuple]]):
        self.stored = stored

    def query(self, sql, parameters):
        return SimpleNamespace(result_rows=self.stored[parameters["schema_name"]])


def test_differences_name_the_user_and_field():
    same = ("u1", 3, 2, 1.0, 0.5, 1.5, 100.0, 10.0, 30)
    client = FakeClient({
        "default": [same, ("u2", 1, 1, 2.0, 2.0, 2.0, 50.0, 5.0, 5), ("u3", 1, 1, 1.0, 1.0, 1.0, 1.0, 1.0, 1)],
        "debezium": [same, ("u2", 2, 1, 2.0, 2.0, 2.0, 50.0, 5.0, 5)],
    })
    rows = user_differences(client, "run")
    assert rows == [["run", "user", "u2", "events_total", "1", "2"],
                    ["run", "user", "u3", "(report)", "present", "absent"]]


def test_period_of_a_run():
    start = datetime(2026, 11, 23, tzinfo=timezone.utc)
    end = datetime(2026, 11, 24, tzinfo=timezone.utc)
    assert period_from_run({}, start, end, 366).as_dict() == {"from": "2026-11-23T00:00:00", "to": "2026-11-24T00:00:00"}
    explicit = period_from_run({"from": "2026-11-01", "to": "2026-11-30"}, start, end, 366)
    assert explicit.as_dict() == {"from": "2026-11-01T00:00:00", "to": "2026-12-01T00:00:00"}
    with pytest.raises(PeriodError, match="inverted"):
        period_from_run({"from": "2026-11-30", "to": "2026-11-01"}, start, end, 366)
