"""Where a statement's string literals, quoted names and comments are, as the engine's lexer sees them.

What the server rewrites in a client's text (binary bytes into escapes, `queryID()` into the
client's id) must change code and literals only where they are what they look like: a quote in a
comment starts no literal, a function name inside a string is no call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_HEREDOC = re.compile(r"\$([A-Za-z0-9_]*)\$")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
_QUOTED = {"'": "string", '"': "name", "`": "name"}


def _end_of_quoted(text: str, start: int) -> int:
    """Where the literal or quoted name opened at ``start`` ends (after its closing quote)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            if text[i + 1:i + 2] != quote:
                return i + 1
            i += 2  # a doubled quote
        else:
            i += 1
    return len(text)


def skip_block_comment(text: str, start: int) -> int:
    """Past the ``/* … */`` comment at ``start``; the engine's block comments nest."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if not depth:
                return i
        else:
            i += 1
    return len(text)


def skip_non_code(text: str, i: int) -> tuple[int, str] | None:
    """(end, kind) of the string, quoted name, comment or heredoc that starts at ``i``; None for code.

    kind: string, name, heredoc or comment. A heredoc never closed is no heredoc (its ``$`` is code).
    """
    ch = text[i]
    if ch in _QUOTED:
        return _end_of_quoted(text, i), _QUOTED[ch]
    if text.startswith("--", i) or (ch == "#" and text[i + 1:i + 2] in (" ", "!", "")):
        end = text.find("\n", i)
        return (len(text) if end < 0 else end + 1), "comment"
    if text.startswith("/*", i):
        return skip_block_comment(text, i), "comment"
    if ch == "$" and not (i and _IDENTIFIER_CHAR.match(text[i - 1])) and (heredoc := _HEREDOC.match(text, i)):
        close = text.find(heredoc.group(), heredoc.end())
        if close >= 0:
            return close + len(heredoc.group()), "heredoc"
    return None


def segments(text: str) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) spans covering ``text``: kind is code, string, heredoc, name or comment."""
    i = code_from = 0
    while i < len(text):
        skipped = skip_non_code(text, i)
        if skipped is None:
            i += 1
            continue
        if code_from < i:
            yield "code", code_from, i
        yield skipped[1], i, skipped[0]
        i = code_from = skipped[0]
    if code_from < len(text):
        yield "code", code_from, len(text)


def heredoc_body(literal: str) -> str:
    """``$tag$body$tag$`` → body."""
    tag = _HEREDOC.match(literal)
    assert tag is not None
    return literal[tag.end():len(literal) - len(tag.group())]


def masked(text: str) -> str:
    """``text`` with its comments blanked and its literals and quoted names filled with ``_``, the same length:
    what a regular expression may then search as code, at the same positions."""
    out = []
    for kind, start, end in segments(text):
        if kind == "code":
            out.append(text[start:end])
        elif kind == "comment":
            out.append(" " * (end - start))
        else:
            out.append("_" * (end - start))
    return "".join(out)
