"""One question, one answer: random users and periods asked through every report path and PostgreSQL.

Generated events sit at the edges where the paths used to part: days before 1970 and after
2149, the first and last days a DateTime64(6) holds, a lone -0.0, whole amplitudes that cancel
(1e20, 1, -1e20 in one cell), periods one microsecond wide or ending a microsecond before an
event. Every report is asked from the tables and from the snapshot of both schemas; any
difference between those four fails, and each is held against PostgreSQL's own aggregates.
The seed is printed (set BIONICFLOW_TEST_SEED to replay a failure).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from datetime import datetime, timedelta

import requests

from bionicflow.kernel import snapshot_marks
from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
from bionicflow.reports import snapshots as report_snapshots
from tests.support.rows import olap_admin, pg, wait_converged
from tests.support.stack import run_ok, token

SCHEMAS = ("default", "debezium")
EDGE_TIMES = [datetime(1900, 1, 1), datetime(1969, 7, 20, 20, 17, 40), datetime(1969, 12, 31, 23, 59, 59, 999_999),
              datetime(1970, 1, 1), datetime(2149, 6, 6, 6, 6, 6), datetime(2150, 1, 1),
              datetime(2299, 12, 31, 12)]
CANCELLING = (1e20, 1.0, -1e20)  # in this order in one cell: 0.0 in IEEE arithmetic, 1 exactly
PERIODS_PER_USER = 8
NEGATIVE_ZERO_DAY = (datetime(2100, 3, 3), datetime(2100, 3, 4))
CANCELLING_DAY = (datetime(2222, 2, 2), datetime(2222, 2, 3))


def _amplitude(rng: random.Random) -> float:
    # multiples of 1/256 below 4096: any order of adding a few dozen gives the same double, so PostgreSQL's
    # average (its own order) must equal ours exactly
    return rng.randrange(-2**20, 2**20) / 256


def _make_events(rng: random.Random, user: str) -> list[tuple]:
    """(user, created, amplitude) rows: edge instants, random far-off ones, a lone -0.0, the cancelling triple."""
    times = rng.sample(EDGE_TIMES, 4) + [datetime(rng.choice((1905, 1950, 2160, 2250)), rng.randrange(1, 13),
                                                  rng.randrange(1, 29), rng.randrange(24), rng.randrange(60),
                                                  rng.randrange(60), rng.randrange(10**6)) for _ in range(6)]
    rows = [(user, t, _amplitude(rng)) for t in times]
    rows.append((user, NEGATIVE_ZERO_DAY[0] + timedelta(hours=3), -0.0))
    day = CANCELLING_DAY[0] + timedelta(hours=10)
    rows += [(user, day + timedelta(minutes=n), a) for n, a in enumerate(CANCELLING)]
    return rows


def _periods(rng: random.Random, events: list[tuple]) -> list[tuple[datetime, datetime]]:
    """Periods around the user's events: one microsecond wide, ending just before one, a day, up to 366 days."""
    out = []
    for _ in range(PERIODS_PER_USER):
        t = rng.choice(events)[1]
        kind = rng.randrange(4)
        if kind == 0:
            out.append((t, t + timedelta(microseconds=1)))
        elif kind == 1:
            out.append((t - timedelta(days=rng.randrange(1, 30)), t))  # the event itself excluded
        elif kind == 2:
            midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
            out.append((midnight, midnight + timedelta(days=1)))
        else:
            start = t - timedelta(days=rng.randrange(0, 200), microseconds=rng.randrange(10**6))
            out.append((start, start + timedelta(days=rng.randrange(1, 367))))
    out = [(max(a, datetime(1900, 1, 1)), min(b, datetime(2299, 12, 31, 23, 59, 59, 999_999))) for a, b in out]
    out += [NEGATIVE_ZERO_DAY, CANCELLING_DAY]
    return [(a, b) for a, b in out if a < b and b - a <= timedelta(days=366)]


def _source_answer(stack, user: str, start: datetime, end: datetime) -> dict:
    conn = pg(stack, "telemetry_db")
    try:
        with conn.cursor() as cur:
            where = "user_uuid = %s AND created_ts >= %s AND created_ts < %s"
            cur.execute(f"SELECT count(*), min(signal_amplitude), max(signal_amplitude), avg(signal_amplitude), "
                        f"bool_or(signal_amplitude IN (1e20, -1e20)) FROM telemetry_events WHERE {where}",
                        (user, start, end))
            events, low, high, mean, cancelling = cur.fetchone()
            cur.execute(f"SELECT created_ts::date::text, count(*) FROM telemetry_events WHERE {where} GROUP BY 1",
                        (user, start, end))
            daily = dict(cur.fetchall())
    finally:
        conn.close()
    return {"events": events, "min": low, "max": high, "avg": mean, "cancelling": bool(cancelling), "daily": daily}


def _report(stack, schema: str, user: str, start: datetime, end: datetime) -> dict:
    response = requests.get(f"http://{stack.host}:{stack.reports_api_port}/reports", timeout=60,
                            headers={"Authorization": f"Bearer {token('analyst')}"},
                            params={"schema": schema, "user_uuid": user, "from": start.isoformat() + "Z",
                                    "to": end.isoformat() + "Z"})
    assert response.status_code == 200, response.text
    return response.json()


def _answer(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("computed_from", "generated_at", "freshness", "schema")}


def _same_as_source(report: dict, source: dict) -> list[str]:
    """What differs between a report and PostgreSQL's aggregates of the same rows."""
    amplitude = report["signal_amplitude"]
    diffs = []
    daily = {d["date"]: d["events"] for d in report["daily"]}
    if (report["events_total"], daily) != (source["events"], source["daily"]):
        diffs.append(f"events {report['events_total']} by day {daily} != {source['events']} {source['daily']}")
    for name in ("min", "max"):  # repr: -0.0 and 0.0 differ
        if repr(amplitude[name]) != repr(source[name]):
            diffs.append(f"{name} {amplitude[name]!r} != {source[name]!r}")
    # PostgreSQL adds in its own order: exactly comparable when no cancelling whole amplitudes are in the period
    if not source["cancelling"] and repr(amplitude["avg"]) != repr(source["avg"]):
        diffs.append(f"avg {amplitude['avg']!r} != {source['avg']!r}")
    return diffs


def test_random_users_and_periods_get_one_answer_from_every_path_and_the_source(stack, report_data, airflow):
    seed = int(os.environ.get("BIONICFLOW_TEST_SEED") or random.randrange(2**32))
    print(f"BIONICFLOW_TEST_SEED={seed}")
    rng = random.Random(seed)
    users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3)]
    events = [row for user in users for row in _make_events(rng, user)]
    crm, telemetry = pg(stack, "crm_db"), pg(stack, "telemetry_db")
    with crm.cursor() as cur:
        for n, user in enumerate(users):
            cur.execute("INSERT INTO users (user_uuid, name, email) VALUES (%s, %s, %s)",
                        (user, f"Edge {n}", f"edge{n}@example.org"))
    with telemetry.cursor() as cur:  # one statement, in list order: the cancelling triple keeps its order
        cur.execute("INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
                    "signal_duration, signal_amplitude, created_ts) SELECT u, 'arm', 'biceps', 100, 10, a::float8, c "
                    "FROM unnest(%s::uuid[], %s::text[], %s::timestamp[]) WITH ORDINALITY AS t(u, a, c, n) "
                    "ORDER BY n",  # amplitudes as text: a literal -0.0 is numeric minus zero, which is +0
                    ([e[0] for e in events], [repr(e[2]) for e in events], [e[1] for e in events]))
    crm.close()
    telemetry.close()
    for table in (USERS, TELEMETRY_EVENTS):
        wait_converged(stack, table)
    run_ok(airflow, "etl_default")

    asked = {user: _periods(rng, [e for e in events if e[0] == user]) for user in users}
    olap = olap_admin(stack)
    answers: dict[tuple, dict] = {}
    for schema in SCHEMAS:
        olap.command(snapshot_marks.mark_where_sql(schema, "users", "user_uuid IN {u:Array(String)}"),
                     parameters={"u": users})
        for user, periods in asked.items():
            for start, end in periods:
                answers[(schema, "tables", user, start, end)] = _report(stack, schema, user, start, end)
        report_snapshots.refresh(olap, schema, settle_seconds=0)
        for user, periods in asked.items():
            for start, end in periods:
                answers[(schema, "snapshot", user, start, end)] = _report(stack, schema, user, start, end)
    assert {key[:2]: a["computed_from"] for key, a in answers.items()} == \
        {(s, p): p for s in SCHEMAS for p in ("tables", "snapshot")}, "a path was not the one asked for"

    failures = []
    for user, periods in asked.items():
        for start, end in periods:
            first, *others = [answers[(s, p, user, start, end)] for s in SCHEMAS for p in ("tables", "snapshot")]
            for other in others:
                if repr(_answer(other)) != repr(_answer(first)):
                    failures.append(f"{user} [{start}, {end}): {other['schema']}/{other['computed_from']} "
                                    f"{_answer(other)} != {first['schema']}/{first['computed_from']} {_answer(first)}")
            failures += [f"{user} [{start}, {end}) against PostgreSQL: {d}"
                         for d in _same_as_source(first, _source_answer(stack, user, start, end))]
    assert sum(a["events_total"] for a in answers.values()) > 0, "no period held an event"
    assert not failures, f"seed {seed}: " + "\n".join(failures[:10])
    for user in users:  # the two days every path once answered its own way
        zero = answers[("default", "snapshot", user, *NEGATIVE_ZERO_DAY)]["signal_amplitude"]
        assert (repr(zero["min"]), repr(zero["max"])) == ("-0.0", "-0.0"), zero
        cancelled = answers[("default", "snapshot", user, *CANCELLING_DAY)]
        assert (cancelled["events_total"], cancelled["signal_amplitude"]["avg"]) == (3, 0.0), cancelled


def test_a_build_and_a_merge_during_a_slow_delete_leave_no_outdated_snapshot(stack, report_data):
    """The batch road's DELETEs mark their users before and after: a DELETE slowed on purpose, a snapshot build
    and an OPTIMIZE FINAL while it runs (the build reads the rows being deleted, the merge folds the first mark
    into the built row): after it the user's report must say what the tables say."""
    olap, writer = olap_admin(stack), olap_admin(stack)
    user = str(uuid.uuid4())  # rows of `default` only, gone at the end: the source is not touched
    olap.command("INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) "
                 "VALUES (-1, {u:String}, 'Slow Delete', 's@example.org', now64(6), 1)", parameters={"u": user})
    olap.command("INSERT INTO default.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, muscle_group, "
                 "signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, _version) "
                 "SELECT -1 - number, toString(generateUUIDv4()), {u:String}, 'arm', 'biceps', 1, 1, 1.5, "
                 "toDateTime64('2230-01-01 00:00:00', 6, 'UTC') + number, now64(6), 1 FROM numbers(20)",
                 parameters={"u": user})
    period = (datetime(2230, 1, 1), datetime(2230, 1, 2))
    try:
        report_snapshots.refresh(olap, "default", settle_seconds=0)
        assert _report(stack, "default", user, *period)["events_total"] == 20

        def slow_delete():
            with snapshot_marks.marking(writer, "default", "telemetry_events", "user_uuid = {u:String}", {"u": user}):
                writer.command("DELETE FROM default.telemetry_events WHERE user_uuid = {u:String} "
                               "AND sleepEachRow(0.1) = 0", parameters={"u": user})

        deleting = threading.Thread(target=slow_delete)
        deleting.start()
        deadline = time.monotonic() + 60
        while not olap.command("SELECT count() FROM system.processes WHERE query LIKE '%DELETE FROM default.tel%' "
                               "AND query LIKE '%sleepEachRow(0.1)%' AND query NOT LIKE '%system.processes%'"):
            assert deleting.is_alive() and time.monotonic() < deadline, "the DELETE never ran"
            time.sleep(0.05)
        report_snapshots.refresh(olap, "default", settle_seconds=0)  # reads the rows the DELETE is removing
        report_snapshots.merge(olap, "default")
        assert deleting.is_alive(), "the DELETE ended before the build and merge: the test proved nothing"
        deleting.join(timeout=120)
        after = _report(stack, "default", user, *period)
        assert (after["computed_from"], after["events_total"]) == ("tables", 0), \
            f"an outdated snapshot answers after the DELETE: {after['computed_from']}, {after['events_total']} events"
        report_snapshots.refresh(olap, "default", settle_seconds=0)
        rebuilt = _report(stack, "default", user, *period)
        assert (rebuilt["computed_from"], rebuilt["events_total"]) == ("snapshot", 0)
    finally:
        for table in ("telemetry_events", "users", snapshot_marks.TABLE):
            olap.command(f"DELETE FROM default.{table} WHERE user_uuid = {{u:String}}", parameters={"u": user})
