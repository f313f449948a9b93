"""Messages a reader may see, kept as a message id and its parameters so a page can say them in its language.

The API's error texts are English (machine-facing): a ``Text`` *is* that English string, so
``str(exc)``, JSON bodies and logs stay as they were. A web page instead looks at
``Text.template`` (the catalogue's msgid, reports_api/locale/*/messages.po) and
``Text.params``, translates the template, then formats each parameter in its own locale
(reports_api/i18n.py: dates, numbers, and a parameter that is itself a ``Text``).

Message ids are marked with ``N_`` so `pybabel extract` (reports_api/babel.cfg) finds them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bionicflow.kernel.errors import BionicflowError


def N_(template: str) -> str:  # noqa: N802 - gettext's conventional name for "mark only"
    """Mark ``template`` as a message id for extraction; it is translated where it is shown."""
    return template


def _english(value: Any) -> Any:
    """A parameter as the English text shows it: dates and times in ISO 8601, as the API always wrote them."""
    return value.isoformat() if isinstance(value, date) else value


class Text(str):
    """The English text of ``template % params``, remembering both for translation."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        english = template % {k: _english(v) for k, v in params.items()} if params else template
        made = super().__new__(cls, english)
        made.template = template
        made.params = params
        return made

    def __reduce__(self):  # pickling and copying keep the message id (str's own would drop it)
        return _rebuild, (self.template, self.params)


def _rebuild(template: str, params: dict[str, Any]) -> Text:
    return Text(template, **params)


class TranslatableError(BionicflowError):
    """An error whose message is a ``Text``: the same English as before for the API, translatable on a page."""

    def __init__(self, template: str, **params: Any):
        self.text = Text(template, **params)
        super().__init__(self.text)


def text_of(error: BaseException | str) -> str:
    """What a page shows for ``error``: its ``Text`` when it has one, else its English message."""
    if isinstance(error, str):
        return error
    text = getattr(error, "text", None)
    return text if isinstance(text, Text) else str(error)
