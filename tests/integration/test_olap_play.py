"""The OLAP server's SQL page (/play) in a real headless Chromium, as an analyst uses it."""

from __future__ import annotations

import time

import requests

from tests.support.browser import SHOTS, browser, find  # noqa: F401 (browser is a fixture)


def _run(browser, user: str, password: str, sql: str) -> str:
    """Type the login and the query, press Run, wait for the status line; returns it."""
    for field, value in (("#user", user), ("#password", password), ("#query", sql)):
        element = find(browser, field)
        element.clear()
        element.send_keys(value)
    find(browser, "#run").click()
    deadline = time.monotonic() + 60
    while (status := find(browser, "#status").text).startswith(("running", "Ctrl+Enter")):
        assert time.monotonic() < deadline, f"the query did not finish: {status}"
        time.sleep(0.1)
    return status


def test_the_page_loads_nothing_from_elsewhere(stack):
    page = requests.get(f"http://{stack.host}:{stack.olap_port}/play", timeout=30)
    assert page.status_code == 200 and "<textarea" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no external assets


def test_an_analyst_runs_queries_and_sees_tables_and_errors(stack, report_data, browser):
    browser.get(f"http://{stack.host}:{stack.olap_port}/play")
    reader = (stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value())
    status = _run(browser, *reader, "SELECT user_id, name FROM debezium.users FINAL ORDER BY user_id LIMIT 5")
    assert status.startswith("5 rows"), status
    headers = [th.text.split("\n")[0] for th in browser.find_elements("css selector", "#table th")]
    assert headers == ["user_id", "name"]
    assert len(browser.find_elements("css selector", "#table tbody tr")) == 5
    browser.save_screenshot(str(SHOTS / "play-01-result.png"))

    status = _run(browser, *reader, "SELECT * FROM ops.etl_runs")
    assert status.startswith("error 497"), status
    assert "ACCESS_DENIED" in find(browser, "#error").text
    browser.save_screenshot(str(SHOTS / "play-02-refused.png"))

    status = _run(browser, reader[0], "wrong password", "SELECT 1")
    assert status.startswith("error 516"), status
