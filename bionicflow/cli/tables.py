"""`bionicflow tables …`: the tables bionicflow copies, from the sources' catalogues (docs/sources.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bionicflow.cli.console import err, out
from bionicflow.cli.olap_access import errors, fail_any, olap, print_aligned
from bionicflow.kernel.config import get_settings
from bionicflow.kernel.errors import BionicflowError, first_line

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient
    from bionicflow.kernel.table_catalogue import Entry

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
        source = find_source(olap(), settings, source_name)
        conn = source.connect(settings)
        try:
            described = describe_table(conn, schema, table)
        finally:
            conn.close()
    except errors() as exc:
        fail_any(exc)
    out.print(f"{source_name}.{schema}.{table}: key ({', '.join(described.key)})", highlight=False, markup=False)
    print_aligned([("column", "PostgreSQL", "ClickHouse", "note")] + [
        (c.name + (" (key)" if c.name in described.key else ""), c.pg_type, c.clickhouse.type,
         _note(c.clickhouse)) for c in described.columns])
    if any(c.clickhouse.limit for c in described.columns):
        err.print("a value a column cannot hold stops the batch copy with an error and is dead-lettered on the CDC "
                  "road, never stored changed (docs/sources.md, \"Types\")", highlight=False)
    if described.text_form_columns:
        err.print(f"{len(described.text_form_columns)} column(s) kept as PostgreSQL's text of the value "
                  "(docs/sources.md, \"Types\")", highlight=False)


def _default_name(table: str) -> str:
    """The catalogue name a table gets without --as: its own, if it can name a ClickHouse table."""
    from bionicflow.kernel.table_catalogue import NAME_PATTERN

    if NAME_PATTERN.fullmatch(table):
        return table
    raise TableNameError(f"{table!r} cannot name a copied table as it is: give one with --as (lower-case letters, "
                         "digits and _, e.g. --as orders)")


def _roads(client: OlapClient):
    from bionicflow.cdc.connectors import KafkaConnectClient
    from bionicflow.platform.table_add import Roads

    settings = get_settings()
    connect = KafkaConnectClient(f"http://{settings.host}:{settings.kafka_connect_port}")
    return Roads(client, connect, settings, progress=lambda message: err.print(message, highlight=False,
                                                                               markup=False))


@tables_app.command("add")
def tables_add(
    name: str = typer.Argument(..., metavar="SOURCE.SCHEMA.TABLE", help="e.g. shop.public.orders"),
    as_name: str = typer.Option("", "--as", help="The table's name in ClickHouse (default: the source table's)."),
) -> None:
    """Copy a source table on both roads: ClickHouse tables, source-side view, connector, first copies."""
    from bionicflow.kernel.source_registry import find_source
    from bionicflow.platform.table_add import add_table

    settings = get_settings()
    try:
        source_name, schema, table = _split_table(name)
        target = as_name or _default_name(table)
        client = olap()
        source = find_source(client, settings, source_name)
        added = add_table(_roads(client), source, schema, table, target)
    except errors() as exc:
        fail_any(exc)
    for column in added.described.text_form_columns:
        err.print(f"note: {column.name} ({column.pg_type}) is kept as its text form: {column.clickhouse.text_form}",
                  highlight=False, markup=False)
    out.print(f"{target}: {added.batch.rows:,} rows in default.{target}, {added.cdc.rows:,} in debezium.{target} "
              f"({added.seconds:.1f}s); its changes stream from now on", highlight=False, markup=False)


def _count(client: OlapClient, database: str, name: str) -> str:
    from bionicflow.kernel.identifiers import ch_ident

    if not int(client.command(f"EXISTS TABLE {database}.{ch_ident(name)}")):
        return "-"
    return f"{int(client.command(f'SELECT count() FROM {database}.{ch_ident(name)} FINAL WHERE NOT is_deleted')):,}"


LAST_LOAD_SQL = "SELECT max(finished_at) FROM ops.etl_runs WHERE table = {t:String} HAVING count() > 0"


def _lag(entry: Entry) -> str:
    """The CDC lag against the connector's heartbeats (cdc/heartbeat_lag.py), or why it is not known."""
    from bionicflow.cdc.heartbeat_lag import pipeline_lag

    settings = get_settings()
    try:
        measured = pipeline_lag(f"{settings.host}:{settings.kafka_port}", entry.table)
    except Exception as exc:  # noqa: BLE001 — one unknown cell, not a failed listing
        return f"unknown: {first_line(exc, 60)}"  # e.g. no message in the table's topic yet
    return "-" if measured.seconds is None else f"{measured.seconds:.1f} s"


def _row(client: OlapClient, entry: Entry) -> tuple[str, ...]:
    table = entry.table
    loads = client.query(LAST_LOAD_SQL, parameters={"t": entry.name}).result_rows
    last_load = loads[0][0].strftime("%Y-%m-%d %H:%M:%S") if loads else "-"
    return (entry.name, f"{entry.source}.{table.source_schema}.{table.source_table}", ", ".join(table.key_columns),
            entry.state, _count(client, "default", entry.name), _count(client, "debezium", entry.name), _lag(entry),
            last_load)


@tables_app.command("list")
def tables_list() -> None:
    """Every copied table: its source, key, state, rows per road, CDC lag, last batch load."""
    from bionicflow.kernel.ops_schema import ensure
    from bionicflow.kernel.table_catalogue import list_entries

    try:
        client = olap()
        ensure(client)
        rows = [_row(client, entry) for entry in list_entries(client)]
    except errors() as exc:
        fail_any(exc)
    header: tuple[str, ...] = ("name", "source table", "key", "state", "rows default", "rows debezium", "CDC lag",
                               "last batch load")
    print_aligned([header, *rows])


@tables_app.command("remove")
def tables_remove(
    name: str = typer.Argument(..., help="A table, as `bionicflow tables list` names it."),
    drop_copies: bool = typer.Option(False, "--drop-copies", help="Drop default.NAME and debezium.NAME too."),
) -> None:
    """Stop copying a table: its connector entry, publication and source-side view go; its copies stay unless asked."""
    from bionicflow.kernel.source_registry import find_source
    from bionicflow.kernel.table_catalogue import CatalogueError, find_entry
    from bionicflow.platform.table_add import remove_table

    try:
        client = olap()
        try:
            entry = find_entry(client, name)
            source = None if entry.built_in else find_source(client, get_settings(), entry.source)
        except CatalogueError:
            if not drop_copies:
                raise
            source = None  # copies an earlier remove kept: remove_table drops them, or says there are none
        removed = remove_table(_roads(client), name, source, keep_copies=not drop_copies)
    except errors() as exc:
        fail_any(exc)
    out.print(f"{name} removed from the catalogue" if removed else f"{name}'s kept copies dropped", highlight=False,
              markup=False)
