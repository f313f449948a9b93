"""Names from a source's catalogue, quoted for PostgreSQL and for ClickHouse (any name a catalogue holds)."""

import re


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def ch_ident(name: str) -> str:
    """A ClickHouse identifier, quoted."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def ch_name(name: str) -> str:
    """A ClickHouse identifier, quoted only when it needs to be (the brief's names stay as they are)."""
    return name if _PLAIN.fullmatch(name) else ch_ident(name)


def ch_literal(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pg_literal(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"
