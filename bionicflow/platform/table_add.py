"""`bionicflow tables add` and `tables remove`: a source table onto both roads, and off them again.

From the source's catalogue alone (`pg_catalogue.describe_table`): the ClickHouse tables
`default.NAME` and `debezium.NAME` (with the CDC road's views), the source-side view the batch
road reads, the source's publication and connector, the catalogue entry, then the first copy
on both roads. Every step that changes something registers its undo first; a failure runs the
undos in reverse, so a refused or failed `add` leaves nothing half-created (docs/sources.md).

How the CDC road gets the table's existing rows without re-snapshotting anything else: the
connector streams the table's changes from the moment the publication holds it, and ClickHouse
copies the table through the same source-side view as the batch road, as version 0 (what the
`olap` initial load does for the brief's tables, cdc/initial_load.py): every streamed change
outranks the copy, so under FINAL the copy plus the stream is the source. For a source whose
connector already runs, the connector's task is restarted with the table in its include list
*before* the publication gets it (the WAL sender's new process id tells when): a change the old
task saw would be filtered out and lost. No other connector is touched.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bionicflow.cdc import ddl as cdc_ddl
from bionicflow.cdc.connectors import ConnectorSpec, KafkaConnectClient
from bionicflow.cdc.reshape import copy_into
from bionicflow.cdc.source_connectors import (SIGNAL_DDL, SIGNAL_TABLE, publication_ddl, slot_name,
                                              source_connector, topic)
from bionicflow.etl.load import LoadResult, record
from bionicflow.etl.added_tables import copy_first
from bionicflow.etl.table_copy import refuse_unholdable
from bionicflow.kernel.source_journal import LEAVE_SOURCE_SQL, drop_journal_ddl, journal_ddl
from bionicflow.kernel.source_views import SOURCE_SCHEMA, source_view_ddl, view_name
from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import BionicflowError, first_line
from bionicflow.kernel.identifiers import ch_ident, pg_ident
from bionicflow.kernel.pg_catalogue import SourceTable, describe_table, roads_table
from bionicflow.kernel.source_registry import SourceAddress, source_password
from bionicflow.kernel.sources import CopiedTable
from bionicflow.kernel.table_catalogue import ADDING, READY, CatalogueError, Entry, check_name, find_entry, \
    list_entries, was_copied, write_entry
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.platform.table_add")

SLOT_SQL = "SELECT active_pid, confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = %s"
EXISTS_SQL = "SELECT to_regclass(%s)"
DROP_SLOT_SQL = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s"
PUBLISHED_SQL = "SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s"
CDC_HELPERS = (*cdc_ddl.VIEW_SUFFIXES, "_kafka")
WAIT_SECONDS = 120


class TableAddError(BionicflowError):
    """A table cannot be added or removed; nothing was left half-done; the message says what to do."""


class SourceRefused(TableAddError):
    """The source refused a statement of `tables add` (a privilege the role lacks, most often)."""


SCHEMA_HINT = (". The schema bionicflow in the source belongs to another role (an earlier source's): "
               "ALTER SCHEMA bionicflow OWNER TO {role}; or GRANT USAGE, CREATE ON SCHEMA bionicflow TO {role};")
OWNER_HINT = (". PostgreSQL lets only a table's owner add it to a publication: make {role} its owner (ALTER TABLE "
              "... OWNER TO {role}), or register the source with the owner's role (docs/sources.md, \"What is "
              "installed in a source\")")


@dataclass(frozen=True)
class AddedTable:
    name: str
    batch: CopiedTable
    cdc: CopiedTable
    seconds: float
    described: SourceTable


@dataclass
class Roads:
    """Where `add_table` and `remove_table` find each system."""

    olap: OlapClient
    connect: KafkaConnectClient
    settings: Settings
    progress: Callable[[str], None] = lambda message: None


class Undo:
    """The undos of the steps done so far, run in reverse when a later step fails."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, action: Callable[[], None]) -> None:
        self._steps.append((what, action))

    def run(self) -> list[str]:
        """Undo everything; returns what could not be undone (each also logged)."""
        failed = []
        for what, action in reversed(self._steps):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 — the other undos must still run; each failure is reported
                log.error("could not undo %s: %s", what, exc)
                failed.append(f"{what}: {first_line(exc, 200)}")
        return failed


Statement = str | tuple[str, tuple]  # SQL, or SQL and its bound parameters


def _source_sql(source: SourceAddress, settings: Settings, statements: Sequence[Statement]) -> None:
    """Run ``statements`` in the source in one transaction (PostgreSQL's DDL is transactional).

    `SourceRefused` with the server's reason when the source's role may not (the fixes are in docs/sources.md).
    """
    import psycopg2

    conn = source.connect(settings)
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(*(statement if isinstance(statement, tuple) else (statement,)))
    except psycopg2.Error as exc:
        hint = OWNER_HINT.format(role=source.user) if "must be owner" in str(exc) else \
            SCHEMA_HINT.format(role=pg_ident(source.user)) if f"schema {SOURCE_SCHEMA}" in str(exc) else ""
        raise SourceRefused(f"{source.name} refused: {first_line(exc, 300)}{hint}") from None
    finally:
        conn.close()


def _source_query(source: SourceAddress, settings: Settings, sql: str, params: tuple) -> tuple | None:
    conn = source.connect(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    finally:
        conn.close()


def refuse_taken(olap: OlapClient, name: str, source: str, schema: str, table: str) -> None:
    """`CatalogueError` when ``name`` or the source table is already copied, or ClickHouse has a table of that name."""
    check_name(name)
    for entry in list_entries(olap):
        if entry.name == name:
            raise CatalogueError(f"a table named {name} is already copied (from {entry.source}."
                                 f"{entry.table.source_schema}.{entry.table.source_table}): choose another with --as")
        if (entry.source, entry.table.source_schema, entry.table.source_table) == (source, schema, table):
            raise CatalogueError(f"{source}.{schema}.{table} is already copied as {entry.name}")
    for database in (DEFAULT_DB, CDC_DB):
        if int(olap.command(f"EXISTS TABLE {database}.{ch_ident(name)}")):
            if was_copied(olap, name):
                raise CatalogueError(f"{database}.{name} is the copy `tables remove {name}` kept: `bionicflow tables "
                                     f"remove {name} --drop-copies` drops it, or choose another name with --as")
            raise CatalogueError(f"ClickHouse already has a table {database}.{name}: choose another name with --as, "
                                 f"or drop that table first")


def _password_file(roads: Roads, source: SourceAddress) -> Path | None:
    """The properties file the connector reads the source's password from (readable by the stack's user only);
    None where Connect reads it from its environment (`connect_secrets=env`: compose)."""
    secrets = roads.settings.secrets_dir
    password = source_password(roads.settings, source)
    secrets.mkdir(parents=True, exist_ok=True)
    if not source.built_in:  # the DAGs' batch loads read it here, whatever environment they run in
        _write_secret(secrets / f"source_{source.name}_password", password)
    if roads.settings.connect_secrets == "env":
        return None
    path = secrets / f"source_{source.name}.properties"
    escaped = password.replace("\\", "\\\\").replace("\n", "\\n")  # a properties file's escapes
    _write_secret(path, f"password={escaped}\n")
    return path


def _write_secret(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def _source_tables(olap: OlapClient, source: str, but: str = "") -> list[Table]:
    """The added tables copied from ``source`` (the brief's two have connectors of their own)."""
    return [e.table for e in list_entries(olap) if e.source == source and not e.built_in and e.name != but]


def _slot(roads: Roads, source: SourceAddress) -> tuple | None:
    return _source_query(source, roads.settings, SLOT_SQL, (slot_name(source),))


def _wait_slot(roads: Roads, source: SourceAddress, ready: Callable[[tuple | None], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready(_slot(roads, source)):
        if time.monotonic() > deadline:
            raise TableAddError(f"the connector {source.name}-connector did not {what} within {WAIT_SECONDS}s; "
                                "check its task (`bionicflow status`, `bionicflow logs kafka_connect`)")
        time.sleep(0.5)  # polling interval; the loop condition decides


def create_cdc_tables(olap: OlapClient, settings: Settings, table: Table) -> None:
    for statement in cdc_ddl.table_ddl(table, settings.cdc_schema_mode, settings.kafka_broker_list):
        olap.command(statement)


def drop_cdc_helpers(olap: OlapClient, name: str) -> None:
    """Stop the CDC road writing the table: its views and its message table (the copy itself stays)."""
    for suffix in CDC_HELPERS:
        olap.command(f"DROP TABLE IF EXISTS {CDC_DB}.{name}{suffix}")


def drop_copies(olap: OlapClient, name: str) -> None:
    drop_cdc_helpers(olap, name)
    for database in (CDC_DB, DEFAULT_DB):
        olap.command(f"DROP TABLE IF EXISTS {database}.{name}")


def _start_streaming(roads: Roads, source: SourceAddress, table: Table, described: SourceTable, undo: Undo) -> None:
    """The source's view, publication and connector with ``table`` in them; the connector streams its changes."""
    # Every column in every update's message: an untouched TOASTed value (over ~2 kB) would otherwise arrive as
    # Debezium's placeholder `__debezium_unavailable_value` (docs/cdc.md, "Decisions"); undone with the rest.
    # and the change journal the batch road's incremental loads read (kernel/source_journal.py)
    view = [*source_view_ddl(described, table.name), f"ALTER TABLE {described.qualified} REPLICA IDENTITY FULL",
            *drop_journal_ddl(described, table.name), *journal_ddl(described, table.name)]
    drop_view = [f"DROP VIEW IF EXISTS {view_name(table.name)}", *drop_journal_ddl(described, table.name)]
    others = _source_tables(roads.olap, source.name, but=table.name)  # its own entry is written already
    spec = source_connector(source, [*others, table], _password_file(roads, source))
    current = roads.connect.config(spec.name)
    if current is None:
        slot = _slot(roads, source)
        if slot is not None and slot[0] is not None:
            raise TableAddError(f"the replication slot {slot_name(source)} is in use by another client although "
                                f"{spec.name} does not exist: stop that client or drop the slot, then add again")
        # an old slot would replay changes older than the copy over it: the connector starts on a new one
        drops: list[Statement] = [(DROP_SLOT_SQL, (slot_name(source),)),
                                  f"DROP PUBLICATION IF EXISTS {pg_ident(slot_name(source))}"]
        _source_sql(source, roads.settings, [*drops, *view, SIGNAL_DDL, publication_ddl(source, [table])])
        undo.push("the source's view and publication", lambda: _source_sql(
            source, roads.settings, [*drop_view, f"DROP PUBLICATION IF EXISTS {pg_ident(slot_name(source))}",
                                     f"DROP TABLE IF EXISTS {SIGNAL_TABLE}", _identity_back(described)]))
        roads.connect.create_fresh(replace(spec, config={**spec.config, "snapshot.mode": "no_data"}))
        undo.push(f"the connector {spec.name}", lambda: _delete_connector(roads, source, spec.name))
        _wait_slot(roads, source, lambda s: s is not None and s[1], "create its replication slot")
        return
    _source_sql(source, roads.settings, [*view, SIGNAL_DDL])
    undo.push("the source's view", lambda: _source_sql(source, roads.settings, [*drop_view,
                                                                                 _identity_back(described)]))
    old_pid = (_slot(roads, source) or (None,))[0]
    roads.connect.upsert(replace(spec, config={**spec.config, "snapshot.mode": current.get("snapshot.mode",
                                                                                           "no_data")}))
    before = replace(spec, config={k: v for k, v in current.items() if k != "name"})
    undo.push(f"the connector {spec.name}'s table list", lambda: _restore(roads.connect, before))
    _wait_slot(roads, source, lambda s: s is not None and s[0] is not None and s[0] != old_pid,
               "restart with the new table")
    publication = pg_ident(slot_name(source))
    published = [described.qualified]
    signal_schema, signal_table = SIGNAL_TABLE.split(".")
    if not _source_query(source, roads.settings, PUBLISHED_SQL, (slot_name(source), signal_schema, signal_table)):
        published.append(SIGNAL_TABLE)  # a source whose first table was added before backfills had signals
    _source_sql(source, roads.settings, [f"ALTER PUBLICATION {publication} ADD TABLE {', '.join(published)}"])
    undo.push("the publication's new table", lambda: _source_sql(source, roads.settings, [
        f"ALTER PUBLICATION {publication} DROP TABLE {', '.join(published)}"]))


def _identity_back(described: SourceTable) -> str:
    """The statement that gives the table back the replica identity it had before `tables add` (an index's: FULL)."""
    identity = "DEFAULT" if described.replica_identity == "d" else "FULL"
    return f"ALTER TABLE {described.qualified} REPLICA IDENTITY {identity}"


def _restore(connect: KafkaConnectClient, spec: ConnectorSpec) -> None:
    connect.upsert(spec)


def _delete_connector(roads: Roads, source: SourceAddress, name: str) -> None:
    """Delete the connector, then its slot once its WAL sender has gone, then its publication."""
    roads.connect.delete(name)
    _wait_slot(roads, source, lambda s: s is None or s[0] is None, "let go of its replication slot")
    _source_sql(source, roads.settings, [(DROP_SLOT_SQL, (slot_name(source),)),
                                         f"DROP PUBLICATION IF EXISTS {pg_ident(slot_name(source))}"])


@contextmanager
def one_at_a_time(roads: Roads) -> Iterator[None]:
    """Hold the catalogue's lock: two adds of one source at once would each write the connector's table list
    without the other's table, whose changes would then be dropped (one machine: a file lock in the state dir)."""
    roads.settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(roads.settings.state_dir / "tables.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            roads.progress("waiting for another `tables add` or `tables remove` to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def add_table(roads: Roads, source: SourceAddress, schema: str, table_name: str, name: str) -> AddedTable:
    """Put ``source``.``schema``.``table_name`` on both roads as ``name``; on failure undo every step done."""
    with one_at_a_time(roads):
        return _add_table(roads, source, schema, table_name, name)


def _add_table(roads: Roads, source: SourceAddress, schema: str, table_name: str, name: str) -> AddedTable:
    started, say = time.monotonic(), roads.progress
    refuse_taken(roads.olap, name, source.name, schema, table_name)
    say(f"[1/6] reading {schema}.{table_name} from {source.name}'s catalogue")
    conn = source.connect(roads.settings)
    try:
        described = describe_table(conn, schema, table_name)
    finally:
        conn.close()
    pg_source = source.with_password(roads.settings)
    say("[2/6] checking every value fits its ClickHouse column")
    refuse_unholdable(pg_source, described)
    table = roads_table(described, name, source.database, topic="")
    table = replace(table, topic=topic(source, table))
    undo = Undo()
    try:
        say(f"[3/6] creating {DEFAULT_DB}.{name} and {CDC_DB}.{name} with the CDC road's views")
        undo.push("the ClickHouse tables", lambda: drop_copies(roads.olap, name))
        create_cdc_tables(roads.olap, roads.settings, table)
        entry = Entry(table, source.name, described, ADDING)
        undo.push("the catalogue entry", lambda: write_entry(roads.olap, entry, removed=True))
        write_entry(roads.olap, entry)
        say(f"[4/6] installing the source-side view and publication; the connector {source.name}-connector streams "
            "the table")
        _start_streaming(roads, source, table, described, undo)
        say(f"[5/6] first copy into {DEFAULT_DB}.{name} (batch road)")
        batch = copy_first(roads.olap, pg_source, entry, f"tables_add__{name}")
        record(roads.olap, f"tables_add__{name}", LoadResult(name, "first copy", batch.rows, batch.seconds))
        say(f"      {batch.rows:,} rows in {batch.seconds:.1f}s")
        say(f"[6/6] first copy into {CDC_DB}.{name} (CDC road; changes from now on stream)")
        cdc = copy_into(roads.olap, pg_source, described, name)
        say(f"      {cdc.rows:,} rows in {cdc.seconds:.1f}s")
        write_entry(roads.olap, replace(entry, state=READY))
    except BaseException as exc:
        left = undo.run()
        if left:
            raise TableAddError(f"{name} not added ({first_line(exc, 300)}); these steps could not be undone, "
                                f"remove them by hand: {'; '.join(left)}") from exc
        raise
    return AddedTable(name, batch, cdc, time.monotonic() - started, described)


def remove_table(roads: Roads, name: str, source: SourceAddress | None, keep_copies: bool = True) -> Entry | None:
    """Take ``name`` off both roads: connector, publication, source-side view, catalogue; its copies if asked.

    A name no longer in the catalogue whose copies an earlier remove kept: with ``keep_copies`` False, they
    are dropped (None is returned)."""
    with one_at_a_time(roads):
        return _remove_table(roads, name, source, keep_copies)


def _remove_table(roads: Roads, name: str, source: SourceAddress | None, keep_copies: bool) -> Entry | None:
    try:
        entry = find_entry(roads.olap, name)
    except CatalogueError:
        if keep_copies or not was_copied(roads.olap, name):
            raise
        drop_copies(roads.olap, name)  # what an earlier `tables remove` kept
        roads.progress(f"{DEFAULT_DB}.{name} and {CDC_DB}.{name}, kept by an earlier `tables remove`, dropped")
        return None
    if entry.built_in:
        raise TableAddError(f"{name} is one of the brief's tables, which the reports read: it cannot be removed")
    say = roads.progress
    if source is not None:
        others = _source_tables(roads.olap, entry.source, but=name)
        qualified = f"{pg_ident(entry.table.source_schema)}.{pg_ident(entry.table.source_table)}"
        spec_name = f"{source.name}-connector"
        if others:
            say(f"taking {entry.table.source_table} out of {spec_name} and its publication")
            if _source_query(source, roads.settings, PUBLISHED_SQL, (
                    slot_name(source), entry.table.source_schema, entry.table.source_table)):
                _source_sql(source, roads.settings, [
                    f"ALTER PUBLICATION {pg_ident(slot_name(source))} DROP TABLE {qualified}"])
            spec = source_connector(source, others, _password_file(roads, source))
            mode = (roads.connect.config(spec_name) or {}).get("snapshot.mode", "no_data")
            roads.connect.upsert(replace(spec, config={**spec.config, "snapshot.mode": mode}))
        else:
            say(f"deleting {spec_name}, its replication slot and publication (no other table of {source.name} is "
                "copied)")
            _delete_connector(roads, source, spec_name)
        statements: list[Statement] = [f"DROP VIEW IF EXISTS {view_name(name)}"]
        if not others:
            statements.append(f"DROP TABLE IF EXISTS {SIGNAL_TABLE}")
        if entry.described:
            exists = _source_query(source, roads.settings, EXISTS_SQL, (qualified,)) != (None,)
            statements += drop_journal_ddl(entry.described, name, table_exists=exists)
            if exists:
                statements.append(_identity_back(entry.described))
        if not others:
            statements.append(LEAVE_SOURCE_SQL)
        _source_sql(source, roads.settings, statements)
    write_entry(roads.olap, entry, removed=True)
    if keep_copies:
        drop_cdc_helpers(roads.olap, name)
        say(f"{DEFAULT_DB}.{name} and {CDC_DB}.{name} kept as they are (no longer updated)")
    else:
        drop_copies(roads.olap, name)
        say(f"{DEFAULT_DB}.{name} and {CDC_DB}.{name} dropped")
    return entry
