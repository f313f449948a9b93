"""Every page and every error a page can show, in Russian: nothing left in English (reports_api in-process, chdb).

A message id missing from the catalogue, an error whose text is not a message id, a data word
(prosthesis type, muscle group, gender, role) shown raw: each fails here with the page that shows it.
"""

import re

import pytest
from clickhouse_connect.driver.exceptions import OperationalError
from fastapi import HTTPException

from bionicflow.reports.accounts import customer_uuid
from reports_api import deps
from tests.support.reports_web import bearer, form_token, log_in
from tests.support.russian_pages import english_fragments, english_left, visible_text

PERIOD = {"start": "2026-09-20", "end": "2026-11-21"}
OTHER_USER = "00000000-0000-4000-8000-000000000002"
CYRILLIC = re.compile(r"[а-яё]", re.I)


@pytest.fixture
def russian(client):
    client.cookies.set("lang", "ru")
    return client


def _as(client, user: str):
    assert log_in(client, user).status_code in (200, 303)
    return client


def _assert_russian(page: str, where: str) -> str:
    assert '<html lang="ru">' in page, where
    text = visible_text(page)
    assert english_left(text) == [], f"{where}: {text[:3000]}"
    return text


def _error(page: str, where: str) -> str:
    found = re.search(r'id="error">(.*?)</div>', page, re.S)
    assert found, f"{where}: no error shown"
    message = visible_text(found.group(1))
    assert CYRILLIC.search(message), f"{where}: the error is not in Russian: {message}"
    return message


def test_the_checks_know_the_catalogues_english():
    """The walk's own check can fail: an English message and a raw data word are found."""
    assert "swap the two or widen the period" in english_fragments()
    assert english_left("период: the period is empty or inverted: from") != []
    assert english_left("тип протеза: forearm") == ["prosthesis_type: forearm"]
    assert english_left("пользователь user 2, тип: предплечье") == []


def test_login_pages_in_russian(russian):
    _assert_russian(russian.get("/").text, "login")
    wrong = log_in(russian, "customer1", "nope")
    assert wrong.status_code == 401 and "неверное имя" in _error(wrong.text, "wrong password")
    _assert_russian(wrong.text, "wrong password")
    stale = russian.post("/login", data={"username": "customer1", "password": "x", "csrf_token": "stale"})
    assert stale.status_code == 403 and "обновите страницу" in _error(stale.text, "stale form")
    _assert_russian(stale.text, "stale login form")


@pytest.mark.parametrize("view", ["default", "debezium", "compare"])
def test_a_customers_pages_in_russian(russian, view):
    client = _as(russian, "customer1")
    home = _assert_russian(client.get("/").text, "home")
    assert "(клиент)" in home, home[:500]
    page = client.get("/ui/report", params={"view": view, **PERIOD})
    assert page.status_code == 200, page.text[:2000]
    text = _assert_russian(page.text, f"report {view}")
    assert "женский" in text or "мужской" in text, text[:2000]  # the profile's gender, in Russian
    for typ in ("кисть", "предплечье", "рука", "стопа", "нога", "колено"):
        if typ in text:
            break
    else:
        pytest.fail(f"no prosthesis type in Russian on report {view}: {text[:3000]}")


def test_an_analysts_pages_in_russian(russian):
    client = _as(russian, "analyst")
    assert "(аналитик)" in _assert_russian(client.get("/").text, "home")
    overview = client.get("/ui/overview", params=PERIOD)
    assert overview.status_code == 200
    _assert_russian(overview.text, "overview")
    other = client.get("/ui/report", params={"view": "compare", "user_uuid": OTHER_USER, **PERIOD})
    _assert_russian(other.text, "another user's report")


ERRORS = [  # (who, path, params, status, a word of the Russian message)
    ("customer1", "/ui/report", {"start": "2026-11-05", "end": "2026-11-01"}, 422, "перевёрнут"),
    ("customer1", "/ui/report", {"start": "2000-01-01", "end": "2026-11-01"}, 422, "не более"),
    ("customer1", "/ui/report", {"start": "yesterday"}, 422, "датой ISO"),
    ("customer1", "/ui/report", {"end": "9999-12-31"}, 422, "вне моментов"),
    ("customer1", "/ui/report", {"end": "0001-01-01"}, 422, "укажите «с» явно"),
    ("customer1", "/ui/report", {"start": "1800-01-01", "end": "1800-01-05"}, 422, "отчёты охватывают дни"),
    ("customer1", "/ui/report", {"user_uuid": OTHER_USER}, 403, "только свой отчёт"),
    ("customer1", "/ui/report", {"view": "mysql"}, 422, "неизвестный вид"),
    ("customer1", "/ui/overview", {}, 403, "не аналитик"),
    ("analyst", "/ui/report", {"user_uuid": "not-a-uuid"}, 422, "не UUID"),
    ("analyst", "/ui/report", {}, 422, "user_uuid"),
    ("analyst", "/ui/report", {"user_uuid": "00000000-0000-4000-8000-000000000099"}, 404, "ни одной из схем"),
    ("analyst", "/ui/report", {"user_uuid": "00000000-0000-4000-8000-000000000099", "view": "default"}, 404,
     "нет в default.users"),
    ("analyst", "/ui/overview", {"start": "2026-11-05", "end": "2026-11-01"}, 422, "перевёрнут"),
]


@pytest.mark.parametrize("who, path, params, status, expected", ERRORS)
def test_every_error_a_page_shows_is_russian(russian, who, path, params, status, expected):
    response = _as(russian, who).get(path, params=params)
    assert response.status_code == status, response.text[:2000]
    assert expected in _error(response.text, f"{path} {params}")
    _assert_russian(response.text, f"{path} {params}")


def test_an_error_names_its_dates_in_the_pages_language(russian):
    client = _as(russian, "customer1")
    response = client.get("/ui/report", params={"start": "2026-11-05", "end": "2026-11-01"})
    message = _error(response.text, "inverted")
    assert "5 нояб. 2026" in message and "1 нояб. 2026" in message, message  # as picked, not the next midnight
    english = client.get("/ui/report", params={"start": "2026-11-05", "end": "2026-11-01", "lang": "en"})
    assert "from Nov 5, 2026 is not before to Nov 1, 2026" in english.text


def test_the_olap_servers_failures_are_russian(russian, monkeypatch):
    client = _as(russian, "customer1")
    for failure in (deps.olap_failure(OperationalError("connection refused")),
                    HTTPException(503, deps.schema_advice(["default.users"]))):
        def refuse(*_args, failure=failure):
            raise failure
        monkeypatch.setattr(deps, "build_reports", refuse)
        response = client.get("/ui/report", params=PERIOD)
        assert response.status_code == 503
        assert CYRILLIC.search(_error(response.text, failure.detail))
        _assert_russian(response.text, failure.detail)


def test_a_stale_logout_form_is_russian(russian):
    client = _as(russian, "analyst")
    assert form_token(client.get("/").text)
    refused = client.post("/logout", data={"csrf_token": "stale"})
    assert refused.status_code == 403 and "обновите страницу" in _error(refused.text, "stale logout")
    _assert_russian(refused.text, "stale logout")


def test_the_json_api_keeps_its_english(client, settings):
    """The API is machine-facing: the same errors stay English there, whatever the reader's language."""
    response = client.get("/reports", params={"schema": "default", "user_uuid": customer_uuid("customer1"),
                                              "from": "2026-11-05", "to": "2026-11-01"},
                          headers={**bearer(settings, "analyst"), "Accept-Language": "ru", "Cookie": "lang=ru"})
    assert response.status_code == 422
    assert response.json()["detail"] == ("the period is empty or inverted: from 2026-11-05 is not before to "
                                         "2026-11-01; swap the two or widen the period")


def test_a_comparison_with_differences_is_russian(russian, monkeypatch):
    """The verdict and the table of differing fields: counts, markers ("absent") and data words in Russian."""
    built = deps.build_reports

    def differing(report, target, period, schemas):
        reports = built(report, target, period, schemas)
        changed = {**reports["debezium"], "events_total": reports["debezium"]["events_total"] + 1000}
        return {"default": {**reports["default"], "freshness": {**reports["default"]["freshness"],
                                                                "load_age_seconds": None}},
                "debezium": changed}

    monkeypatch.setattr(deps, "build_reports", differing)
    client = _as(russian, "customer1")
    text = _assert_russian(client.get("/ui/report", params={"view": "compare", **PERIOD}).text, "differences")
    assert "поле" in text and "events_total" in text, text[:3000]
    monkeypatch.setattr(deps, "build_reports", lambda *args: {**built(*args), "debezium": None})
    text = _assert_russian(client.get("/ui/report", params={"view": "compare", **PERIOD}).text, "absent")
    assert "(отчёт) есть нет" in text, text[:3000]
