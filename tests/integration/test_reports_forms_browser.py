"""The report pages in a real headless Chromium, in English and Russian: they keep what the reader typed
through errors, language switches and a failed login; "Back" after logging out shows no report;
"Generate" follows its demo_data run to the end and links it; ReDoc logs no console error.

Screenshots are saved under test-output/screenshots/forms-*.png (kept after the run, ignored by git).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from bionicflow.reports.accounts import customer_uuid
from tests.support.browser import SHOTS, browser, find  # noqa: F401 (browser is a fixture)
from tests.support.stack import forget_failed_logins

LANGS = ["en", "ru"]
PICKED = {"start": "2026-11-05", "end": "2026-11-01"}  # inverted on purpose: an error to keep the input through


def base(stack) -> str:
    return f"http://{stack.host}:{stack.reports_api_port}"


def log_in(driver, stack, user: str, lang: str, password: str | None = None) -> None:
    """A fresh browser session, logged in as ``user`` on a page in ``lang``."""
    driver.get(f"{base(stack)}/?lang={lang}")
    driver.delete_all_cookies()
    driver.get(f"{base(stack)}/?lang={lang}")
    find(driver, "#username").send_keys(user)
    find(driver, "#password").send_keys(password or f"{user}_password")
    find(driver, "#login").click()
    wait_for(driver, lambda: driver.find_elements("css selector", "#logout, #error"), "the page after logging in")


def set_value(driver, css: str, value: str) -> None:
    """A form field set as the reader left it (date inputs take keys in the browser's locale's order)."""
    driver.execute_script("arguments[0].value = arguments[1]", find(driver, css), value)


def wait_for(driver, check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            driver.save_screenshot(str(SHOTS / "failure.png"))
            pytest.fail(f"{what} not within {timeout}s on {driver.current_url}; see {SHOTS / 'failure.png'}")
        time.sleep(0.3)
    return result


def shot(driver, name: str) -> None:
    path = SHOTS / f"forms-{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5_000, path


@pytest.mark.parametrize("lang", LANGS)
def test_an_error_and_the_language_switch_keep_the_typed_user_the_period_and_the_view(stack, report_data, browser,
                                                                                       lang):
    other = "ru" if lang == "en" else "en"
    log_in(browser, stack, "analyst", lang)
    typed = customer_uuid("customer2")  # not the form's default (customer1)
    set_value(browser, "#user_uuid", typed)
    set_value(browser, "#start", PICKED["start"])
    set_value(browser, "#end", PICKED["end"])
    find(browser, "button#compare").click()
    error = find(browser, "#error").text
    assert ("Nov 1, 2026" if lang == "en" else "1 нояб. 2026") in error.replace("\u202f", " ") and "11-02" not in error, error
    for name, value in (("user_uuid", typed), *PICKED.items()):
        assert find(browser, f"#{name}").get_attribute("value") == value, name
    assert "chosen" in find(browser, "button#compare").get_attribute("class")
    shot(browser, f"{lang}-1-error-keeps-input")

    find(browser, f"#lang-{other}").click()
    wait_for(browser, lambda: browser.find_element("css selector", "html").get_attribute("lang") == other,
             f"the page in {other}")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query == {"view": ["compare"], "user_uuid": [typed], **{k: [v] for k, v in PICKED.items()},
                     "lang": [other]}, query
    for name, value in (("user_uuid", typed), *PICKED.items()):
        assert find(browser, f"#{name}").get_attribute("value") == value, name
    assert find(browser, "#error").text != error  # the same error, in the other language
    shot(browser, f"{lang}-2-switched-to-{other}-keeps-input")


@pytest.mark.parametrize("lang", LANGS)
def test_the_language_switch_keeps_a_reports_period_and_view(stack, report_data, browser, lang):
    other = "ru" if lang == "en" else "en"
    log_in(browser, stack, "customer1", lang)
    browser.get(f"{base(stack)}/ui/report?view=debezium&start=2026-11-20&end=2026-12-06&lang={lang}")
    period = find(browser, "#period", timeout=120).text.replace("\u202f", " ")
    assert ("Dec 6, 2026 (inclusive)" if lang == "en" else "6 дек. 2026 г. (включительно)") in period, period
    find(browser, f"#lang-{other}").click()
    wait_for(browser, lambda: browser.find_element("css selector", "html").get_attribute("lang") == other,
             f"the page in {other}")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query == {"view": ["debezium"], "start": ["2026-11-20"], "end": ["2026-12-06"], "lang": [other]}, query
    assert find(browser, "div.report#report-debezium", timeout=120) and not browser.find_elements("css selector",
                                                                                      "div.report#report-default")
    shifted = find(browser, "#period", timeout=120).text.replace("\u202f", " ")
    assert ("Dec 6, 2026 (inclusive)" if other == "en" else "6 дек. 2026 г. (включительно)") in shifted, shifted
    shot(browser, f"{lang}-3-report-switched-to-{other}")


@pytest.mark.parametrize("lang", LANGS)
def test_a_wrong_password_keeps_the_user_name(stack, browser, lang):
    forget_failed_logins()
    log_in(browser, stack, "customer3", lang, password="not-the-password")
    find(browser, "#error")
    assert find(browser, "#username").get_attribute("value") == "customer3"
    assert find(browser, "#password").get_attribute("value") == ""
    shot(browser, f"{lang}-4-wrong-password-keeps-name")


@pytest.mark.parametrize("lang", LANGS)
def test_back_after_logging_out_shows_no_report(stack, report_data, browser, lang):
    log_in(browser, stack, "customer1", lang)
    find(browser, "button#compare").click()
    report = find(browser, "div.report#report-default", timeout=120).text
    assert report.strip(), "the report showed nothing to hide"
    find(browser, "#logout").click()
    find(browser, "#session-notice")
    browser.back()
    find(browser, "#username")  # the login again: the report was asked for anew, without the session
    wait_for(browser, lambda: "/ui/report" not in browser.current_url, "the redirect to the login")
    assert not browser.find_elements("css selector", "div.report"), "the report is still on the page"
    assert customer_uuid("customer1") not in browser.page_source
    shot(browser, f"{lang}-5-back-after-logout")


@pytest.mark.parametrize("lang", LANGS)
def test_generate_follows_its_run_to_the_end_and_links_it(stack, report_data, airflow, browser, settings, lang):
    log_in(browser, stack, "customer1", lang)
    find(browser, "#generate").click()
    status = find(browser, "#run-status")
    run_id = status.get_attribute("data-run")
    link = find(browser, "#run-link").get_attribute("href")
    assert link.startswith(f"{settings.airflow_url}/dags/demo_data/runs/") and link.endswith(
        run_id.replace(":", "%3A").replace("+", "%2B")), link
    wait_for(browser, lambda: status.get_attribute("data-state") in ("success", "failed"), "the run's end",
             timeout=300)
    text = find(browser, "#run-state").text
    assert status.get_attribute("data-state") == "success", text
    done = ("done: 1,000 users and 10,000 events written" if lang == "en"
            else "готово: 1 000 пользователей и 10 000 событий записаны")
    assert text.replace("\xa0", " ").startswith(done), text
    assert airflow.request("GET", f"/dags/demo_data/dagRuns/{run_id}")["state"] == "success"
    shot(browser, f"{lang}-6-generate-done")


def test_redoc_logs_no_console_error(stack, browser):
    browser.get(f"{base(stack)}/health")
    browser.get_log("browser")  # what earlier pages logged: not ReDoc's
    browser.get(f"{base(stack)}/redoc")
    find(browser, "a[href='https://redocly.com/redoc/']", timeout=60)  # ReDoc drew its side menu
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    shot(browser, "7-redoc")
