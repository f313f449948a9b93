"""The charts as a reader sees them in a real headless Chromium, in English and Russian (issue 38, charts).

Count axes carry distinct integers; every category name (top users, countries, muscle groups) is on its axis
whole and visible; users without a country are a named, explained bar; days are written per locale in date
order. The expected names and days come from reports_api's JSON API for the same default period, so the test
checks the drawn page against the data, not against the chart code. Screenshots: test-output/screenshots/.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

import pytest
import requests

from bionicflow.reports import Period

from tests.support.browser import SHOTS, axis_labels, browser, drawn_chart, find  # noqa: F401 (browser: fixture)
from tests.support.stack import run_ok, token

LANGS = ("en", "ru")
NO_COUNTRY = {"en": "no country", "ru": "страна не указана"}
# CLDR's abbreviated month names as the day labels use them (an oracle independent of the chart code)
MONTHS = {"en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
          "ru": ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."]}
# an integer with the locale's grouping: 1,234 (en), 1 234 (ru: a no-break space)
INTEGER = re.compile(r"^\d{1,3}([,\u00a0\u202f ]\d{3})*$")


def _base(stack) -> str:
    return f"http://{stack.host}:{stack.reports_api_port}/"


def _log_in(browser, stack, user: str, lang: str) -> None:
    browser.get(f"{_base(stack)}?lang={lang}")
    if browser.find_elements("css selector", "#logout"):
        find(browser, "#logout").click()
        find(browser, "#username")
        browser.get(f"{_base(stack)}?lang={lang}")
    find(browser, "#username").send_keys(user)
    find(browser, "#password").send_keys(f"{user}_password")
    find(browser, "#login").click()


def _api(stack, user: str, path: str, **params) -> dict:
    answer = requests.get(f"{_base(stack)}{path}", params=params, timeout=60,
                          headers={"Authorization": f"Bearer {token(user)}"})
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()


def _distinct_integers(labels: list[str], where: str) -> None:
    assert len(labels) >= 2, f"{where}: no count axis ({labels})"
    shown = [t for t in labels if t]  # a tick label thinned out for room reads as ""
    assert all(INTEGER.match(t) for t in shown), f"{where}: a count axis label is not an integer: {labels}"
    assert len(set(shown)) == len(shown), f"{where}: a count axis repeats a label: {labels}"


def _inside(browser, chart: str) -> None:
    """Every axis label and printed value of the chart lies inside its card: nothing cut at the edge.

    Measured once every chart is drawn at its final width (charts.js marks <html> then): the page's
    scroll bar appears while the charts below are drawn and narrows the cards of those above.
    """
    find(browser, "html[data-charts-drawn]")
    card = find(browser, f"figure#chart-{chart}").rect
    for text in drawn_chart(browser, chart).find_elements("css selector", "g.role-axis-label text, "
                                                                          "g.values_marks text"):
        r = text.rect
        assert card["x"] - 1 <= r["x"] and r["x"] + r["width"] <= card["x"] + card["width"] + 1, (chart, text.text,
                                                                                                   r, card)


def _day(day: str, lang: str, with_year: bool) -> str:
    d = date.fromisoformat(day[:10])
    return f"{d.day} {MONTHS[lang][d.month - 1]}" + (f" {d.year}" if with_year else "")


@pytest.mark.parametrize("lang", LANGS)
def test_a_customers_charts_count_in_integers_and_name_days_in_the_locale(stack, report_data, browser, lang):
    _log_in(browser, stack, "customer1", lang)
    find(browser, "button#report-debezium").click()
    daily = drawn_chart(browser, "daily")
    _distinct_integers(axis_labels(daily, "Y"), f"{lang} daily events")
    _distinct_integers(axis_labels(drawn_chart(browser, "prosthesis"), "X"), f"{lang} events by prosthesis type")
    report = _api(stack, "customer1", "reports", schema="debezium")
    assert report["daily"], "customer1 has no events in the default period: the demo_data run of report_data gives some"
    days = Period.parse(report["period"]["from"], report["period"]["to"]).days()  # every day, 0 bars included
    expected = [_day(d, lang, len({d[:4] for d in days}) > 1) for d in days]
    drawn = axis_labels(daily, "X")
    assert len(drawn) == len(expected) and drawn[0] == expected[0], (drawn, expected)
    # in date order; on a long period a label may be thinned out ("")
    assert all(t in ("", want) for t, want in zip(drawn, expected, strict=True)), (drawn, expected)
    muscle = drawn_chart(browser, "muscle")
    assert all(axis_labels(muscle, "Y")), f"a muscle group's name is hidden: {axis_labels(muscle, 'Y')}"
    for chart in ("daily", "muscle", "prosthesis"):
        _inside(browser, chart)
    browser.execute_script("arguments[0].scrollIntoView()", daily)
    browser.save_screenshot(str(SHOTS / f"charts-user-{lang}.png"))
    find(browser, "#logout").click()


@pytest.mark.parametrize("lang", LANGS)
def test_the_overview_names_every_top_user_and_explains_no_country(stack, report_data, browser, lang):
    _log_in(browser, stack, "analyst", lang)
    find(browser, "#logout")
    # the page's language named in its address: once a CI run drew this page in the previous test's Russian
    browser.get(f"{_base(stack)}ui/overview?lang={lang}")
    reports = [_api(stack, "analyst", "reports/overview", schema=s) for s in ("default", "debezium")]
    for chart in ("country", "prosthesis", "muscle", "top-users"):
        svg = drawn_chart(browser, chart)
        _distinct_integers(axis_labels(svg, "X"), f"{lang} {chart}")
        labels = axis_labels(svg, "Y")
        assert labels and all(labels), f"{lang} {chart}: a category label is hidden: {labels}"
        _inside(browser, chart)
    users = {u["user_uuid"]: u["name"] or u["user_uuid"][:8] for r in reports for u in r["top_users"]}
    drawn = axis_labels(drawn_chart(browser, "top-users"), "Y")
    assert len(drawn) == len(users), (drawn, users)  # a bar per user, none dropped
    missing = [n for n in users.values() if not any(t == n or t.startswith(f"{n} (") for t in drawn)]
    assert not missing, f"{lang}: top users not on the axis whole: {missing}; drawn {drawn}"
    country = drawn_chart(browser, "country")
    if any(row["country"] in ("", None, "unknown") for r in reports for row in r["by_country"][:12]):
        assert NO_COUNTRY[lang] in axis_labels(country, "Y"), axis_labels(country, "Y")
        assert "—" not in axis_labels(country, "Y")
        title = " ".join(t.text for t in country.find_elements("css selector", "g.role-title text"))
        assert f"{NO_COUNTRY[lang]}" in title, f"the note on 'no country' is not in the chart's title: {title}"
    for chart in ("country", "top-users"):
        figure = find(browser, f"figure#chart-{chart}")
        browser.execute_script("arguments[0].scrollIntoView()", figure)
        figure.screenshot(str(SHOTS / f"charts-overview-{chart}-{lang}.png"))
    browser.save_screenshot(str(SHOTS / f"charts-overview-{lang}.png"))
    find(browser, "#logout").click()


def _stored_run(airflow) -> str:
    """The newest successful `reports` run, or a new one."""
    runs = airflow.request("GET", "/dags/reports/dagRuns", params={"state": "success", "order_by": "-end_date",
                                                                   "limit": 1})["dag_runs"]
    return runs[0]["dag_run_id"] if runs else run_ok(airflow, "reports")["dag_run_id"]


def test_a_stored_runs_top_users_are_whole_on_its_page_and_in_its_files(stack, report_data, airflow, browser):
    """The Airflow UI's page of a stored run (drawn in the browser) and its chart files (drawn on the server)."""
    base = f"http://{stack.host}:{stack.airflow_port}"
    link = f"{base}/bionicflow/report-runs/{quote(_stored_run(airflow), safe='')}"
    page = requests.get(link, headers=airflow.headers, timeout=60)
    assert page.status_code == 200, page.text[:500]
    names = set(re.findall(r"<tr><td>([^<]+)</td><td><code>", page.text)) - {"—"}  # the run's top-user tables
    assert names, "the stored run lists no top users"
    svg = requests.get(f"{link}/charts/top-users.svg", headers=airflow.headers, timeout=60)
    assert svg.status_code == 200, svg.text[:300]
    texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", svg.text))
    missing = [n for n in names if not any(t == n or t.startswith(f"{n} (") for t in texts)]
    assert not missing, f"top users not whole in the server-drawn SVG: {missing}"
    for chart in ("top-users", "country"):
        png = requests.get(f"{link}/charts/{chart}.png", headers=airflow.headers, timeout=60)
        assert png.content[:4] == b"\x89PNG", png.text[:300]
        (SHOTS / f"charts-stored-run-{chart}.png").write_bytes(png.content)
    token_ = requests.post(f"{base}/auth/token", json={"username": stack.airflow_admin_user,
                                                       "password": stack.airflow_admin_password.get_secret_value()},
                           timeout=30).json()["access_token"]
    browser.get(f"{base}/api/v2/version")  # the Airflow UI's session cookie, as its login sets it
    browser.add_cookie({"name": "_token", "value": token_, "path": "/"})
    browser.get(link)
    drawn = axis_labels(drawn_chart(browser, "top-users"), "Y")
    assert all(drawn) and not [n for n in names if not any(t == n or t.startswith(f"{n} (") for t in drawn)], drawn
    figure = find(browser, "figure#chart-top-users")
    browser.execute_script("arguments[0].scrollIntoView()", figure)
    figure.screenshot(str(SHOTS / "charts-stored-run-top-users-page.png"))
