"""Report numbers against the same aggregates computed in plain Python from the rows."""

import math
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from bionicflow.reports import Period, UnknownUserError, compare_reports, overview, user_report
from bionicflow.reports import queries
from bionicflow.reports.build import UnknownSchemaError

from tests.support.report_data import NOW


def expected_user(data, user_uuid, period):
    rows = [e for e in data.events if e["user_uuid"] == user_uuid and e["id"] not in data.deleted_event_ids
            and period.start <= e["created_ts"] < period.end]
    amps = [e["signal_amplitude"] for e in rows]
    by_type, by_day = defaultdict(list), defaultdict(list)
    for e in rows:
        by_type[e["prosthesis_type"]].append(e)
        by_day[e["created_ts"].date().isoformat()].append(e["signal_amplitude"])
    return {
        "events_total": len(rows),
        "active_days": len(by_day),
        "amp": (sum(amps) / len(amps), min(amps), max(amps)) if amps else (None, None, None),
        "freq_avg": sum(e["signal_frequency"] for e in rows) / len(rows) if rows else None,
        "dur_total": sum(e["signal_duration"] for e in rows),
        "by_type": {k: len(v) for k, v in by_type.items()},
        "daily": {d: (len(v), sum(v) / len(v)) for d, v in by_day.items()},
    }


def close(a, b):
    return (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9)


PERIODS = [
    Period(NOW - timedelta(days=30), NOW),
    Period(NOW - timedelta(days=60, hours=1), NOW + timedelta(days=1)),
    Period(datetime(2020, 1, 1), datetime(2020, 2, 1)),  # no events at all
]


@pytest.mark.parametrize("schema", ["default", "debezium"])
@pytest.mark.parametrize("period", PERIODS, ids=["30d", "60d", "empty"])
@pytest.mark.parametrize("user_index", [0, 1, 4])  # user 5 (index 4) has no events
def test_user_report_equals_independent_aggregates(olap, dataset, schema, period, user_index):
    user = dataset.users[user_index]
    report = user_report(olap, schema, user["user_uuid"], period)
    want = expected_user(dataset, user["user_uuid"], period)
    assert report["profile"] == {"name": user["name"], "country": user["country"], "age": user["age"],
                                 "gender": user["gender"]}  # the current version, not the stale one
    assert report["events_total"] == want["events_total"]
    assert report["active_days"] == want["active_days"]
    amp = report["signal_amplitude"]
    assert all(close(got, exp) for got, exp in zip((amp["avg"], amp["min"], amp["max"]), want["amp"]))
    assert close(report["signal_frequency"]["avg"], want["freq_avg"])
    assert report["signal_duration"]["total"] == want["dur_total"]
    assert {e["prosthesis_type"]: e["events"] for e in report["by_prosthesis_type"]} == want["by_type"]
    assert {d["date"]: d["events"] for d in report["daily"]} == {k: v[0] for k, v in want["daily"].items()}
    assert all(close(d["avg_amplitude"], want["daily"][d["date"]][1]) for d in report["daily"])
    assert sum(m["events"] for m in report["by_muscle_group"]) == want["events_total"]


def test_freshness_is_the_newest_saved_event(olap, dataset):
    report = user_report(olap, "default", dataset.users[0]["user_uuid"], PERIODS[0])
    live = [e for e in dataset.events if e["id"] not in dataset.deleted_event_ids]
    assert report["freshness"]["max_saved_ts"] == max(e["saved_ts"] for e in live).isoformat()
    assert report["freshness"]["lag_seconds"] > 0


def test_unknown_user_and_schema(olap):
    with pytest.raises(UnknownUserError, match="not in default.users"):
        user_report(olap, "default", "00000000-0000-4000-8000-000000000099", PERIODS[0])
    with pytest.raises(UnknownSchemaError, match="default, debezium"):
        user_report(olap, "ops", "00000000-0000-4000-8000-000000000001", PERIODS[0])


def test_the_period_filter_sees_only_the_newest_version_of_an_event(olap, dataset):
    """The user filter may run before FINAL (it is in the sorting key); the period filter must not."""
    from tests.support.report_data import insert

    user = dataset.users[4]["user_uuid"]  # no events of its own
    columns = ["id", "event_uuid", "user_uuid", "prosthesis_type", "muscle_group", "signal_frequency",
               "signal_duration", "signal_amplitude", "created_ts", "saved_ts", "_op", "_version", "is_deleted"]
    inside, outside = NOW - timedelta(days=1), datetime(2001, 1, 1)
    row = lambda created, version, deleted: [9000, "e", user, "hand", "calf", 1, 1, 1.0, created, created,  # noqa: E731
                                             "u", version, deleted]
    for version in (row(inside, 1, 0), row(outside, 2, 0)):  # two inserts: two parts, merged only by FINAL
        insert(olap.session, "debezium.telemetry_events", columns, [version])
    try:
        assert user_report(olap, "debezium", user, PERIODS[0])["events_total"] == 0  # version 2 left the period
    finally:
        insert(olap.session, "debezium.telemetry_events", columns, [row(outside, 3, 1)])  # gone for the other tests
    assert user_report(olap, "debezium", user, PERIODS[1])["events_total"] == 0


def test_uuid_is_normalised_to_the_stored_form(olap, dataset):
    shouted = dataset.users[0]["user_uuid"].upper()
    assert user_report(olap, "debezium", shouted, PERIODS[0])["user_uuid"] == dataset.users[0]["user_uuid"]


@pytest.mark.parametrize("schema", ["default", "debezium"])
def test_overview_equals_independent_aggregates(olap, dataset, schema):
    period = PERIODS[1]
    rows = [e for e in dataset.events if e["id"] not in dataset.deleted_event_ids
            and period.start <= e["created_ts"] < period.end]
    report = overview(olap, schema, period, top=3)
    assert report["totals"]["events"] == len(rows)
    assert report["totals"]["users_with_events"] == len({e["user_uuid"] for e in rows})
    assert report["totals"]["users"] == len(dataset.users)
    country = {u["user_uuid"]: u["country"] or "unknown" for u in dataset.users}
    by_country = defaultdict(int)
    for e in rows:
        by_country[country[e["user_uuid"]]] += 1
    assert {c["country"]: c["events"] for c in report["by_country"]} == by_country
    per_user = defaultdict(int)
    for e in rows:
        per_user[e["user_uuid"]] += 1
    assert [u["events"] for u in report["top_users"]] == sorted(per_user.values(), reverse=True)[:3]
    assert {g["muscle_group"]: g["events"] for g in report["by_muscle_group"]} == {
        g: sum(1 for e in rows if e["muscle_group"] == g) for g in {e["muscle_group"] for e in rows}}


def test_both_schemas_agree_on_the_same_data(olap, dataset):
    period, user = PERIODS[1], dataset.users[0]["user_uuid"]
    result = compare_reports({s: user_report(olap, s, user, period) for s in ("default", "debezium")})
    assert result["identical"], result["differences"]
    result = compare_reports({s: overview(olap, s, period) for s in ("default", "debezium")})
    assert result["identical"], result["differences"]


def test_freshness_is_measured_again_unless_recent_enough_to_share(olap):
    from bionicflow.reports.build import freshness

    calls = []

    class Counting:
        def rows(self, sql, params, settings=None):
            calls.append(sql)
            return olap.rows(sql, params, settings)

    reader = Counting()
    first = freshness(reader, "debezium", max_age=60)
    assert freshness(reader, "debezium", max_age=60) == first and len(calls) == 1
    freshness(reader, "debezium")  # no max_age: always measured
    freshness(reader, "default", max_age=60)  # another schema: its own measurement
    assert calls.count(queries.FRESHNESS) == 3


def test_defaults_freshness_is_its_older_tables_last_batch_load(olap):
    from bionicflow.kernel.cursors import BATCH_LOADS_DDL
    from bionicflow.reports.build import last_batch_load

    olap.session.query("DROP TABLE IF EXISTS default.batch_loads")
    assert last_batch_load(olap) == {"last_load": None, "load_age_seconds": None}  # never loaded
    olap.session.query(BATCH_LOADS_DDL)
    olap.session.query("INSERT INTO default.batch_loads (table, loaded_at, mode, cursor_xid) VALUES "
                       "('users', now64(6) - INTERVAL 30 MINUTE, 'incremental', 7), "
                       "('telemetry_events', now64(6) - INTERVAL 2 MINUTE, 'incremental', 9), "
                       "('users', now64(6) - INTERVAL 90 MINUTE, 'full', 5)")
    loaded = last_batch_load(olap)
    # users' newest load (30 min ago) is the older table's: default is that far behind at most
    assert 30 * 60 <= loaded["load_age_seconds"] < 31 * 60, loaded
    olap.session.query("DROP TABLE default.batch_loads")


def test_a_read_the_olap_server_refused_while_a_view_was_remade_is_sent_again():
    from clickhouse_connect.driver.exceptions import DatabaseError

    from bionicflow.reports.reader import SENT_AGAIN, ClickHouseReader

    class Client:
        def __init__(self, refusals: int):
            self.refusals, self.calls = refusals, 0

        def query(self, sql, parameters, settings):
            self.calls += 1
            if self.calls <= self.refusals:
                raise DatabaseError("Code: 394. DB::Exception: a table or view changed while the statement was "
                                    "checked and started: nothing was sent; send it again. (QUERY_WAS_CANCELLED)")
            return type("Result", (), {"result_rows": [(1,)]})()

    client = Client(refusals=SENT_AGAIN - 1)
    assert ClickHouseReader(client).rows("SELECT 1", {}) == [(1,)] and client.calls == SENT_AGAIN
    with pytest.raises(DatabaseError, match="QUERY_WAS_CANCELLED"):
        ClickHouseReader(Client(refusals=SENT_AGAIN)).rows("SELECT 1", {})  # a catalogue that keeps moving: said
