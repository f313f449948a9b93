"""Every page of reports_api in Russian in a real Chromium, as a customer and as an analyst, errors included:
no English message, error or data word is left on the page (its text as drawn, charts included).

Screenshots: test-output/screenshots/ru-*.png (looked at: see the issue's "walk").
"""

from __future__ import annotations

import re

import pytest

from tests.support.browser import SHOTS, browser, drawn_chart, find  # noqa: F401 (browser is a fixture)
from tests.support.russian_pages import english_left
from tests.support.stack import forget_failed_logins

CYRILLIC = re.compile(r"[а-яё]", re.I)
USER_CHARTS = ("daily", "amplitude", "muscle", "prosthesis")
OVERVIEW_CHARTS = ("country", "prosthesis", "muscle", "top-users")
# (user, address, a word of the Russian error): every error a page of the walk can be made to show
CUSTOMER_ERRORS = [
    ("inverted", "/ui/report?view=compare&start=2026-11-05&end=2026-11-01", "перевёрнут"),
    ("too-long", "/ui/report?view=compare&start=2020-01-01&end=2026-11-01", "не более"),
    ("bad-date", "/ui/report?view=compare&start=yesterday", "датой ISO"),
    ("foreign-user", "/ui/report?view=compare&user_uuid=00000000-0000-4000-8000-000000000002", "только свой отчёт"),
    ("unknown-view", "/ui/report?view=mysql", "неизвестный вид"),
    ("overview-as-customer", "/ui/overview", "не аналитик"),
]
ANALYST_ERRORS = [
    ("bad-uuid", "/ui/report?view=compare&user_uuid=not-a-uuid", "не UUID"),
    ("no-uuid", "/ui/report?view=compare&user_uuid=", "введите user_uuid"),
    ("unknown-user", "/ui/report?view=compare&user_uuid=00000000-0000-4000-8000-000000000099", "ни одной из схем"),
    ("overview-inverted", "/ui/overview?start=2026-11-05&end=2026-11-01", "перевёрнут"),
]


@pytest.fixture(scope="module")
def base(stack) -> str:
    return f"http://{stack.host}:{stack.reports_api_port}"


def _customer_has_events(stack, base: str) -> bool:
    import requests

    from bionicflow.reports import auth

    headers = {"Authorization": f"Bearer {auth.issue_dev_token(stack, 'customer1')}"}
    answers = [requests.get(f"{base}/reports", params={"schema": schema}, headers=headers, timeout=60)
               for schema in ("default", "debezium")]
    return all(a.status_code == 200 and a.json()["events_total"] > 0 for a in answers)


@pytest.fixture(scope="module")
def walk_data(stack, base, request) -> None:
    """customer1 has events of the last 30 days in both schemas: an earlier run's demo data, else report_data's.

    (The walk reads pages; it needs data, not both roads converged this very minute.)
    """
    if not _customer_has_events(stack, base):
        request.getfixturevalue("report_data")
        assert _customer_has_events(stack, base), "customer1 has no events after report_data"


def _page_text(driver) -> str:
    """The page's text as drawn, but for the charts (bionicflow/reports/charts.py: the last test checks them)."""
    text = find(driver, "body").text
    for charts in driver.find_elements("css selector", "#charts"):
        text = text.replace(charts.text, "")
    return text


def _russian(driver, name: str) -> str:
    """The page is Russian and nothing English is left on it; its screenshot is saved as ru-<name>.png."""
    driver.save_screenshot(str(SHOTS / f"ru-{name}.png"))
    assert find(driver, "html").get_attribute("lang") == "ru", f"{name}: not a Russian page ({driver.current_url})"
    text = _page_text(driver)
    left = english_left(text)
    assert left == [], f"{name} ({driver.current_url}): {left}\n{text[:3000]}"
    return text


def _log_in(driver, base: str, user: str, password: str | None = None) -> None:
    driver.get(f"{base}/?lang=ru")
    if driver.find_elements("css selector", "#logout"):
        _submit(driver, "#logout")
    find(driver, "#username").clear()
    find(driver, "#username").send_keys(user)
    find(driver, "#password").send_keys(password or f"{user}_password")
    _submit(driver, "#login")


def _submit(driver, button: str) -> None:
    """Press a form's button and wait until the answer replaced the page (a next `get` must not race it)."""
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.wait import WebDriverWait

    pressed = find(driver, button)
    pressed.click()
    WebDriverWait(driver, 30).until(staleness_of(pressed), f"{button}: the page did not answer in 30 s")


def _error(driver, name: str, expected: str) -> None:
    message = find(driver, "#error").text
    assert CYRILLIC.search(message) and expected in message, f"{name}: {message}"
    _russian(driver, f"error-{name}")


def _chart_texts(driver, charts: tuple[str, ...]) -> str:
    """Every word the drawn charts show: titles, axes, category labels, legends."""
    return "\n".join(t.text for chart in charts
                     for t in drawn_chart(driver, chart).find_elements("css selector", "text"))


def test_the_login_pages_in_russian(base, browser):
    forget_failed_logins()
    browser.delete_all_cookies()
    browser.get(f"{base}/?lang=ru")
    assert "Войти" in _russian(browser, "01-login")
    _log_in(browser, base, "customer1", "not-the-password")
    _error(browser, "wrong-password", "неверное имя")


def test_a_customers_pages_and_errors_in_russian(base, walk_data, browser):
    _log_in(browser, base, "customer1")
    assert "(клиент)" in _russian(browser, "02-home-customer")
    for view in ("default", "debezium", "compare"):
        browser.get(f"{base}/ui/report?view={view}")
        find(browser, "#charts")
        drawn_chart(browser, "daily")
        text = _russian(browser, f"03-report-{view}")
        for badge in browser.find_elements("css selector", ".badge"):  # each badge on one line, Russian too
            assert badge.size["height"] < 2 * float(badge.value_of_css_property("font-size")[:-2]) * 1.3, badge.text
        assert "женский" in text or "мужской" in text or "другой" in text, f"{view}: gender not in Russian"
    for name, address, expected in CUSTOMER_ERRORS:
        browser.get(base + address)
        _error(browser, name, expected)
    _submit(browser, "#logout")
    assert CYRILLIC.search(find(browser, "#session-notice").text)
    _russian(browser, "04-logged-out")


def test_an_analysts_pages_and_errors_in_russian(base, walk_data, browser):
    _log_in(browser, base, "analyst")
    assert "(аналитик)" in _russian(browser, "05-home-analyst")
    browser.get(f"{base}/ui/overview")
    drawn_chart(browser, "country")
    _russian(browser, "06-overview")
    for name, address, expected in ANALYST_ERRORS:
        browser.get(base + address)
        _error(browser, name, expected)


def test_the_charts_category_labels_in_russian(base, walk_data, browser):
    """Chart labels come from bionicflow/reports/charts.py: their prosthesis types and muscle groups are Russian."""
    _log_in(browser, base, "analyst")
    browser.get(f"{base}/ui/overview")
    overview = _chart_texts(browser, OVERVIEW_CHARTS)
    browser.save_screenshot(str(SHOTS / "ru-07-overview-charts.png"))
    assert english_left(overview) == [], overview
    assert "предплечье" in overview or "кисть" in overview, overview
    _log_in(browser, base, "customer1")
    browser.get(f"{base}/ui/report?view=compare")
    report = _chart_texts(browser, USER_CHARTS)
    browser.save_screenshot(str(SHOTS / "ru-08-report-charts.png"))
    assert english_left(report) == [], report
