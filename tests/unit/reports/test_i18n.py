"""The page in Russian and English: the catalog is complete, the language is chosen as a browser expects."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bionicflow.kernel.config import Settings
from bionicflow.reports.accounts import customer_uuid
from reports_api import deps, i18n
from reports_api.main import app
from reports_api.web import SESSION_NOTICES
from tests.support.reports_web import log_in

TEMPLATES = Path(i18n.__file__).parent / "templates"
PERIOD = {"start": "2026-09-20", "end": "2026-11-21"}


@pytest.fixture
def client(tmp_path, olap, monkeypatch):
    monkeypatch.setattr(deps, "reader", lambda: olap)
    app.dependency_overrides[deps.settings] = lambda: Settings(state_dir=tmp_path)
    yield TestClient(app)
    app.dependency_overrides.clear()


def _template_messages() -> set[str]:
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r"""_\('([^']+)'\)""", path.read_text()))
    return found


def _chart_messages() -> set[str]:
    """The charts' titles and axis names (bionicflow/reports/charts.py, in the catalog by babel.cfg)."""
    from bionicflow.reports import charts

    return set(re.findall(r'_\("([^"]+)"\)', Path(charts.__file__).read_text()))


def test_every_text_of_the_page_has_a_russian_translation():
    catalog = i18n.translations("ru")
    messages = _template_messages() | set(SESSION_NOTICES.values()) | _chart_messages()
    assert len(messages) > 40, messages
    missing = sorted(m for m in messages if catalog.gettext(m) == m)
    assert missing == []


def test_the_briefs_wording_in_russian():
    ru = i18n.translations("ru").gettext
    assert ru("Generate users and events") == "Сгенерировать юзеров и события"
    assert (ru("Report (default)"), ru("Report (debezium)")) == ("Отчёт (default)", "Отчёт (debezium)")


def test_the_browsers_language_is_used_and_the_switch_is_remembered(client):
    russian = client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
    assert '<html lang="ru">' in russian.text and "Войти" in russian.text
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "de-DE, fr;q=0.5"}).text  # unknown: English
    switched = client.get("/?lang=en", headers={"Accept-Language": "ru"})
    assert "Log in" in switched.text and switched.cookies.get("lang") == "en"
    assert "Log in" in client.get("/", headers={"Accept-Language": "ru"}).text  # the cookie wins over the browser


def test_a_russian_report_speaks_russian_with_russian_numbers(client):
    wrong = log_in(client, "analyst", "nope", headers={"Accept-Language": "ru"})
    assert "неверное имя пользователя или пароль" in wrong.text
    log_in(client, "analyst")
    home = client.get("/", params={"lang": "ru"}).text
    for text in ("Сгенерировать юзеров и события", "Отчёт (default)", "Отчёт (debezium)", "Сравнить", "Выйти"):
        assert text in home, text
    page = client.get("/ui/report", params={"view": "compare", "user_uuid": customer_uuid("customer1"), **PERIOD}).text
    assert "Обе схемы совпадают" in page and "События по дням" in page and "Средняя амплитуда по группам мышц" in page
    amplitudes = re.findall(r"<th>амплитуда сред\. / мин\. / макс\.</th><td colspan=\"3\">([^<]+)", page)
    assert amplitudes and "," in amplitudes[0] and "." not in amplitudes[0], amplitudes  # decimal comma


def test_numbers_and_times_follow_the_locale():
    from datetime import datetime

    en, ru = i18n.context("en"), i18n.context("ru")
    assert en["number"](12345.678, 1) == "12,345.7" and ru["number"](12345.678, 1) == "12\xa0345,7"
    assert en["number"](None) == ru["number"](None) == "—"
    assert "2026" in ru["moment"](datetime(2026, 12, 2, 1, 5)) and "дек" in ru["moment"](datetime(2026, 12, 2, 1, 5))
