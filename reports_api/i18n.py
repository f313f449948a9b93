"""The page in the reader's language: gettext catalogs (Babel), chosen per request.

Catalogs: reports_api/locale/<lang>/LC_MESSAGES/messages.po, the sources translators edit
(`pybabel extract -F reports_api/babel.cfg -o messages.pot reports_api`, then `pybabel update`).
They are compiled in memory when first used, so no generated binary is kept in the
repository. English is the source language. The language is, in order: `?lang=`, the
`lang` cookie (set by the page's switch), the browser's `Accept-Language`, English.
API error texts stay English (machine-facing); the page translates the ones it shows.
"""

from __future__ import annotations

import gettext
import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from fastapi import Request

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
        return format_datetime(value, "medium", locale=lang)

    return {"_": catalog.gettext, "ngettext": catalog.ngettext, "lang": lang, "languages": LOCALES,
            "number": number, "moment": moment}
