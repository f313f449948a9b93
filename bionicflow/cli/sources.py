"""`bionicflow sources …`: the PostgreSQL databases bionicflow copies from (docs/sources.md)."""

from __future__ import annotations

import typer
from rich.text import Text

from bionicflow.cli.console import err
from bionicflow.cli.olap_access import errors, fail_any, olap, print_aligned
from bionicflow.kernel.config import get_settings

sources_app = typer.Typer(help="The PostgreSQL databases bionicflow copies tables from.", no_args_is_help=True)


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
        client = olap()
        source_registry.refuse_taken(client, settings, name)
        source_registry.source_password(settings, source)
    except errors() as exc:
        fail_any(exc)
    if not _print_findings(check_source(settings, source)):
        err.print(Text.assemble(("error: ", "red"), f"{name} not added: fix what failed above, then run this again"))
        raise typer.Exit(code=1)
    try:
        source_registry.add_source(client, settings, source)
    except errors() as exc:
        fail_any(exc)
    err.print(f"source {name} added: {source.url}", highlight=False)


@sources_app.command("list")
def sources_list() -> None:
    """Every source: the embedded stack's two databases, then those added."""
    from bionicflow.kernel.source_registry import list_sources

    try:
        sources = list_sources(olap(), get_settings())
    except errors() as exc:
        fail_any(exc)
    print_aligned([("name", "url", "kind")] + [
        (s.name, s.url, "embedded stack" if s.built_in else "added") for s in sources])


@sources_app.command("check")
def sources_check(name: str = typer.Argument(..., help="A source, as `bionicflow sources list` names it.")) -> None:
    """Check a source's prerequisites (version, wal_level, replication, slots, privileges); exit 1 if one fails."""
    from bionicflow.kernel.source_registry import find_source
    from bionicflow.platform.source_checks import check_source

    settings = get_settings()
    try:
        source = find_source(olap(), settings, name)
        findings = check_source(settings, source)
    except errors() as exc:
        fail_any(exc)
    if not _print_findings(findings):
        raise typer.Exit(code=1)


@sources_app.command("remove")
def sources_remove(name: str = typer.Argument(..., help="A source, as `bionicflow sources list` names it.")) -> None:
    """Forget a source (the database itself is not touched)."""
    from bionicflow.kernel.source_registry import remove_source
    from bionicflow.kernel.table_catalogue import refuse_source_in_use

    try:
        client = olap()
        refuse_source_in_use(client, name)
        source = remove_source(client, get_settings(), name)
    except errors() as exc:
        fail_any(exc)
    err.print(f"source {name} removed ({source.url})", highlight=False)
