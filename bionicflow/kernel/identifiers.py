"""Names from a source's catalogue, quoted for PostgreSQL and for ClickHouse (any name a catalogue holds)."""


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def ch_ident(name: str) -> str:
    """A ClickHouse identifier, quoted."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
