"""Report snapshots on a real engine (chdb): the same report as the tables, never an outdated one.

Every write the product makes to a schema must leave the user's report as the tables say:
inserts through the marking views, deletes and table swaps through `marking` / `mark_all`.
"""

import math
from datetime import datetime, timedelta

import chdb
import pytest

from bionicflow.kernel import snapshot_marks as marks
from bionicflow.reports import snapshots as snap
from bionicflow.reports import ChdbReader, Period, UnknownUserError, user_report
from tests.support.chdb_engine import ChdbClient, as_served
from tests.support.report_data import NOW, load, make_dataset

PERIODS = [Period(NOW - timedelta(days=30), NOW), Period(NOW - timedelta(days=3, hours=5), NOW - timedelta(hours=7)),
           Period(datetime(2020, 1, 1), datetime(2020, 1, 2))]
SCHEMAS = ("default", "debezium")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    conn = as_served(chdb.connect(str(tmp_path_factory.mktemp("snapshots-chdb"))))
    data = make_dataset(seed=11)
    load(conn, data)
    yield conn, ChdbClient(conn), ChdbReader(conn), data
    conn.close()


def comparable(report: dict) -> dict:
    """The report without what differs between two builds of it: when, and from what."""
    return {k: v for k, v in report.items() if k not in ("computed_from", "generated_at", "freshness")}


def same(a, b) -> bool:
    """Equal, floats up to summation order (the engine and Python may add a group's values in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def reports(reader, users, schema) -> dict:
    return {(u, p): user_report(reader, schema, u, p) for u in users for p in PERIODS}


def insert_event(conn, schema: str, event_id: int, user_uuid: str, created: datetime, amplitude: float = 9.5) -> None:
    meta, values = ("_version", "10") if schema == "default" else ("_version, is_deleted", "10, 0")
    conn.query(f"INSERT INTO {schema}.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, muscle_group, "
               f"signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, {meta}) VALUES "
               f"({event_id}, 'e{event_id}', '{user_uuid}', 'hand', 'biceps', 100, 10, {amplitude}, "
               f"'{created:%Y-%m-%d %H:%M:%S.%f}', now64(6), {values})")


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_built_snapshot_gives_the_report_the_tables_give(engine, schema):
    conn, olap, reader, data = engine
    users = [u["user_uuid"] for u in data.users]
    from_tables = reports(reader, users, schema)
    assert {r["computed_from"] for r in from_tables.values()} == {"tables"}, "every user was marked by the load"
    assert snap.refresh(olap, schema, settle_seconds=0) == 0  # chdb's client gives no summary: 0 rows reported
    from_snapshots = reports(reader, users, schema)
    assert {r["computed_from"] for r in from_snapshots.values()} == {"snapshot"}
    assert from_snapshots.keys() == from_tables.keys()
    for key, report in from_snapshots.items():
        assert same(comparable(report), comparable(from_tables[key])), f"{key}: {report} != {from_tables[key]}"
    assert any(r["events_total"] for r in from_snapshots.values()), "the comparison covered events"


@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_inserted_event_takes_its_user_off_the_snapshot_until_the_next_build(engine, schema):
    conn, olap, reader, data = engine
    user, other = data.users[0]["user_uuid"], data.users[1]["user_uuid"]
    snap.refresh(olap, schema, settle_seconds=0)
    period = PERIODS[0]
    before = user_report(reader, schema, user, period)
    insert_event(conn, schema, 90_001, user, NOW - timedelta(hours=1))
    after = user_report(reader, schema, user, period)
    assert after["computed_from"] == "tables" and after["events_total"] == before["events_total"] + 1
    assert user_report(reader, schema, other, period)["computed_from"] == "snapshot", "only the user's row is stale"
    snap.refresh(olap, schema, settle_seconds=3600)
    assert user_report(reader, schema, user, period)["computed_from"] == "tables", \
        "a mark younger than the settle time is not built over"
    snap.refresh(olap, schema, settle_seconds=0)
    rebuilt = user_report(reader, schema, user, period)
    assert rebuilt["computed_from"] == "snapshot" and same(comparable(rebuilt), comparable(after))


def test_a_delete_inside_marking_is_never_hidden_by_a_snapshot(engine):
    conn, olap, reader, data = engine
    snap.refresh(olap, "default", settle_seconds=0)
    user = data.users[2]["user_uuid"]
    before = user_report(reader, "default", user, PERIODS[0])
    assert before["computed_from"] == "snapshot" and before["events_total"] > 0
    condition = "user_uuid = {u:String}"
    with marks.marking(olap, "default", "telemetry_events", condition, {"u": user}):
        conn.query("DELETE FROM default.telemetry_events WHERE user_uuid = {u:String}", params={"u": user})
        assert user_report(reader, "default", user, PERIODS[0])["computed_from"] == "tables"
    after = user_report(reader, "default", user, PERIODS[0])
    assert after["computed_from"] == "tables" and after["events_total"] == 0
    snap.refresh(olap, "default", settle_seconds=0)
    rebuilt = user_report(reader, "default", user, PERIODS[0])
    assert rebuilt["computed_from"] == "snapshot" and rebuilt["events_total"] == 0


def test_a_table_swap_between_two_mark_alls_is_never_hidden_by_a_snapshot(engine):
    conn, olap, reader, data = engine
    snap.refresh(olap, "default", settle_seconds=0)
    user = data.users[3]["user_uuid"]
    conn.query("CREATE TABLE default.telemetry_events__swap AS default.telemetry_events")
    conn.query("INSERT INTO default.telemetry_events__swap SELECT * FROM default.telemetry_events "
               "WHERE user_uuid != {u:String}", params={"u": user})  # the swapped-in copy: the user's events gone
    marks.mark_all(olap, "default")
    conn.query("EXCHANGE TABLES default.telemetry_events AND default.telemetry_events__swap")
    marks.mark_all(olap, "default")
    conn.query("DROP TABLE default.telemetry_events__swap")
    assert user_report(reader, "default", user, PERIODS[0])["events_total"] == 0
    snap.refresh(olap, "default", settle_seconds=0)
    rebuilt = user_report(reader, "default", user, PERIODS[0])
    assert rebuilt["computed_from"] == "snapshot" and rebuilt["events_total"] == 0


def test_a_user_with_more_events_than_a_snapshot_holds_is_read_from_the_tables(engine):
    conn, olap, reader, data = engine
    user = data.users[1]["user_uuid"]
    conn.query("INSERT INTO debezium.users SELECT * FROM debezium.users WHERE user_uuid = {u:String}",
               params={"u": user})  # marks the user again
    snap.refresh(olap, "debezium", settle_seconds=0, max_events=1)
    report = user_report(reader, "debezium", user, PERIODS[0])
    assert report["events_total"] > 1 and report["computed_from"] == "tables"


def test_events_of_a_user_not_in_users_still_answer_unknown_user(engine):
    conn, olap, reader, data = engine
    insert_event(conn, "debezium", 90_002, "00000000-0000-4000-8000-999999999999", NOW - timedelta(hours=2))
    snap.refresh(olap, "debezium", settle_seconds=0)
    rows = reader.rows(snap.READ, {"schema": "debezium", "user_uuid": "00000000-0000-4000-8000-999999999999"})
    assert snap.current(rows) is not None, "the user has a snapshot (events, no profile)"
    with pytest.raises(UnknownUserError):
        user_report(reader, "debezium", "00000000-0000-4000-8000-999999999999", PERIODS[0])


def test_the_newest_row_decides_and_only_a_built_one_is_used():
    built = '[1, "n", null, 3, null, [1000000], ["hand"], ["calf"], [0.5], [10], [20]]'
    assert snap.current([]) is None
    assert snap.current([(5, marks.BUILT, built), (6, marks.STALE, "")]) is None
    assert snap.current([(7, marks.BUILT, built), (6, marks.STALE, "")]).profile == \
        {"name": "n", "country": None, "age": 3, "gender": None}
    assert snap.current([(9, marks.LIVE_ONLY, ""), (7, marks.BUILT, built)]) is None
    found = snap.current([(7, marks.BUILT, built)])
    assert [e.created_us for e in found.in_period(datetime(1970, 1, 1, 0, 0, 1), datetime(1970, 1, 1, 0, 0, 2))] == \
        [1_000_000], "the start is inclusive"
    assert found.in_period(datetime(1970, 1, 1), datetime(1970, 1, 1, 0, 0, 1)) == [], "the end is exclusive"


def test_a_schema_without_the_snapshot_table_is_reported_from_its_tables(engine):
    from bionicflow.reports import build

    conn, _olap, reader, data = engine
    conn.query(f"RENAME TABLE default.{marks.TABLE} TO default.{marks.TABLE}__away")  # as before an upgrade
    try:
        report = user_report(reader, "default", data.users[0]["user_uuid"], PERIODS[0])
        assert report["computed_from"] == "tables" and report["profile"]["name"] == "user 1"
        assert "default" in build._no_snapshot_table_until, "the missing table is remembered, not asked for per report"
    finally:
        conn.query(f"RENAME TABLE default.{marks.TABLE}__away TO default.{marks.TABLE}")
        build._no_snapshot_table_until.clear()


def test_reading_a_snapshot_reads_one_granule_not_the_table(engine):
    from tests.support.report_data import estimated_rows

    conn = engine[0]
    rows, granule = 20_000, 256
    conn.query("CREATE DATABASE IF NOT EXISTS granules")
    conn.query(marks.table_ddl("default").replace(f"default.{marks.TABLE}", f"granules.{marks.TABLE}"))
    try:
        conn.query(f"INSERT INTO granules.{marks.TABLE} SELECT concat('user-', toString(number)), {marks.BUILT}, '[]', 1 "
                   f"FROM numbers({rows})")
        read = estimated_rows(conn, snap.READ, {"schema": "granules", "user_uuid": "user-4321"})
        assert read[f"granules.{marks.TABLE}"] <= 2 * granule, \
            f"reads {read} of {rows} rows: the sorting key's hash did not find the user's granule"
        assert conn.query(snap.READ, "CSV", params={"schema": "granules", "user_uuid": "user-4321"}).bytes() \
            .decode().strip() == f'1,{marks.BUILT},"[]"', "the user's one row is found"
    finally:
        conn.query("DROP DATABASE granules")


def test_rebuilding_everyone_leaves_one_part_and_keeps_a_recent_mark(engine):
    conn, olap, reader, data = engine
    user, other = data.users[2]["user_uuid"], data.users[3]["user_uuid"]
    snap.refresh(olap, "default", settle_seconds=0)
    insert_event(conn, "default", 90_101, user, NOW - timedelta(hours=2))  # marked now: younger than the settle time
    snap.refresh(olap, "default", settle_seconds=3600, everyone=True)
    parts = snap.active_parts(olap, "default")
    assert parts == 1, f"{parts} active parts after a full rebuild: a report reads a granule from each"
    assert user_report(reader, "default", user, PERIODS[0])["computed_from"] == "tables", \
        "the merge kept the mark younger than the settle time"
    assert user_report(reader, "default", other, PERIODS[0])["computed_from"] == "snapshot"


def test_a_build_and_a_merge_during_a_slow_delete_still_leave_its_user_stale(engine):
    """A DELETE slower than the settle time: a build reads the rows it is deleting, a merge folds the first
    mark into the built row; the mark after the DELETE must still find the user (by name, not by its mark)."""
    conn, olap, reader, data = engine
    snap.refresh(olap, "default", settle_seconds=0)
    user = data.users[1]["user_uuid"]
    assert user_report(reader, "default", user, PERIODS[0])["events_total"] > 0
    with marks.marking(olap, "default", "telemetry_events", "user_uuid = {u:String}", {"u": user}):
        # still before the DELETE takes effect: a build over the marked user, then OPTIMIZE FINAL
        snap.refresh(olap, "default", settle_seconds=0)
        snap.merge(olap, "default")
        rows = reader.rows(snap.READ, {"schema": "default", "user_uuid": user})
        assert len(rows) == 1 and rows[0][1] == marks.BUILT, "the merge did not fold the mark into the build"
        conn.query("DELETE FROM default.telemetry_events WHERE user_uuid = {u:String}", params={"u": user})
    after = user_report(reader, "default", user, PERIODS[0])
    assert (after["computed_from"], after["events_total"]) == ("tables", 0), \
        "the snapshot built before the DELETE still answers: its user was not marked again"
    snap.refresh(olap, "default", settle_seconds=0)
    rebuilt = user_report(reader, "default", user, PERIODS[0])
    assert (rebuilt["computed_from"], rebuilt["events_total"]) == ("snapshot", 0)


# An event at each edge of what a DateTime64(6) holds, a day before 1970 and after 2149 (where `toDate`
# wraps), and amplitudes whose sign or sum only floating point keeps: (created, amplitude, expected day).
EDGE_EVENTS = [
    (datetime(1900, 1, 1), 1.5, "1900-01-01"),
    (datetime(1969, 7, 20, 20, 17, 40), 2.0, "1969-07-20"),
    (datetime(1969, 12, 31, 23, 59, 59, 999_999), 3.0, "1969-12-31"),
    (datetime(1970, 1, 1), 4.0, "1970-01-01"),
    (datetime(2150, 1, 1), 5.0, "2150-01-01"),
    (datetime(2299, 12, 31, 12), 6.0, "2299-12-31"),
    (datetime(2026, 11, 18, 10), -0.0, "2026-11-18"),  # alone on its day: min, max and average -0.0
    (datetime(2026, 11, 19, 10), 1e20, "2026-11-19"),  # 1e20 + 1 - 1e20 is 0.0 in IEEE order, not 1
    (datetime(2026, 11, 19, 11), 1.0, "2026-11-19"),
    (datetime(2026, 11, 19, 12), -1e20, "2026-11-19"),
]
NEGATIVE_ZERO_DAY = Period(datetime(2026, 11, 18), datetime(2026, 11, 19))
CANCELLING_DAY = Period(datetime(2026, 11, 19), datetime(2026, 11, 20))
EDGE_PERIODS = [Period(datetime(1900, 1, 1), datetime(1900, 1, 2)), Period(datetime(1969, 7, 1), datetime(1970, 1, 2)),
                Period(datetime(2149, 12, 31), datetime(2150, 1, 2)),
                Period(datetime(2299, 6, 1), datetime(2299, 12, 31, 23, 59, 59, 999_999)),
                NEGATIVE_ZERO_DAY, CANCELLING_DAY, Period(NOW - timedelta(days=5), NOW)]


@pytest.fixture(scope="module")
def edge_user(engine):
    conn, _olap, _reader, data = engine
    user = data.users[4]["user_uuid"]  # no events of the dataset's own
    for schema in SCHEMAS:
        for n, (created, amplitude, _day) in enumerate(EDGE_EVENTS):
            conn.query(f"INSERT INTO {schema}.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, "
                       f"muscle_group, signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, "
                       f"_version{', is_deleted' if schema == 'debezium' else ''}) VALUES "
                       f"({91_000 + n}, 'edge{n}', '{user}', 'hand', 'biceps', 100, 10, {amplitude!r}, "
                       f"'{created.isoformat(sep=' ', timespec='microseconds')}', now64(6), 10"
                       f"{', 0' if schema == 'debezium' else ''})")
    return user


def edge_reports(reader, user, schema) -> dict:
    return {p: user_report(reader, schema, user, p) for p in EDGE_PERIODS}


@pytest.mark.parametrize("schema", SCHEMAS)
def test_days_before_1970_and_after_2149_and_float_edges_are_the_same_on_both_paths(engine, edge_user, schema):
    _conn, olap, reader, _data = engine
    olap.command(marks.mark_where_sql(schema, "telemetry_events", "user_uuid = {u:String}"), parameters={"u": edge_user})
    from_tables = edge_reports(reader, edge_user, schema)
    assert {r["computed_from"] for r in from_tables.values()} == {"tables"}
    snap.refresh(olap, schema, settle_seconds=0)
    from_snapshot = edge_reports(reader, edge_user, schema)
    assert {r["computed_from"] for r in from_snapshot.values()} == {"snapshot"}
    for period in EDGE_PERIODS:  # exactly: the same cells, added in the same order
        assert repr(comparable(from_snapshot[period])) == repr(comparable(from_tables[period])), period
    days = {d["date"] for r in from_tables.values() for d in r["daily"]}
    assert days == {day for _c, _a, day in EDGE_EVENTS}, f"days bucketed wrongly: {sorted(days)}"
    assert from_tables[EDGE_PERIODS[1]]["active_days"] == 3, "1969-12-31 23:59:59.999999 is not on 1970-01-01"
    for report in (from_tables, from_snapshot):
        amplitude = report[NEGATIVE_ZERO_DAY]["signal_amplitude"]
        # min and max keep the sign; a sum starts from +0.0 in the engine as in PostgreSQL, so the average is 0.0
        assert [math.copysign(1.0, amplitude[k]) for k in ("min", "max", "avg")] == [-1.0, -1.0, 1.0], amplitude
        assert report[CANCELLING_DAY]["signal_amplitude"]["avg"] == 0.0, "summed exactly, not as IEEE doubles"


@pytest.mark.parametrize("schema", SCHEMAS)
def test_reports_keep_utc_days_whatever_zone_the_engine_runs_in(engine, schema):
    conn, olap, reader, data = engine
    users = [u["user_uuid"] for u in data.users[:4]]
    snap.refresh(olap, schema, settle_seconds=0)
    in_utc = reports(reader, users, schema)
    conn.query("SET session_timezone = 'Asia/Kolkata'")  # as an engine on a host in India
    try:
        from_snapshot = reports(reader, users, schema)
        marks.mark_all(olap, schema)
        from_tables = reports(reader, users, schema)
    finally:
        conn.query("SET session_timezone = 'UTC'")
    assert {r["computed_from"] for r in from_tables.values()} == {"tables"}
    for key in in_utc:
        assert same(comparable(from_snapshot[key]), comparable(in_utc[key])), key
        assert same(comparable(from_tables[key]), comparable(in_utc[key])), \
            f"{key}: the tables path bucketed days in the engine's zone: {from_tables[key]['daily']}"
    assert any(r["daily"] for r in in_utc.values())


@pytest.mark.parametrize("limit, per_mark", [(10, 1), (1, 1000)])  # names in several statements; too many: everyone
def test_a_delete_of_several_users_marks_each_of_them_after_it(engine, monkeypatch, limit, per_mark):
    conn, olap, reader, data = engine
    monkeypatch.setattr(marks, "CAPTURED_USERS_LIMIT", limit)
    monkeypatch.setattr(marks, "USERS_PER_MARK", per_mark)
    users = [u["user_uuid"] for u in data.users[2:4]]
    snap.refresh(olap, "debezium", settle_seconds=0)
    with marks.marking(olap, "debezium", "users", "user_uuid IN {u:Array(String)}", {"u": users}):
        snap.refresh(olap, "debezium", settle_seconds=0)
        snap.merge(olap, "debezium")  # the first marks folded into the builds: only the names can find them
    for user in users:
        rows = reader.rows(snap.READ, {"schema": "debezium", "user_uuid": user})
        assert max(rows)[1] == marks.STALE, f"{user} was not marked after the write"
