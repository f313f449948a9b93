"""What a Russian page must not show: a catalogue message left in English, an English data word, English prose.

Shared by the in-process walk (tests/unit/reports/test_i18n_walk.py) and the browser walk
(tests/integration/test_reports_russian_walk.py).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from babel.messages.pofile import read_po

from bionicflow.reports.words import CATEGORIES
from reports_api import i18n

PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")
# Four Latin words in a row is English prose; a Russian sentence holds at most a name or a command of three
ENGLISH_PROSE = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,:;]+[a-z]+\b){3,}")
# The kinds checked as words anywhere on the page; roles are also account names ("analyst"): checked in the header
WORD_KINDS = ("prosthesis_type", "muscle_group", "gender")


@lru_cache(maxsize=1)
def english_fragments() -> tuple[str, ...]:
    """The English pieces of every translated catalogue message long enough to be unambiguous."""
    with (i18n.CATALOGS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ru")
    found = set()
    for message in catalog:
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if not msgid or not message.string or message.string == msgid:
            continue
        for piece in PLACEHOLDER.split(msgid):
            piece = piece.strip(" .,:;()—-")
            if len(piece) >= 10 and " " in piece:
                found.add(piece)
    return tuple(sorted(found))


def english_words() -> dict[str, str]:
    """Each data value whose Russian label differs, as a whole-word pattern: value -> kind."""
    return {value: kind for kind in WORD_KINDS for value, labels in CATEGORIES[kind].items()
            if labels["ru"] != value}


def visible_text(page: str) -> str:
    """A page's text as a reader sees it: no scripts, styles or tags, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(page))


def english_left(text: str) -> list[str]:
    """What of ``text`` (a Russian page's visible text) is still English."""
    left = [f"message: {piece}" for piece in english_fragments() if piece in text]
    left += [f"{kind}: {value}" for value, kind in english_words().items()
             if re.search(rf"(?<![\w/\[-]){re.escape(value)}(?![\w/\]-])", text)]  # [arm]: a JSON path
    left += [f"prose: {m.group(0)}" for m in ENGLISH_PROSE.finditer(text)]
    return left
