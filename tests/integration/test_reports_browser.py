"""The reports page in a real headless Chromium: log in, press the brief's buttons, see both schemas.

Screenshots are saved under test-output/screenshots/ (kept after the run, ignored by git).
"""

from __future__ import annotations

import shutil
import time

import pytest

from bionicflow.config import project_root

SHOTS = project_root() / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromedriver not found: apt-get install chromium chromium-driver (done by .ci/run)"
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _find(driver, css: str, timeout: float = 30):
    """Poll for an element (pages are server-rendered, but navigation completes asynchronously)."""
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while True:
        try:
            return driver.find_element(By.CSS_SELECTOR, css)
        except NoSuchElementException:
            if time.monotonic() > deadline:
                SHOTS.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(SHOTS / "failure.png"))
                pytest.fail(f"{css} not on {driver.current_url} after {timeout}s; see {SHOTS / 'failure.png'}")
            time.sleep(0.2)


def test_customer_logs_in_generates_data_and_sees_reports(stack, report_data, airflow, browser):
    base = f"http://{stack.host}:{stack.reports_api_port}/"
    browser.get(base)
    _find(browser, "#username").send_keys("customer1")
    _find(browser, "#password").send_keys("customer1_password")
    browser.save_screenshot(str(SHOTS / "01-login.png"))
    _find(browser, "#login").click()

    _find(browser, "#generate").click()
    message = _find(browser, "#message").text
    assert "demo_data run" in message
    browser.save_screenshot(str(SHOTS / "02-generated.png"))
    run_id = message.split("demo_data run ")[1].split(" started")[0]
    assert airflow.wait("demo_data", run_id, timeout=300)["state"] == "success"

    for view in ("report-default", "report-debezium"):
        browser.get(base)
        _find(browser, f"button#{view}").click()
        report = _find(browser, f"div.report#{view}")  # the report column, not the button of the same id
        assert int(report.find_element("css selector", ".events-total").text) > 0
        assert report.find_elements("css selector", "svg.chart rect"), "no chart bars drawn"
        browser.save_screenshot(str(SHOTS / f"03-{view}.png"))

    browser.get(base)
    _find(browser, "#compare").click()
    _find(browser, "#verdict")
    for schema in ("default", "debezium"):
        column = _find(browser, f"div.report#report-{schema}")
        assert column.find_elements("css selector", "svg.chart"), f"{schema}: no charts"
        assert column.find_elements("css selector", ".badge"), f"{schema}: no freshness badge"
    browser.save_screenshot(str(SHOTS / "04-compare.png"))
    assert (SHOTS / "04-compare.png").stat().st_size > 10_000
