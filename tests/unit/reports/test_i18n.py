"""The page in Russian and English: the catalog is complete, the language is chosen as a browser expects."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
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


def test_how_long_ago_is_said_in_the_locales_words_and_plural_forms():
    en, ru = i18n.context("en")["ago"], i18n.context("ru")["ago"]
    assert en(1073.5) == "18 minutes ago" and ru(1073.5) == "18 минут назад"
    assert en(5) == "5 seconds ago" and ru(2 * 3600 + 60) == "2 часа назад"  # not "1,073.5 s old"
    assert en(3 * 86400) == "3 days ago" and ru(86400 * 21) == "3 недели назад"


def _extracted_messages() -> dict[str, str]:
    """Every message id `pybabel extract -F reports_api/babel.cfg` finds (templates and code), with where."""
    import glob

    from babel.messages.extract import extract_from_file
    from babel.messages.frontend import parse_mapping_cfg

    from bionicflow.kernel.config import project_root

    root = project_root()
    with (root / "reports_api" / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str] = {}
    for pattern, method in method_map:
        paths = sorted(glob.glob(str(root / pattern), recursive=True))
        assert paths, f"babel.cfg's {pattern} matches no file"
        for path in paths:
            for lineno, message, _comments, _context in extract_from_file(method, path, options=options_map[pattern]):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    found.setdefault(msgid, f"{Path(path).relative_to(root)}:{lineno}")
    return found


def test_every_extracted_message_has_a_russian_translation_with_its_parameters():
    """What babel extracts (every `_()`, `gettext`, `N_()` of the templates and the code) is in Russian,
    and a translation keeps each %(name)s of its message (else the page falls back to English)."""
    with (i18n.CATALOGS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ru")
    extracted = _extracted_messages()
    assert {"the period is empty or inverted: from %(start)s is not before to %(end)s; swap the two or widen the "
            "period", "Generate users and events", "enter a user_uuid"} <= set(extracted)  # code and templates
    untranslated = sorted(f"{where}: {msgid}" for msgid, where in extracted.items()
                          if catalog.get(msgid) is None or not catalog.get(msgid).string)
    assert untranslated == []
    placeholders = re.compile(r"%\(\w+\)[sdr]")
    lost = sorted(msgid for msgid in extracted if catalog.get(msgid) is not None and catalog.get(msgid).string
                  and sorted(placeholders.findall(msgid)) != sorted(placeholders.findall(catalog.get(msgid).string)))
    assert lost == []


def test_an_error_is_translated_with_its_parameters_in_the_pages_locale():
    from datetime import date

    from bionicflow.reports.texts import Text

    inverted = Text("the period is empty or inverted: from %(start)s is not before to %(end)s; swap the two or "
                    "widen the period", start=date(2026, 11, 5), end=date(2026, 11, 1))
    assert str(inverted).startswith("the period is empty or inverted: from 2026-11-05 is not before to 2026-11-01")
    assert "с» (5 нояб. 2026\u202fг.) не раньше даты «по» (1 нояб. 2026\u202fг.)" in i18n.context("ru")["say"](inverted)
    assert "from Nov 5, 2026 is not before to Nov 1, 2026" in i18n.context("en")["say"](inverted)
    spans = Text("the period spans %(days)s days; the most a report covers is %(max_days)s days: narrow "
                 "`from`/`to` or ask for several periods", days=1066, max_days=366)
    assert i18n.context("ru")["say"](spans).startswith("период охватывает 1\xa0066 дн.")
    assert i18n.context("ru")["say"]("not a message id") == "not a message id"  # unknown: shown as it is


def test_a_page_shows_an_errors_code_quotes_as_plain_words():
    from bionicflow.reports import Period, PeriodError
    from bionicflow.reports.texts import text_of

    with pytest.raises(PeriodError) as refused:
        Period.parse("2020-01-01", "2026-01-01")
    assert "`from`" in str(refused.value)  # the API's text keeps them (a terminal, a log)
    for lang in ("en", "ru"):
        shown = i18n.context(lang)["say"](text_of(refused.value))
        assert "`" not in shown and shown, shown


def test_the_login_address_left_in_the_bar_shows_the_form_again(client):
    answer = client.get("/login", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_mistyped_address_is_a_page_in_the_browsers_language_and_the_api_keeps_json(client):
    page = client.get("/ui/nothing", headers={"Accept": "text/html", "Accept-Language": "ru"})
    assert page.status_code == 404 and "Страницы /ui/nothing нет" in page.text and 'href="/"' in page.text
    assert page.headers["cache-control"] == "no-store"
    api = client.get("/reports/nothing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["detail"]  # an API address stays JSON
    assert client.get("/ui/nothing").json()["detail"] == "Not Found"  # a client that asks for no page: JSON
