"""A real headless Chromium for the browser tests (the distribution's chromium and chromium-driver).

Screenshots are saved under test-output/screenshots/ (kept after the run, ignored by git).
"""

from __future__ import annotations

import shutil
import time

import pytest

from bionicflow.kernel.config import project_root

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
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request, for `requested_urls`
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def find(driver, css: str, timeout: float = 30):
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


def requested_urls(driver) -> list[str]:
    """The URLs the browser sent requests to since the last call (Chrome's performance log).

    A request the page's Content-Security-Policy blocked never leaves the browser: not listed.
    """
    import json

    sent, blocked = {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason"):
            blocked.add(params["requestId"])
    return [url for request_id, url in sent.items() if request_id not in blocked]


def drawn_chart(driver, chart: str, timeout: float = 30):
    """The SVG of the page's chart ``chart`` once vega-embed has drawn it (its figure says so in data-drawn)."""
    figure = find(driver, f"figure#chart-{chart}[data-drawn]", timeout)
    assert figure.get_attribute("data-drawn") == "true", f"chart {chart} was not drawn: {figure.text}"
    return figure.find_element("css selector", "svg")


def axis_labels(svg, axis: str = "X") -> list[str]:
    """The labels of a drawn chart's ``axis`` ("X" or "Y"), as the reader sees them."""
    return [t.text for t in svg.find_elements("css selector", f"g.role-axis[aria-label^='{axis}-axis'] "
                                                             "g.role-axis-label text")]


def airflow_session(browser, settings) -> str:
    """The browser logged into the stack's Airflow UI as its admin (the `_token` cookie its login sets); its base URL."""
    import requests

    base = f"http://{settings.host}:{settings.airflow_port}"
    answer = requests.post(f"{base}/auth/token", timeout=30, json={
        "username": settings.airflow_admin_user, "password": settings.airflow_admin_password.get_secret_value()})
    assert answer.status_code in (200, 201), answer.text
    browser.get(f"{base}/api/v2/version")  # a page of the origin, so the cookie can be set on it
    browser.add_cookie({"name": "_token", "value": answer.json()["access_token"], "path": "/"})
    return base
