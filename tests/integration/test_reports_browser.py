"""The reports page in a real headless Chromium: log in, press the brief's buttons, see both schemas.

Screenshots are saved under test-output/screenshots/ (kept after the run, ignored by git).
"""

from __future__ import annotations

from tests.integration.browser import SHOTS, browser, find  # noqa: F401 (browser is a fixture)


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
        assert int(report.find_element("css selector", ".events-total").text) > 0
        assert report.find_elements("css selector", "svg.chart rect"), "no chart bars drawn"
        browser.save_screenshot(str(SHOTS / f"03-{view}.png"))

    browser.get(base)
    find(browser, "#compare").click()
    find(browser, "#verdict")
    for schema in ("default", "debezium"):
        column = find(browser, f"div.report#report-{schema}")
        assert column.find_elements("css selector", "svg.chart"), f"{schema}: no charts"
        assert column.find_elements("css selector", ".badge"), f"{schema}: no freshness badge"
    browser.save_screenshot(str(SHOTS / "04-compare.png"))
    assert (SHOTS / "04-compare.png").stat().st_size > 10_000
