"""`bionicflow cdc forget-column TABLE COLUMN`: accept a column a source dropped on purpose (platform/forget_column)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from bionicflow.cli.console import err, fail, out
from bionicflow.kernel.config import Settings, get_settings
from bionicflow.kernel.errors import BionicflowError, StackNotRunningError
from bionicflow.kernel.tables import CDC_DB

CONSUMER = "cdc_consumer"  # the embedded stack's writer of `debezium.<table>_kafka`


def forget_column(
    table: str = typer.Argument(..., help="users or telemetry_events."),
    column: str = typer.Argument(..., help="The column the source dropped on purpose."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Drop without asking (the values the copies hold are lost)."),
) -> None:
    """Accept a column dropped on purpose in a source: drop it from the copies in `default` and `debezium`.

    Refused while the source still has the column, and for bionicflow's own columns.
    Shows what it drops (and how many rows hold a value there) and asks first, unless --yes.
    """
    from bionicflow.cli.olap_access import olap as olap_server
    from bionicflow.platform import forget_column as forgetting

    settings = get_settings()
    try:
        definition = forgetting.find_table(table)
        olap = olap_server()
        planned = forgetting.plan(olap, table, column, _source_columns(settings, definition))
    except BionicflowError as exc:
        fail(exc)
    err.print(f"{definition.source_database}.{definition.source_table} has no column {column}; forgetting it:",
              highlight=False)
    for line in planned.describe():
        err.print(f"  {line}", highlight=False, markup=False)
    if not yes and not _confirmed():
        err.print("nothing changed: run again with --yes to drop the column from the copies", highlight=False)
        raise typer.Exit(code=1)
    forgetting.forget(olap, planned, lambda: _writers_paused(settings, olap, definition))
    out.print(f"{table}.{column} forgotten: neither road copies it any more (`bionicflow status` no longer reports it)",
              highlight=False)


def _source_columns(settings: Settings, table) -> list[str]:
    """The source table's columns now, read as the batch road's reader; unreachable: an error saying so."""
    import psycopg2

    from bionicflow.kernel.source_columns import read_source_columns
    from bionicflow.kernel.sources import reader_sources

    try:
        conn = reader_sources(settings)[table.name].connect(connect_timeout=10)
    except psycopg2.Error as exc:
        reason = str(exc).strip()[:200]
        raise StackNotRunningError(f"{table.source_database} does not answer ({reason}): forget-column reads the "
                                   "source first to be sure the column is gone; start it (`bionicflow up`)") from None
    try:
        return read_source_columns(conn, table)
    finally:
        conn.close()


def _confirmed() -> bool:
    """Ask on a terminal; a script must say --yes (nothing is dropped by a missing answer)."""
    return sys.stdin.isatty() and typer.confirm("drop it?", default=False, err=True)


@contextmanager
def _writers_paused(settings: Settings, olap, table) -> Iterator[None]:
    """Nothing writes `debezium.<table>_kafka` inside: compose's Kafka table detached, or the embedded consumer stopped.

    The consumer is started again afterwards; it reads the added columns anew at its start.
    """
    from bionicflow.platform.forget_column import kafka_engine

    if kafka_engine(olap, table):
        olap.command(f"DETACH TABLE {CDC_DB}.{table.name}_kafka")
        try:
            yield
        finally:
            olap.command(f"ATTACH TABLE {CDC_DB}.{table.name}_kafka")
        return
    from bionicflow.stack import launcher
    from bionicflow.stack.supervisor import Supervisor

    state = Supervisor(settings.state_dir).states().get(CONSUMER)
    running = bool(state and state.state == "RUNNING")
    if running:
        err.print(f"pausing {CONSUMER} while the views of {CDC_DB}.{table.name} are made again", highlight=False)
        launcher.stop_service(settings, CONSUMER)
    try:
        yield
    finally:
        if running:
            launcher.start_service(settings, CONSUMER)
