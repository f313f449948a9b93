"""The user report reads the user's granules, not the table: the sorting key serves `user_uuid = x`."""

import json
from datetime import datetime

import chdb
import pytest

from bionicflow.cdc import ddl as cdc_schema
from bionicflow.etl import ddl as etl_schema
from bionicflow.reports import queries
from tests.support.report_data import estimated_rows

USERS, EVENTS = 2_000, 400_000
GRANULE = 8192
USER_OF = f"concat('user-', toString({{n}} % {USERS}))"  # events spread round-robin over the users


@pytest.fixture(scope="module")  # chdb allows one open data path per process: closed before other modules run
def loaded(tmp_path_factory):
    conn = chdb.connect(str(tmp_path_factory.mktemp("report-granules")))
    for statement in etl_schema.render() + cdc_schema.render("embedded"):
        conn.query(statement)
    for schema, meta, values in (("default", "_version", "1"), ("debezium", "_version, is_deleted", "1, 0")):
        conn.query(f"INSERT INTO {schema}.users (user_id, user_uuid, name, email, registered_at, {meta}) "
                   f"SELECT number, {USER_OF.format(n='number')}, 'n', 'e', now64(6), {values} FROM numbers({USERS})")
        conn.query(f"INSERT INTO {schema}.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, muscle_group, "
                   f"signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, {meta}) "
                   f"SELECT number, toString(number), {USER_OF.format(n='number')}, 'hand', 'biceps', 100, 10, 0.5, "
                   f"toDateTime64('2026-11-01', 6) + number, now64(6), {values} FROM numbers({EVENTS})")
    yield conn
    conn.close()


@pytest.mark.parametrize("schema", ["default", "debezium"])
def test_user_report_reads_a_granule_or_two_of_the_events(loaded, schema):
    params = {"schema": schema, "user_uuid": "user-7", "start": datetime(2026, 1, 1), "end": datetime(2027, 1, 1)}
    rows = [json.loads(line) for line in
            loaded.query(queries.USER_REPORT, "JSONCompactEachRow", params=params).bytes().decode().splitlines()]
    assert [r[0] for r in rows].count(0) == 1, "user-7 exists: one profile row"
    assert sum(int(r[8]) for r in rows if r[0] == 1) == EVENTS // USERS, "every one of the user's events is counted"
    rows = estimated_rows(loaded, queries.USER_REPORT, params)[f"{schema}.telemetry_events"]
    assert rows <= 2 * GRANULE, f"reads {rows} of {EVENTS} events: the sorting key did not serve user_uuid = x"
