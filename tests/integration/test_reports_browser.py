"""The reports page in a real headless Chromium: log in, press the brief's buttons, see both schemas.

Screenshots are saved under test-output/screenshots/ (kept after the run, ignored by git).
"""

from __future__ import annotations

import json
import time

import requests

from bionicflow.reports.accounts import customer_uuid
from bionicflow.reports.words import category_label
from tests.support.rows import pg
from tests.support.browser import (  # noqa: F401 (browser is a fixture)
    SHOTS, airflow_session, axis_labels, browser, drawn_chart, find, requested_urls)
from tests.support.stack import run_ok


def test_customer_logs_in_generates_data_and_sees_reports(stack, report_data, airflow, browser):
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base)
    find(browser, "#username").send_keys("customer1")
    find(browser, "#password").send_keys("customer1_password")
    browser.save_screenshot(str(SHOTS / "01-login.png"))
    find(browser, "#login").click()

    find(browser, "#generate").click()
    message = find(browser, "#message").text
    assert "demo_data run" in message
    browser.save_screenshot(str(SHOTS / "02-generated.png"))
    run_id = message.split("demo_data run ")[1].split(" started")[0]
    assert airflow.wait("demo_data", run_id, timeout=300)["state"] == "success"

    for view in ("report-default", "report-debezium"):
        browser.get(base)
        find(browser, f"button#{view}").click()
        report = find(browser, f"div.report#{view}")  # the report column, not the button of the same id
        assert int(report.find_element("css selector", ".events-total").get_attribute("data-value")) > 0
        assert drawn_chart(browser, "daily").find_elements("css selector", "g.bars_marks path"), "no bars drawn"
        browser.save_screenshot(str(SHOTS / f"03-{view}.png"))

    browser.get(base)
    find(browser, "#compare").click()
    find(browser, "#verdict")
    for schema in ("default", "debezium"):
        column = find(browser, f"div.report#report-{schema}")
        assert column.find_elements("css selector", ".badge"), f"{schema}: no freshness badge"
    legend = [t.text for t in drawn_chart(browser, "prosthesis").find_elements("css selector", "g.role-legend-label text")]
    assert legend == ["default", "debezium"], legend  # both roads in one chart, told apart by the legend
    browser.save_screenshot(str(SHOTS / "04-compare.png"))
    assert (SHOTS / "04-compare.png").stat().st_size > 10_000


def test_compare_says_default_is_behind_when_only_cdc_has_the_news(stack, report_data, browser):
    """An event of the logged-in customer reaches `debezium` in seconds, `default` at the next batch load."""
    conn = pg(stack, "telemetry_db")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
                        "signal_duration, signal_amplitude, created_ts) VALUES (%s, 'leg', 'browser', 7, 7, 2.5, now())",
                        (customer_uuid("customer1"),))
    finally:
        conn.close()
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base)
    if browser.find_elements("css selector", "#username"):  # a browser of its own: log in
        find(browser, "#username").send_keys("customer1")
        find(browser, "#password").send_keys("customer1_password")
        find(browser, "#login").click()
    find(browser, "#compare").click()
    deadline = time.monotonic() + 120
    while not browser.find_elements("css selector", "#behind"):
        assert time.monotonic() < deadline, "the comparison never said default is behind: " + find(browser, "#verdict").text
        time.sleep(2)
        browser.refresh()
    verdict = find(browser, "#verdict").text
    assert "behind the source" in verdict and "etl_default" in verdict, verdict
    assert find(browser, "#last-load-default").text.startswith("last batch load"), "no last-load badge on default"
    browser.save_screenshot(str(SHOTS / "05-default-behind.png"))


def test_in_russian_the_debezium_report_draws_readable_charts(stack, report_data, browser):
    """The brief's button in the brief's language; charts with axes, values and whole category names."""
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base + "?lang=ru")
    if browser.find_elements("css selector", "#username"):
        assert find(browser, "#login").text == "Войти"
        find(browser, "#username").send_keys("customer1")
        find(browser, "#password").send_keys("customer1_password")
        find(browser, "#login").click()
    button = find(browser, "button#report-debezium")
    assert button.text == "Отчёт (debezium)" and find(browser, "#generate").text == "Сгенерировать юзеров и события"
    browser.save_screenshot(str(SHOTS / "07-ru-home.png"))
    token = browser.get_cookie("bionicflow_token")["value"]

    def muscle_groups() -> set[str]:  # the same report through the API (the page's default period too)
        api = requests.get(f"{base}reports", params={"schema": "debezium"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        return {g["muscle_group"] for g in api["by_muscle_group"]}

    before = muscle_groups()  # an event of an earlier test may still be on its way: read before and after
    started = time.monotonic()
    button.click()
    chart = drawn_chart(browser, "muscle")
    drawn_ms = round((time.monotonic() - started) * 1000)
    all_charts(browser)
    marks = browser.execute_script("return performance.getEntriesByType('mark').map(m => [m.name, m.startTime])")
    (SHOTS.parent / "page-timings.json").write_text(json.dumps({
        "ru: press 'Отчёт (debezium)' to the muscle-group chart drawn (ms, wall clock in the test)": drawn_ms,
        **{f"ru: page navigation start to {name} (ms)": round(at) for name, at in marks}}, ensure_ascii=False))
    labels = set(axis_labels(chart, "Y"))  # names down the y axis (horizontal bars), in Russian
    groups = {category_label("muscle_group", g, "ru") for g in muscle_groups()}
    before = {category_label("muscle_group", g, "ru") for g in before}
    assert before and before <= labels <= groups, (labels, before, groups)  # whole names, not their last letters
    values = [t.text for t in chart.find_elements("css selector", "g.values_marks text")]
    assert len(values) == len(labels) and all("," in v or v.isdigit() for v in values), values  # a value per bar, ru
    assert len(axis_labels(chart, "X")) >= 2, "no value axis"
    titles = find(browser, "#charts").text
    assert "События по дням" in titles and "Средняя амплитуда по группам мышц" in titles, titles
    assert "группа мышц" in chart.text and "схема" in chart.text  # axis title and legend in Russian
    browser.save_screenshot(str(SHOTS / "08-ru-report-debezium.png"))
    browser.get(base + "?lang=en")  # the switch back, for the tests after this one


def all_charts(browser) -> None:
    """Wait until every chart of the page is drawn (or says it failed)."""
    for figure in browser.find_elements("css selector", "figure.chart[data-chart] .vega"):
        drawn_chart(browser, figure.find_element("xpath", "..").get_attribute("data-chart"))


def test_log_out_ends_the_session_on_the_server(stack, report_data, browser):
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base + "?lang=en")
    if browser.find_elements("css selector", "#username"):
        find(browser, "#username").send_keys("customer1")
        find(browser, "#password").send_keys("customer1_password")
        find(browser, "#login").click()
    find(browser, "#compare")
    token = browser.get_cookie("bionicflow_token")["value"]
    api = f"{base}reports"
    params = {"schema": "debezium", "from": "2026-01-01", "to": "2026-12-31"}
    assert requests.get(api, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    find(browser, "form[action='/logout'] button").click()
    assert "You logged out" in find(browser, "#session-notice").text
    browser.save_screenshot(str(SHOTS / "06-logged-out.png"))
    refused = requests.get(api, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"], refused.text


def test_the_analyst_opens_the_overview_and_a_top_user_from_it(stack, report_data, browser):
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base + "?lang=en")
    if browser.find_elements("css selector", "#logout"):
        find(browser, "#logout").click()
    find(browser, "#username").send_keys("analyst")
    find(browser, "#password").send_keys("analyst_password")
    find(browser, "#login").click()
    find(browser, "#overview").click()
    for schema in ("default", "debezium"):
        column = find(browser, f"div.report#overview-{schema}")
        assert int(column.find_element("css selector", ".events-total").get_attribute("data-value")) > 0
    for chart in ("country", "prosthesis", "muscle", "top-users"):
        assert axis_labels(drawn_chart(browser, chart), "Y"), f"{chart}: no category labels"
    browser.save_screenshot(str(SHOTS / "09-overview.png"))
    find(browser, "#top-debezium a").click()  # the busiest user's comparison
    find(browser, "#verdict")
    assert drawn_chart(browser, "daily").find_elements("css selector", "g.bars_marks path")
    find(browser, "#logout").click()


def test_api_docs_render_with_nothing_fetched_from_elsewhere(stack, browser):
    """Swagger UI and ReDoc come from reports_api itself: they work on a machine without internet."""
    from urllib.parse import urlparse

    base = f"http://{stack.host}:{stack.reports_api_port}"
    requested_urls(browser)  # forget what earlier tests fetched
    browser.get(base + "/docs")
    assert "bionicflow reports_api" in find(browser, ".swagger-ui .info .title", timeout=60).text
    assert browser.find_elements("css selector", ".opblock"), "Swagger UI lists no operations"
    browser.save_screenshot(str(SHOTS / "10-docs.png"))
    browser.get(base + "/redoc")
    assert "bionicflow reports_api" in find(browser, "h1", timeout=60).text
    browser.save_screenshot(str(SHOTS / "11-redoc.png"))
    urls = requested_urls(browser)
    elsewhere = [u for u in urls if urlparse(u).scheme in ("http", "https") and urlparse(u).hostname != stack.host]
    assert urls and not elsewhere, f"requests left {stack.host}: {elsewhere}"


def test_a_stored_reports_run_draws_its_charts_in_the_airflow_ui(stack, report_data, airflow, browser):
    """What the `reports` DAG's log links to: the run's overview charts, drawn with the library Airflow serves."""
    from urllib.parse import quote

    run_id = run_ok(airflow, "reports")["dag_run_id"]
    base = airflow_session(browser, stack)
    requested_urls(browser)
    browser.get(f"{base}/bionicflow/report-runs/{quote(run_id, safe='')}")
    for chart in ("country", "prosthesis", "muscle", "top-users"):
        svg = drawn_chart(browser, chart)
        assert axis_labels(svg, "Y"), f"{chart}: no category labels"
        assert [t.text for t in svg.find_elements("css selector", "g.role-legend-label text")] == ["default", "debezium"]
    assert find(browser, "#chart-country a.chart-png").get_attribute("href").endswith("/charts/country.png")
    browser.save_screenshot(str(SHOTS / "12-airflow-report-run.png"))
    elsewhere = [u for u in requested_urls(browser) if not u.startswith(base) and not u.startswith("data:")]
    assert not elsewhere, elsewhere  # the chart library comes from the api-server itself
