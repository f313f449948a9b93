"""Reports on the running stack: numbers against PostgreSQL, the API as deployed, the DAG, the Airflow page."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import uuid
from urllib.parse import quote
from datetime import date, timedelta

import pytest
import requests

from bionicflow.kernel import snapshot_marks
from bionicflow.reports import snapshots as report_snapshots
from bionicflow.reports.accounts import customer_uuid
from bionicflow.reports.export import leaves
from tests.support.rows import olap_admin, pg
from tests.support.stack import run_ok, token

TODAY = date.today()
PERIOD = {"from": (TODAY - timedelta(days=29)).isoformat(), "to": TODAY.isoformat()}  # `to` includes today
EMPTY_PERIOD = {"from": "2020-01-01", "to": "2020-01-31"}
SCHEMAS = ("default", "debezium")


@pytest.fixture(scope="module")
def api(stack):
    base = f"http://{stack.host}:{stack.reports_api_port}"

    def get(path, user=None, **params):
        headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
        return requests.get(base + path, params=params, headers=headers, timeout=60)
    return get


def pg_user_report(stack, user_uuid: str, period: dict) -> dict:
    """The user report's numbers computed by PostgreSQL itself, from the source table."""
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"]) + timedelta(days=1)
    where = "user_uuid = %s AND created_ts >= %s AND created_ts < %s"
    conn = pg(stack, "telemetry_db")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT created_ts::date), avg(signal_amplitude), min(signal_amplitude),"
                        f" max(signal_amplitude), avg(signal_frequency), coalesce(sum(signal_duration), 0) "
                        f"FROM telemetry_events WHERE {where}", (user_uuid, start, end))
            totals = cur.fetchone()
            cur.execute(f"SELECT prosthesis_type, count(*) FROM telemetry_events WHERE {where} GROUP BY 1",
                        (user_uuid, start, end))
            by_type = dict(cur.fetchall())
            cur.execute(f"SELECT created_ts::date::text, count(*), avg(signal_amplitude) FROM telemetry_events "
                        f"WHERE {where} GROUP BY 1", (user_uuid, start, end))
            daily = {d: (n, a) for d, n, a in cur.fetchall()}
    finally:
        conn.close()
    return {"totals": totals, "by_type": by_type, "daily": daily}


def _close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, float(b), rel_tol=1e-9))


def _busiest_users(stack, n: int) -> list[str]:
    conn = pg(stack, "telemetry_db")
    with conn.cursor() as cur:
        cur.execute("SELECT e.user_uuid::text FROM telemetry_events e GROUP BY 1 ORDER BY count(*) DESC LIMIT %s", (n,))
        found = [r[0] for r in cur.fetchall()]
    conn.close()
    return found


def computed_from(stack, schema: str, users: list[str], source: str) -> None:
    """Make the users' next reports come from `source`: their snapshots built, or marked stale as a change marks them."""
    olap = olap_admin(stack)
    if source == "snapshot":
        # settle 0: no write of this schema is in flight (the test's data has converged)
        report_snapshots.refresh(olap, schema, settle_seconds=0, everyone=True)
    else:
        olap.command(snapshot_marks.mark_where_sql(schema, "users", "user_uuid IN {u:Array(String)}"),
                     parameters={"u": users})


@pytest.mark.parametrize("source", ["tables", "snapshot"])
@pytest.mark.parametrize("schema", SCHEMAS)
def test_user_reports_equal_postgresql_aggregates(stack, report_data, api, schema, source):
    users = [customer_uuid("customer1"), *_busiest_users(stack, 2), report_data]
    computed_from(stack, schema, users, source)
    for user in users:
        for period in (PERIOD, EMPTY_PERIOD):
            response = api("/reports", "analyst", schema=schema, user_uuid=user, **period)
            assert response.status_code == 200, response.text
            assert response.json()["computed_from"] == source, (user, period)
            got, want = response.json(), pg_user_report(stack, user, period)
            events, days, amp_avg, amp_min, amp_max, freq_avg, dur_total = want["totals"]
            assert (got["events_total"], got["active_days"]) == (events, days), (user, period)
            amp = got["signal_amplitude"]
            assert _close(amp["avg"], amp_avg) and _close(amp["min"], amp_min) and _close(amp["max"], amp_max)
            assert _close(got["signal_frequency"]["avg"], freq_avg)
            assert got["signal_duration"]["total"] == dur_total
            assert {e["prosthesis_type"]: e["events"] for e in got["by_prosthesis_type"]} == want["by_type"]
            assert {d["date"]: d["events"] for d in got["daily"]} == {k: v[0] for k, v in want["daily"].items()}
            assert all(_close(d["avg_amplitude"], want["daily"][d["date"]][1]) for d in got["daily"])
    assert api("/reports", "analyst", schema=schema, user_uuid=report_data, **PERIOD).json()["events_total"] == 0


def test_api_as_deployed_auth_validation_csv(stack, report_data, api):
    assert api("/reports", schema="debezium").status_code == 401
    own = api("/reports", "customer1", schema="debezium", **PERIOD)
    assert own.status_code == 200 and own.json()["user_uuid"] == customer_uuid("customer1")
    assert api("/reports", "customer1", schema="debezium", user_uuid=customer_uuid("customer2")).status_code == 403
    assert api("/reports", "analyst", schema="debezium", user_uuid=str(uuid.uuid4())).status_code == 404
    assert api("/reports", "analyst", schema="nope", user_uuid=report_data).status_code == 422
    as_csv = api("/reports", "customer1", schema="default", fmt="csv", **PERIOD)
    rows = dict(list(csv.reader(io.StringIO(as_csv.text)))[1:])
    as_json = leaves(api("/reports", "customer1", schema="default", **PERIOD).json())
    for field in ("events_total", "signal_amplitude.avg", "profile.name", "freshness.max_saved_ts"):
        assert rows[field] == ("" if as_json[field] is None else str(as_json[field]))
    compare = api("/reports/compare", "analyst", report="overview", **PERIOD).json()
    assert compare["identical"], compare["differences"][:5]
    overview = api("/reports/overview", "analyst", schema="debezium", **PERIOD).json()
    assert overview["totals"]["users_with_events"] > 0 and overview["freshness"]["max_saved_ts"]


def test_reports_dag_stores_both_schemas_matching_the_api(stack, report_data, airflow, api):
    run = run_ok(airflow, "reports", PERIOD)
    olap = olap_admin(stack)
    identical, reported = olap.query("SELECT identical, users_reported FROM ops.report_runs WHERE run_id = {r:String}",
                                     parameters={"r": run["dag_run_id"]}).result_rows[0]
    assert identical == 1 and reported["default"] == reported["debezium"] > 0
    for user in _busiest_users(stack, 3):
        stored = olap.query("SELECT schema, events_total, active_days, amplitude_avg, duration_total FROM ops.user_reports "
                            "WHERE run_id = {r:String} AND user_uuid = {u:String} ORDER BY schema",
                            parameters={"r": run["dag_run_id"], "u": user}).result_rows
        assert [row[0] for row in stored] == sorted(SCHEMAS)
        for schema, events, days, amp_avg, dur_total in stored:
            live = api("/reports", "analyst", schema=schema, user_uuid=user, **PERIOD).json()
            assert (events, days, dur_total) == (live["events_total"], live["active_days"],
                                                 live["signal_duration"]["total"])
            assert _close(amp_avg, live["signal_amplitude"]["avg"])


def test_airflow_ui_page_shows_reconciliation_and_report_runs(stack, report_data, airflow):
    run_ok(airflow, "cdc_reconcile")
    reports_run = run_ok(airflow, "reports", PERIOD)
    url = f"http://{stack.host}:{stack.airflow_port}/bionicflow/cdc-vs-batch"
    assert requests.get(url, timeout=30).status_code == 401  # an API client without a token
    browser = requests.get(url, headers={"Accept": "text/html"}, allow_redirects=False, timeout=30)
    assert browser.status_code == 307 and "login" in browser.headers["location"], (browser.status_code, browser.headers)
    assert "next=%2Fplugin%2Fcdc-vs-batch" in browser.headers["location"], browser.headers["location"]
    page = requests.get(url, headers=airflow.headers, timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert 'id="reconciliations"' in page.text and 'id="report-runs"' in page.text
    batch = page.text[page.text.index('id="batch"'):page.text.index("</table>", page.text.index('id="batch"'))]
    assert "<td>users</td>" in batch and " min</td>" in batch and "never loaded" not in batch, batch  # default's age
    cdc = page.text[page.text.index('id="cdc"'):page.text.index("</table>", page.text.index('id="cdc"'))]
    for expected in ("crm-connector: RUNNING", "telemetry-connector: RUNNING", "crm_debezium_slot", " MiB</td>"):
        assert expected in cdc, (expected, cdc)
    assert re.search(r"<td>\d+\.\d s</td><td>newest (heartbeat|change)</td>", cdc), cdc  # the lag, live
    assert re.search(r'<time datetime="[0-9T:-]+\+00:00">[0-9 :-]+ UTC</time>', page.text)  # zoned, whole seconds
    assert 'href="/dags/cdc_reconcile/runs/' in page.text and "{'default'" not in page.text
    # each stored reports run has its charts, linked from the page
    link = f"/bionicflow/report-runs/{quote(reports_run['dag_run_id'], safe='')}"
    assert f'href="{link}"' in page.text, page.text[-3000:]
    charts = requests.get(f"http://{stack.host}:{stack.airflow_port}{link}", headers=airflow.headers, timeout=30)
    assert charts.status_code == 200, charts.text[:500]
    for schema in ("default", "debezium"):
        assert f'id="run-{schema}"' in charts.text
    from bionicflow.reports import charts as charts_module

    specs = json.loads(re.search(r'id="chart-specs">(.*?)</script>', charts.text, re.S).group(1))
    assert {r["schema"] for r in charts_module.page_rows(specs["prosthesis"])} == {"default", "debezium"}
    script = re.search(r'<script src="(/bionicflow/static/vega-[^"]+\.js)"', charts.text).group(1)
    assert "vegaEmbed" in requests.get(f"http://{stack.host}:{stack.airflow_port}{script}", timeout=60).text
    png = requests.get(f"http://{stack.host}:{stack.airflow_port}{link}/charts/country.png", headers=airflow.headers,
                       timeout=60)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG", png.text[:300]  # the run's chart as a file
    missing = requests.get(f"http://{stack.host}:{stack.airflow_port}/bionicflow/report-runs/nope",
                           headers=airflow.headers, timeout=30)
    assert missing.status_code == 404
    plugins = airflow.request("GET", "/plugins")["plugins"]
    views = [v for p in plugins if p["name"] == "bionicflow" for v in p["external_views"]]
    assert views and views[0]["url_route"] == "cdc-vs-batch"


def test_a_comparison_says_how_far_behind_default_is_when_only_cdc_has_the_news(stack, report_data, airflow, api):
    run_ok(airflow, "etl_default")  # default current: both roads agree
    for schema in SCHEMAS:  # from the snapshots: each road's change must take the user off its snapshot
        computed_from(stack, schema, [], "snapshot")
    params = {"report": "user", "user_uuid": customer_uuid("customer1"), **PERIOD}
    compare = api("/reports/compare", "analyst", **params).json()
    assert compare["identical"] and {r["computed_from"] for r in compare["reports"].values()} == {"snapshot"}
    conn = pg(stack, "telemetry_db")
    try:
        with conn, conn.cursor() as cur:  # news that only CDC carries until the next batch load
            cur.execute("INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
                        "signal_duration, signal_amplitude, created_ts) VALUES (%s, 'arm', 'behind', 5, 5, 1.5, now())",
                        (customer_uuid("customer1"),))
    finally:
        conn.close()
    deadline = time.monotonic() + 120
    while (compare := api("/reports/compare", "analyst", **params).json())["identical"]:
        assert time.monotonic() < deadline, "debezium did not get the new event within 120s"
        time.sleep(1)
    behind = compare["default_behind_seconds"]
    assert behind is not None and 0 <= behind < 3600, compare
    assert compare["freshness"]["default"]["last_load"], compare["freshness"]
    run_ok(airflow, "etl_default")
    assert api("/reports/compare", "analyst", **params).json()["identical"]


def test_a_deleted_event_leaves_both_roads_reports_built_from_snapshots(stack, report_data, airflow, api):
    user = customer_uuid("customer2")
    run_ok(airflow, "etl_default")
    for schema in SCHEMAS:
        computed_from(stack, schema, [], "snapshot")
    before = {schema: api("/reports", "analyst", schema=schema, user_uuid=user, **PERIOD).json() for schema in SCHEMAS}
    assert {r["computed_from"] for r in before.values()} == {"snapshot"} and before["debezium"]["events_total"] > 0
    conn = pg(stack, "telemetry_db")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM telemetry_events WHERE id = (SELECT max(id) FROM telemetry_events "
                        "WHERE user_uuid = %s AND created_ts >= %s)", (user, PERIOD["from"]))
            assert cur.rowcount == 1
    finally:
        conn.close()
    expected = before["debezium"]["events_total"] - 1
    deadline = time.monotonic() + 120
    while (got := api("/reports", "analyst", schema="debezium", user_uuid=user, **PERIOD).json())["events_total"] != expected:
        assert time.monotonic() < deadline, f"debezium's report still counts {got['events_total']}, not {expected}"
        time.sleep(1)
    run_ok(airflow, "etl_default")  # the batch road's incremental load: a tombstone for the deleted key
    assert api("/reports", "analyst", schema="default", user_uuid=user, **PERIOD).json()["events_total"] == expected
    for schema in SCHEMAS:  # and rebuilt, the snapshots say the same
        computed_from(stack, schema, [], "snapshot")
        rebuilt = api("/reports", "analyst", schema=schema, user_uuid=user, **PERIOD).json()
        assert (rebuilt["computed_from"], rebuilt["events_total"]) == ("snapshot", expected), schema
