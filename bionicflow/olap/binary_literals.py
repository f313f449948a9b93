"""Query text with binary string literals, as ClickHouse takes it.

ClickHouse reads a query as bytes: a string literal may hold any byte (clickhouse-connect sends
a Parquet file inline as `format(Parquet, $parquet$…$parquet$)`). chdb takes the text as a
Python `str`, so only UTF-8 passes. The bytes that are not UTF-8 are therefore moved, inside
their literal, into `\\xNN` escapes, which the engine reads back as the same bytes: a quoted
literal keeps its quotes, a heredoc becomes a quoted literal. Such a byte outside any literal is
refused, as the engine would refuse it.
"""

from __future__ import annotations

import re

from bionicflow.olap.protocol import ClickHouseError

_HEREDOC = re.compile(r"\$([A-Za-z0-9_]*)\$")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
_RAW = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape decodes it


def _byte(ch: str) -> str:
    return f"\\x{ord(ch) - 0xDC00:02x}"


def _escaped(literal: str) -> str:
    """A quoted literal with its raw bytes as escapes (an unknown escape keeps its backslash in ClickHouse)."""
    out, i = [], 0
    while i < len(literal):
        ch = literal[i]
        if ch == "\\" and i + 1 < len(literal):
            after = literal[i + 1]
            out.append("\\\\" + _byte(after) if _RAW.match(after) else ch + after)
            i += 2
        else:
            out.append(_byte(ch) if _RAW.match(ch) else ch)
            i += 1
    return "".join(out)


def _quoted(body: str) -> str:
    """A heredoc's raw text as a quoted literal of the same bytes."""
    return "'" + _escaped(body.replace("\\", "\\\\").replace("'", "\\'")) + "'"


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


def _end_of_comment(text: str, start: int) -> int:
    if text.startswith("/*", start):
        depth, i = 0, start
        while i < len(text):  # ClickHouse's block comments nest
            if text.startswith("/*", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("*/", i):
                depth, i = depth - 1, i + 2
                if not depth:
                    return i
            else:
                i += 1
        return len(text)
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _is_comment(text: str, i: int) -> bool:
    return text.startswith(("--", "/*"), i) or (text[i] == "#" and text[i + 1:i + 2] in (" ", "!"))


def query_from_bytes(raw: bytes) -> str:
    """``raw`` as the text to give the engine; its non-UTF-8 bytes only inside string literals."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="surrogateescape")
    out, i, copied = [], 0, 0
    while i < len(text):
        ch = text[i]
        heredoc = _HEREDOC.match(text, i) if ch == "$" else None
        if ch in "'\"`":
            end = _end_of_quoted(text, i)
            if ch == "'" and _RAW.search(text, i, end):
                out.append(_outside(text, copied, i) + _escaped(text[i:end]))
                copied = end
            i = end
        elif heredoc and not (i and _IDENTIFIER_CHAR.match(text[i - 1])):
            close = text.find(heredoc.group(), heredoc.end())
            end = len(text) if close < 0 else close + len(heredoc.group())
            if close >= 0 and _RAW.search(text, heredoc.end(), close):
                out.append(_outside(text, copied, i) + _quoted(text[heredoc.end():close]))
                copied = end
            i = end
        elif _is_comment(text, i):
            i = _end_of_comment(text, i)
        else:
            i += 1
    out.append(_outside(text, copied, len(text)))
    return "".join(out)


def _outside(text: str, start: int, end: int) -> str:
    """Text outside string literals, which must be UTF-8 (comments and quoted names included)."""
    raw = _RAW.search(text, start, end)
    if raw:
        position = len(text[:raw.start()].encode("utf-8", errors="surrogateescape"))
        raise ClickHouseError(
            62, "SYNTAX_ERROR",
            f"a byte that is not UTF-8 ({_byte(raw.group())[1:]}) at position {position}, outside any "
            "string literal: binary values belong in a string literal, a query parameter (param_x) or INSERT data")
    return text[start:end]
