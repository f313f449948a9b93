"""`bionicflow sources …`: the PostgreSQL databases bionicflow copies from (docs/sources.md)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.text import Text

from bionicflow.cli.console import err, fail, out
from bionicflow.kernel.config import get_settings
from bionicflow.kernel.errors import BionicflowError, StackNotRunningError, first_line

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

sources_app = typer.Typer(help="The PostgreSQL databases bionicflow copies tables from.", no_args_is_help=True)


def _olap() -> OlapClient:
    """The OLAP server, where the sources are recorded; `StackNotRunningError` with the fix if it is not up."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from bionicflow.kernel.olap import olap_client

    settings = get_settings()
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # the error below says it once, with the fix
    try:
        return olap_client(settings)
    except OperationalError:
        raise StackNotRunningError(
            f"the OLAP server at {settings.olap_address}:{settings.olap_port} does not answer: sources are recorded "
            "there; start the stack (`bionicflow up`) or point BIONICFLOW_OLAP_PORT at it") from None
    except DatabaseError as exc:  # after OperationalError, which is one
        raise StackNotRunningError(f"the OLAP server refused the administrative user ({first_line(exc, 200)}): check "
                                   "BIONICFLOW_CLICKHOUSE_USER and BIONICFLOW_CLICKHOUSE_PASSWORD") from None


def _errors() -> tuple[type[Exception], ...]:
    """What a sources command reports as an error: ours, and the OLAP server refusing a statement."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    return BionicflowError, DatabaseError


def _fail_any(exc: Exception) -> NoReturn:
    if isinstance(exc, BionicflowError):
        fail(exc)
    fail(StackNotRunningError(f"the OLAP server refused: {first_line(exc)} (sources are recorded in ops.sources, which "
                              "only the administrative user BIONICFLOW_CLICKHOUSE_USER may read and write)"))


def _print_aligned(rows: Sequence[Sequence[str]]) -> None:
    """Rows in aligned columns, the last one unpadded: a rich table would wrap them at 80 columns when piped."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        out.print("  ".join(cells).rstrip(), highlight=False, markup=False)


def _print_findings(findings) -> bool:
    """One line per prerequisite, its fix under a failing one; True when all hold."""
    for f in findings:  # Text, not markup: a server's message may hold [brackets]
        mark = ("ok  ", "green") if f.ok else ("FAIL", "red")
        err.print(Text.assemble(mark, f" {f.what}: {f.detail}"), highlight=False)
        if not f.ok:
            err.print(Text(f"       fix: {f.fix}"), highlight=False)
    return all(f.ok for f in findings)


@sources_app.command("add")
def sources_add(
    name: str = typer.Argument(..., help="A name for the source: lower-case letters, digits, _."),
    url: str = typer.Option(..., "--url", help="postgresql://USER@HOST:PORT/DATABASE (no password: it is read "
                                               "from BIONICFLOW_SOURCE_<NAME>_PASSWORD or the secrets directory)."),
) -> None:
    """Check a PostgreSQL database's prerequisites and, if all hold, record it as a source."""
    from bionicflow.kernel import source_registry
    from bionicflow.platform.source_checks import check_source

    settings = get_settings()
    try:
        source = source_registry.parse_url(name, url)
        olap = _olap()
        source_registry.refuse_taken(olap, settings, name)
        source_registry.source_password(settings, source)
    except _errors() as exc:
        _fail_any(exc)
    if not _print_findings(check_source(settings, source)):
        err.print(Text.assemble(("error: ", "red"), f"{name} not added: fix what failed above, then run this again"))
        raise typer.Exit(code=1)
    try:
        source_registry.add_source(olap, settings, source)
    except _errors() as exc:
        _fail_any(exc)
    err.print(f"source {name} added: {source.url}", highlight=False)


@sources_app.command("list")
def sources_list() -> None:
    """Every source: the embedded stack's two databases, then those added."""
    from bionicflow.kernel.source_registry import list_sources

    try:
        sources = list_sources(_olap(), get_settings())
    except _errors() as exc:
        _fail_any(exc)
    _print_aligned([("name", "url", "kind")] + [
        (s.name, s.url, "embedded stack" if s.built_in else "added") for s in sources])


@sources_app.command("check")
def sources_check(name: str = typer.Argument(..., help="A source, as `bionicflow sources list` names it.")) -> None:
    """Check a source's prerequisites (version, wal_level, replication, slots, privileges); exit 1 if one fails."""
    from bionicflow.kernel.source_registry import find_source
    from bionicflow.platform.source_checks import check_source

    settings = get_settings()
    try:
        source = find_source(_olap(), settings, name)
        findings = check_source(settings, source)
    except _errors() as exc:
        _fail_any(exc)
    if not _print_findings(findings):
        raise typer.Exit(code=1)


@sources_app.command("remove")
def sources_remove(name: str = typer.Argument(..., help="A source, as `bionicflow sources list` names it.")) -> None:
    """Forget a source (the database itself is not touched)."""
    from bionicflow.kernel.source_registry import remove_source

    try:
        source = remove_source(_olap(), get_settings(), name)
    except _errors() as exc:
        _fail_any(exc)
    err.print(f"source {name} removed ({source.url})", highlight=False)


tables_app = typer.Typer(help="The tables bionicflow copies, from the sources' catalogues.", no_args_is_help=True)


def _split_table(name: str) -> tuple[str, str, str]:
    """SOURCE.SCHEMA.TABLE or SOURCE.TABLE (schema public); a part in double quotes may hold dots ("a.b")."""
    parts: list[str] = []
    part, quoted, i = "", False, 0
    while i < len(name):
        ch = name[i]
        if ch == '"' and quoted and name[i + 1:i + 2] == '"':
            part, i = part + '"', i + 2  # "" inside quotes is one quote, as in SQL
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts, part = parts + [part], ""
        else:
            part += ch
        i += 1
    parts.append(part)
    if quoted or len(parts) not in (2, 3) or not all(parts) or any(not p.isprintable() for p in parts):
        raise TableNameError(f"{name!r}: name a table as SOURCE.SCHEMA.TABLE (or SOURCE.TABLE for schema public); "
                             'write a name holding dots in double quotes: shop.public."orders.2024"')
    return (parts[0], "public", parts[1]) if len(parts) == 2 else (parts[0], parts[1], parts[2])


def _note(mapped) -> str:
    if mapped.text_form:
        return f"text form: {mapped.text_form}"
    return f"cannot hold: {mapped.limit}" if mapped.limit else ""


class TableNameError(BionicflowError):
    """A table named in a shape the CLI cannot read."""


@tables_app.command("describe")
def tables_describe(
    name: str = typer.Argument(..., metavar="SOURCE.SCHEMA.TABLE", help="e.g. shop.public.orders"),
) -> None:
    """Show what copying a table would give: each column's ClickHouse type, text-form columns, the key."""
    from bionicflow.kernel.pg_catalogue import describe_table
    from bionicflow.kernel.source_registry import find_source

    settings = get_settings()
    try:
        source_name, schema, table = _split_table(name)
        source = find_source(_olap(), settings, source_name)
        conn = source.connect(settings)
        try:
            described = describe_table(conn, schema, table)
        finally:
            conn.close()
    except _errors() as exc:
        _fail_any(exc)
    out.print(f"{source_name}.{schema}.{table}: key ({', '.join(described.key)})", highlight=False, markup=False)
    _print_aligned([("column", "PostgreSQL", "ClickHouse", "note")] + [
        (c.name + (" (key)" if c.name in described.key else ""), c.pg_type, c.clickhouse.type,
         _note(c.clickhouse)) for c in described.columns])
    if any(c.clickhouse.limit for c in described.columns):
        err.print("a value a column cannot hold stops the batch copy with an error and is dead-lettered on the CDC "
                  "road, never stored changed (docs/sources.md, \"Types\")", highlight=False)
    if described.text_form_columns:
        err.print(f"{len(described.text_form_columns)} column(s) kept as PostgreSQL's text of the value "
                  "(docs/sources.md, \"Types\")", highlight=False)
