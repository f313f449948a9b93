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
from bionicflow.olap.sql_lexing import heredoc_body, segments

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


def query_from_bytes(raw: bytes) -> str:
    """``raw`` as the text to give the engine; its non-UTF-8 bytes only inside string literals."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="surrogateescape")
    out = []
    for kind, start, end in segments(text):
        part = text[start:end]
        found = _RAW.search(part)
        if not found:
            out.append(part)
        elif kind == "string":
            out.append(_escaped(part))
        elif kind == "comment":  # a comment may hold any byte; it never reaches a result
            out.append(_RAW.sub("?", part))
        elif kind == "heredoc":
            out.append(_quoted(heredoc_body(part)))
        else:
            raw_at = start + found.start()
            position = len(text[:raw_at].encode("utf-8", errors="surrogateescape"))
            raise ClickHouseError(
                62, "SYNTAX_ERROR",
                f"a byte that is not UTF-8 ({_byte(text[raw_at])[1:]}) at position {position}, outside any "
                "string literal: binary values belong in a string literal, a query parameter (param_x) or INSERT "
                "data")
    return "".join(out)
