from datetime import datetime, timedelta, timezone
from enum import Enum
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


# Airflow 3's cron schedules (`@daily`) give a run a zero-length data interval at its logical date
MIDNIGHT = datetime(2026, 12, 7, tzinfo=timezone.utc)
LATER = datetime(2026, 12, 7, 15, 30, tzinfo=timezone.utc)


def period(params=None, **run):
    return period_from_run(params or {}, 366, **{"run_type": "manual", "run_after": LATER} | run).as_dict()


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_a_run_of_the_schedule_reports_on_the_day_before_its_logical_date(run_type):
    zero_length = {"interval_start": MIDNIGHT, "interval_end": MIDNIGHT}
    assert period(run_type=run_type, run_after=MIDNIGHT, logical_date=MIDNIGHT, **zero_length) == {
        "from": "2026-12-06T00:00:00", "to": "2026-12-07T00:00:00"}
    # a backfill of an old date, started today: the day before that date, not before today
    old = datetime(2026, 11, 2, tzinfo=timezone.utc)
    assert period(run_type=run_type, run_after=LATER, logical_date=old) == {
        "from": "2026-11-01T00:00:00", "to": "2026-11-02T00:00:00"}


def test_a_schedule_with_data_intervals_reports_on_the_interval():
    start = datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert period(run_type="scheduled", logical_date=start, interval_start=start,
                  interval_end=datetime(2026, 11, 24, tzinfo=timezone.utc)) == {
        "from": "2026-11-23T00:00:00", "to": "2026-11-24T00:00:00"}


def test_the_day_before_is_taken_in_utc():
    """A logical date with an offset is still past midnight UTC of Dec 7."""
    tokyo = datetime(2026, 12, 7, 8, tzinfo=timezone(timedelta(hours=9)))  # 2026-12-06T23:00Z
    assert period(run_type="scheduled", logical_date=tokyo)["from"] == "2026-12-05T00:00:00"


@pytest.mark.parametrize("run_type", ["manual", "operator_triggered", "asset_triggered", "asset_materialization"])
def test_a_run_started_on_demand_reports_on_the_30_days_up_to_its_trigger(run_type):
    # the Trigger form, REST and `airflow dags trigger` send no logical date: no data interval either
    assert period(run_type=run_type) == {"from": "2026-11-07T15:30:00", "to": "2026-12-07T15:30:00"}
    # a logical date given does not turn it into a day of the schedule
    assert period(run_type=run_type, logical_date=MIDNIGHT, interval_start=MIDNIGHT,
                  interval_end=MIDNIGHT)["to"] == "2026-12-07T15:30:00"


def test_the_run_type_may_be_an_enum_as_airflow_gives_it():
    class DagRunType(str, Enum):  # Airflow's shape: str() of a member is "DagRunType.SCHEDULED" in Python 3.11
        SCHEDULED = "scheduled"

    assert period(run_type=DagRunType.SCHEDULED, logical_date=MIDNIGHT)["from"] == "2026-12-06T00:00:00"


@pytest.mark.parametrize("run_type", ["scheduled", "backfill", "manual"])
def test_params_win_over_every_run_type(run_type):
    assert period({"from": "2026-11-01", "to": "2026-11-30"}, run_type=run_type, logical_date=MIDNIGHT) == {
        "from": "2026-11-01T00:00:00", "to": "2026-12-01T00:00:00"}
    # `from` alone ends at the run's trigger time
    assert period({"from": "2026-12-01"}, run_type=run_type, logical_date=MIDNIGHT)["to"] == "2026-12-07T15:30:00"
    with pytest.raises(PeriodError, match="inverted"):
        period({"from": "2026-11-30", "to": "2026-11-01"}, run_type=run_type)
