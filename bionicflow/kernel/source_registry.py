"""The PostgreSQL databases bionicflow copies from: a name and an address each, kept in `ops.sources`.

Both deployments read the same record (every component reaches ClickHouse); the embedded
stack's two databases are sources like the others, named after their databases and never
stored. A source's password is never part of its record or of a command line: it is read
from the environment (BIONICFLOW_SOURCE_<NAME>_PASSWORD), a file of that name in
BIONICFLOW_SECRETS_DIR (where Docker and Kubernetes mount secrets), or the stack's own
secrets folder (`<state dir>/secrets/source_<name>_password`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from bionicflow.kernel.config import Settings, mounted_secrets_dir
from bionicflow.kernel.errors import BionicflowError, first_line
from bionicflow.kernel.ops_schema import ensure as ensure_ops
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import OPS_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

# A name becomes part of ClickHouse table, Kafka topic and replication slot names: lower case,
# digits and _, starting with a letter, short enough for a slot name (63) with its prefix.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
BUILT_IN = ("crm_db", "telemetry_db")

EXISTS_SQL = f"EXISTS TABLE {OPS_DB}.sources"
LIST_SQL = f"""SELECT name, host, port, database, user FROM {OPS_DB}.sources FINAL
WHERE NOT removed ORDER BY name"""
WRITE_COLUMNS = ("name", "host", "port", "database", "user", "removed")


class SourceError(BionicflowError):
    """A source cannot be added, found or used; the message says what to do."""


class SourceUnreachable(SourceError):
    """The source's role cannot log in (address, password, pg_hba.conf); ``reason`` is the server's."""

    def __init__(self, source: SourceAddress, reason: str):
        self.reason = reason
        super().__init__(f"cannot connect to {source.url}: {reason}; `bionicflow sources check {source.name}` "
                         "says what is missing")


@dataclass(frozen=True)
class SourceAddress:
    name: str
    host: str
    port: int
    database: str
    user: str
    built_in: bool = False

    @property
    def url(self) -> str:
        """The address as a URL that `sources add` takes back (names percent-encoded, IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{quote(self.user, safe='')}@{host}:{self.port}/{quote(self.database, safe='')}"

    def with_password(self, settings: Settings) -> PgSource:
        """The address and the password, for a connection (the password read now, never stored)."""
        return PgSource(self.host, self.port, self.database, self.user, source_password(settings, self))

    def connect(self, settings: Settings):
        """A psycopg2 connection as the source's role; `SourceUnreachable` with the server's reason if none."""
        import psycopg2  # here, not at import: most commands never connect to a source

        try:
            return self.with_password(settings).connect(connect_timeout=5)
        except (psycopg2.OperationalError, ValueError) as exc:  # ValueError: a NUL in a name
            raise SourceUnreachable(self, first_line(exc)) from None


_SHAPE = "write postgresql://USER@HOST:PORT/DATABASE (no password, no ?options)"


def parse_url(name: str, url: str) -> SourceAddress:
    """``postgresql://USER@HOST[:PORT]/DATABASE`` as a source named ``name``.

    Refused: a password anywhere in it, query options (not honoured yet: sslmode would be dropped
    without a word), several hosts, and any text that cannot be a name (control characters, NUL).
    The URL is never echoed: a malformed one may carry a password.
    """
    check_name(name)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"the URL cannot be read ({exc}): {_SHAPE}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise SourceError(f"the URL is not a PostgreSQL URL: {_SHAPE}")
    if parts.password is not None or "password" in parts.query.lower():
        raise SourceError(
            "the URL carries a password, which would stay in the shell's history and the process list: "
            f"remove it and set BIONICFLOW_SOURCE_{name.upper()}_PASSWORD, or write it to the stack's secrets "
            f"folder as source_{name}_password (docs/sources.md)")
    if parts.query or parts.fragment:
        raise SourceError(f"URL options (?{parts.query}) are not supported yet: {_SHAPE}")
    user, host, database = unquote(parts.username or ""), parts.hostname or "", unquote(parts.path.lstrip("/"))
    missing = [what for what, value in (("USER", user), ("HOST", host), ("DATABASE", database)) if not value]
    if missing:
        raise SourceError(f"the URL lacks {', '.join(missing)}: {_SHAPE}")
    if "," in parts.netloc:
        raise SourceError(f"the URL names several hosts; ClickHouse reads a source from one: {_SHAPE}")
    if port == 0 or any(not ch.isprintable() for ch in user + host + database):
        raise SourceError(f"the URL's port or names are not usable (port 0, control characters): {_SHAPE}")
    return SourceAddress(name, host, port or 5432, database, user)


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise SourceError(f"source name {name!r}: use 1-40 lower-case letters, digits and _, starting with a "
                          "letter (it becomes part of table, topic and replication slot names)")


def password_variable(name: str) -> str:
    """The environment variable (and mounted secret's file name) that holds source ``name``'s password."""
    return f"BIONICFLOW_SOURCE_{name.upper()}_PASSWORD"


def source_password(settings: Settings, source: SourceAddress) -> str:
    """The source's password: the environment, a mounted secret, the stack's own secrets folder (first found)."""
    if source.built_in:
        return settings.debezium_password.get_secret_value()
    variable = password_variable(source.name)
    if os.environ.get(variable):  # an empty value is no password: the files are looked at
        return os.environ[variable]
    mounted = mounted_secrets_dir()
    own = settings.secrets_dir / f"source_{source.name}_password"
    for path in ([Path(mounted) / variable] if mounted else []) + [own]:
        if path.is_file():
            return path.read_text().rstrip("\r\n")  # a file's last line break is not part of the password
    where = str(Path(mounted) / variable) if mounted else f"a file {variable} in BIONICFLOW_SECRETS_DIR (unset)"
    raise SourceError(f"no password for source {source.name}: set {variable}, or write it to {where} or to "
                      f"{own} (mode 600)")


def built_in_sources(settings: Settings) -> list[SourceAddress]:
    """The embedded stack's two databases, as the CDC road's role reads them (the stack's own SQL installs them)."""
    ports = {"crm_db": settings.crm_db_port, "telemetry_db": settings.telemetry_db_port}
    return [SourceAddress(name, settings.host, ports[name], name, settings.debezium_user, built_in=True)
            for name in BUILT_IN]


def list_sources(olap: OlapClient, settings: Settings) -> list[SourceAddress]:
    """Every source: the built-in two, then those added, by name (reads only: a missing table is none added)."""
    if not olap.command(EXISTS_SQL):
        return built_in_sources(settings)
    added = [SourceAddress(*row) for row in olap.query(LIST_SQL).result_rows]
    return built_in_sources(settings) + added


def find_source(olap: OlapClient, settings: Settings, name: str) -> SourceAddress:
    for source in list_sources(olap, settings):
        if source.name == name:
            return source
    raise SourceError(f"no source named {name}: `bionicflow sources list` shows them, `bionicflow sources add "
                      f"{name} --url postgresql://USER@HOST:PORT/DATABASE` adds one")


def refuse_taken(olap: OlapClient, settings: Settings, name: str) -> None:
    """`SourceError` when a source is already called ``name``."""
    taken = {s.name: s for s in list_sources(olap, settings)}
    if name in taken and taken[name].built_in:
        raise SourceError(f"{name} is the embedded stack's own database: choose another name")
    if name in taken:
        raise SourceError(f"a source named {name} exists ({taken[name].url}): choose another name, or "
                          f"`bionicflow sources remove {name}` first")


def add_source(olap: OlapClient, settings: Settings, source: SourceAddress) -> None:
    """Record ``source``; refused when the name is taken."""
    ensure_ops(olap)
    refuse_taken(olap, settings, source.name)
    _write(olap, source, removed=False)


def remove_source(olap: OlapClient, settings: Settings, name: str) -> SourceAddress:
    """Forget the source ``name`` and the password files the stack keeps for it (nothing in the database is touched)."""
    source = find_source(olap, settings, name)
    if source.built_in:
        raise SourceError(f"{name} is the embedded stack's own database; it cannot be removed")
    _write(olap, source, removed=True)
    for secret in (f"source_{name}.properties", f"source_{name}_password"):  # its password, as the stack kept it
        (settings.secrets_dir / secret).unlink(missing_ok=True)
    return source


def _write(olap: OlapClient, source: SourceAddress, removed: bool) -> None:
    olap.insert(f"{OPS_DB}.sources", [[source.name, source.host, source.port, source.database, source.user, removed]],
                column_names=WRITE_COLUMNS)
