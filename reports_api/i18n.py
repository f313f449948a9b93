"""The page in the reader's language: gettext catalogs (Babel), chosen per request.

Catalogs: reports_api/locale/<lang>/LC_MESSAGES/messages.po, the sources translators edit
(`pybabel extract -F reports_api/babel.cfg -o messages.pot reports_api`, then `pybabel update`).
They are compiled in memory when first used, so no generated binary is kept in the
repository. English is the source language. The language is, in order: `?lang=`, the
`lang` cookie (set by the page's switch), the browser's `Accept-Language`, English.
API error texts stay English (machine-facing); the page translates the ones it shows: an
error's text is a `bionicflow.reports.texts.Text` (message id + parameters), translated by
`say`, its parameters formatted in the page's locale. The data's words (prosthesis types,
muscle groups, genders, roles) come from one table, `bionicflow.reports.words`, by `word`.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from fastapi import Request

from bionicflow.reports.texts import Text
from bionicflow.reports.words import category_label

LOCALES = ("en", "ru")
DEFAULT = "en"
COOKIE = "lang"
CATALOGS = Path(__file__).parent / "locale"


@lru_cache(maxsize=len(LOCALES))
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the source text itself)."""
    path = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _accepted(header: str) -> list[str]:
    """The languages of an Accept-Language header, most wanted first."""
    weighted = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weighted.append((float(q or 1), tag.strip()))
        except ValueError:
            continue
    return [tag for _, tag in sorted(weighted, key=lambda w: -w[0]) if tag]


def choose(request: Request) -> str:
    """The page's language for this request."""
    for wanted in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if wanted in LOCALES:
            return wanted
    for tag in _accepted(request.headers.get("accept-language", "")):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LOCALES:
            return language
    return DEFAULT


def context(lang: str) -> dict:
    """What the templates use to speak ``lang``: `_`, `ngettext`, number and time formats."""
    catalog = translations(lang)

    def number(value, digits: int | None = None) -> str:
        if value is None:
            return "—"
        pattern = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=lang)

    def moment(value: datetime | str) -> str:
        value = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(value.replace(microsecond=0), "medium", locale=lang)

    def parameter(value):
        """A message's parameter as this language writes it."""
        if isinstance(value, Text):
            return _said(value)
        if isinstance(value, datetime):
            return moment(value)
        if isinstance(value, date):
            return format_date(value, "medium", locale=lang)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number(value)
        return value

    def say(text: str | None) -> str | None:
        """A message in this language, as a page shows it: the API's `code` quotes dropped (a page is no terminal)."""
        said = _said(text)
        return said.replace("`", "") if said else said

    def _said(text: str | None) -> str | None:
        """A message in this language: a `Text`'s template translated, then its parameters put in."""
        if not text:
            return text
        if not isinstance(text, Text):
            return catalog.gettext(text)
        translated = catalog.gettext(text.template)
        if not text.params:
            return translated
        try:
            return translated % {name: parameter(value) for name, value in text.params.items()}
        except (KeyError, TypeError, ValueError):  # a translation that lost a parameter: the English is right
            return str(text)

    def ago(seconds: float) -> str:
        """How long ago, in this language's words and plural forms ("18 minutes ago", "18 минут назад")."""
        return format_timedelta(timedelta(seconds=-seconds), threshold=1.5, add_direction=True, locale=lang)

    def word(kind: str, value: str | None) -> str | None:
        """A data category's value (prosthesis type, muscle group, gender, role) in this language."""
        return category_label(kind, value, lang) if value else value

    return {"_": catalog.gettext, "ngettext": catalog.ngettext, "lang": lang, "languages": LOCALES,
            "number": number, "moment": moment, "say": say, "word": word, "ago": ago}
