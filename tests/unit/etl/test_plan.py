from datetime import datetime, timedelta, timezone

import pytest

from bionicflow.etl.load import load_sql, resolve_table
from bionicflow.kernel.sources import LoadError, PgSource
from bionicflow.etl.plan import DEFAULT_LOOKBACK, default_window, plan_load
from bionicflow.kernel import tables

START = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
END = START + timedelta(hours=1)


def test_the_default_mode_captures_changes_with_or_without_a_data_interval():
    for interval in ((START, END), (None, None)):  # scheduled, or triggered with logical_date null
        plan = plan_load({}, *interval)
        assert plan.mode == "incremental" and [t.name for t in plan.tables] == ["users", "telemetry_events"]
        assert plan.start is None and plan.end is None


def test_interval_mode_uses_the_data_interval_with_lookback():
    plan = plan_load({"mode": "interval"}, START, END)
    assert plan.mode == "window"
    assert plan.start == (START - DEFAULT_LOOKBACK).replace(tzinfo=None) and plan.end == END.replace(tzinfo=None)


def test_explicit_window_and_full_refresh():
    plan = plan_load({"mode": "window", "tables": ["users"], "window_start": "2025-01-01T00:00:00",
                      "window_end": "2025-02-01"}, None, None)
    assert (plan.start, plan.end, plan.tables[0].name) == (datetime(2025, 1, 1), datetime(2025, 2, 1), "users")
    assert plan_load({"mode": "full", "tables": "telemetry_events"}, None, None).mode == "full"


@pytest.mark.parametrize("now", [datetime(2026, 12, 7, 15, 30), datetime(2026, 12, 7, 15, 30, tzinfo=timezone.utc),
                                 datetime(2026, 12, 7, 23, 30, tzinfo=timezone(timedelta(hours=8)))])
def test_the_default_window_is_the_last_full_utc_day(now):
    assert default_window(now) == (datetime(2026, 12, 6), datetime(2026, 12, 7))


def test_default_window_at_midnight_is_the_day_that_just_ended():
    assert default_window(datetime(2026, 12, 7)) == (datetime(2026, 12, 6), datetime(2026, 12, 7))


@pytest.mark.parametrize("empty", [None, ""])
def test_a_window_run_without_either_end_loads_the_last_full_day(empty):
    """The backfill form's untouched window: where the newest data is, computed when the run starts."""
    now = datetime(2026, 12, 7, 0, 5, tzinfo=timezone.utc)
    plan = plan_load({"mode": "window", "window_start": empty, "window_end": empty}, None, None, now=now)
    assert (plan.mode, plan.start, plan.end) == ("window", datetime(2026, 12, 6), datetime(2026, 12, 7))
    explicit = plan_load({"mode": "window", "window_start": "2026-01-01", "window_end": "2026-02-01"}, None, None,
                         now=now)
    assert (explicit.start, explicit.end) == (datetime(2026, 1, 1), datetime(2026, 2, 1))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tables": ["orders"]}, "unknown table 'orders'"),
        ({"mode": "sometimes"}, "mode 'sometimes'"),
        ({"mode": "window", "window_start": "2025-02-01", "window_end": "2025-01-01"}, "not after its start"),
        ({"mode": "window", "window_start": "2025-02-01"}, "got only window_start: give both"),
        ({"mode": "window", "window_start": "", "window_end": "2025-02-01"}, "got only window_end: give both"),
        ({"mode": "window", "window_start": "yesterday", "window_end": "2025-01-01"}, "not an ISO date-time"),
        ({"mode": "window", "window_start": "2024-01-01", "window_end": "2025-02-05"}, "longer than 400 days"),
        ({"mode": "interval"}, "this run has none"),
    ],
)
def test_bad_params_fail_with_a_clear_message(params, message):
    with pytest.raises(LoadError, match=message):
        plan_load(params, *((None, None) if params.get("mode") == "interval" else (START, END)))


def test_load_sql_binds_every_value():
    sql = load_sql(resolve_table("users"), "users", windowed=True)
    assert "{password:String}" in sql and "{start:DateTime64(6)}" in sql and "{version:UInt64}" in sql
    secret = PgSource("h", 1, "crm_db", "u", "s3cr3t").password
    assert secret not in sql
    assert sql.startswith("INSERT INTO default.users (user_id, user_uuid, name, email, age, gender, country, "
                          "address, phone, registered_at, _version)")


def test_repair_mode_names_its_tables_and_needs_no_interval():
    plan = plan_load({"mode": "repair", "tables": ["users"]}, None, None)
    assert plan.mode == "repair" and [t.name for t in plan.tables] == ["users"]


def test_without_tables_a_run_loads_every_table_of_the_catalogue_and_names_them_when_one_is_unknown():
    from tests.support.catalogue import ADDED

    catalogue = [tables.USERS, tables.TELEMETRY_EVENTS, ADDED.table]
    assert [t.name for t in plan_load({}, None, None, catalogue).tables] == ["users", "telemetry_events", "lines"]
    assert [t.name for t in plan_load({"tables": ["lines"]}, None, None, catalogue).tables] == ["lines"]
    with pytest.raises(LoadError, match="unknown table 'orders': choose from users, telemetry_events, lines"):
        plan_load({"tables": ["orders"]}, None, None, catalogue)
