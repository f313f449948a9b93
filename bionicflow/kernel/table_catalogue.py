"""The table catalogue: every table bionicflow copies, kept in `ops.tables` where both deployments read it.

An entry is the roads' definition of one table (`Table`: columns with their ClickHouse types and
how the CDC road reads them, key, topic, consumer group) and, for a table added from a source's
catalogue (`bionicflow tables add`), the source's own description of it (`SourceTable`: the
PostgreSQL types the batch road's source-side view renders). The brief's two tables are entries
like the others, with their names, columns and report-specific sorting keys; their definitions
are the code's (kernel/tables.py), written into `ops.tables` by `seed_brief` so that one query
lists every table, and read from the code so that an upgrade's definition always wins.

An entry is "adding" from the moment `tables add` creates its ClickHouse tables (the CDC
consumer then reads its topic) until both first copies hold the table, then "ready".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.ops_schema import ensure as ensure_ops
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable, describe_table, roads_table
from bionicflow.kernel.pg_types import ClickHouseType, PgType
from bionicflow.kernel.tables import OPS_DB, TABLES, Column, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

ADDING, READY = "adding", "ready"
BRIEF_SOURCES = {"users": "crm_db", "telemetry_events": "telemetry_db"}
# A catalogue name is a ClickHouse table name in `default` and `debezium` and part of the views',
# consumer group's and source-side view's names: lower case, digits and _, starting with a letter.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,47}")
# names the CDC road's own tables take in `debezium` (cdc/ddl.py), and the suffixes of a table's helpers
RESERVED = frozenset({"dead_letters", "truncations", "added_columns", "initial_loads", "snapshot_marks"})
HELPER_SUFFIXES = ("_kafka", "_mv", "_dead_letters_mv", "_truncations_mv")

EXISTS_SQL = f"EXISTS TABLE {OPS_DB}.tables"
LIST_SQL = f"""SELECT name, source, definition, state, changed_at FROM {OPS_DB}.tables FINAL
WHERE NOT removed ORDER BY name"""
WRITE_COLUMNS = ("name", "source", "source_database", "source_schema", "source_table", "definition", "state",
                 "removed")


class CatalogueError(BionicflowError):
    """A table cannot be found in, added to or removed from the catalogue; the message says what to do."""


@dataclass(frozen=True)
class Entry:
    """One copied table: the roads' definition, its source's name and (added tables) the source's description."""

    table: Table
    source: str
    described: SourceTable | None = None
    state: str = READY

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def built_in(self) -> bool:
        """One of the brief's two tables (its batch road and reports are the code's own)."""
        return self.described is None

    @property
    def shape(self) -> list[tuple[str, str]]:
        """(name, ClickHouse type) of each column the source describes, in order (added tables only)."""
        return [(c.name, c.clickhouse.type) for c in self.described.columns] if self.described else []


def brief_entries() -> list[Entry]:
    return [Entry(t, BRIEF_SOURCES[t.name]) for t in TABLES]


def table_to_json(table: Table) -> dict:
    return asdict(table)


def table_from_json(data: dict) -> Table:
    fields = {**data, "columns": tuple(Column(**c) for c in data["columns"]),
              "more_key": tuple(data["more_key"]), "sort_prefix": tuple(data["sort_prefix"])}
    return Table(**fields)


def _pg_type(data: dict) -> PgType:
    element = _pg_type(data["element"]) if data["element"] else None
    return PgType(data["name"], data["category"], data["modifier"], element)


def described_to_json(described: SourceTable) -> dict:
    return asdict(described)


def described_from_json(data: dict) -> SourceTable:
    columns = tuple(SourceColumn(c["name"], _pg_type(c["pg"]), c["pg_type"], c["not_null"],
                                 ClickHouseType(**c["clickhouse"])) for c in data["columns"])
    return SourceTable(data["schema"], data["name"], columns, tuple(data["key"]), data["replica_identity"])


def entry_definition(entry: Entry) -> str:
    """The entry's `definition` column: the roads' table and, for an added table, the source's description."""
    described = described_to_json(entry.described) if entry.described else None
    return json.dumps({"table": table_to_json(entry.table), "described": described}, sort_keys=True)


def entry_from_row(name: str, source: str, definition: str, state: str) -> Entry:
    data = json.loads(definition)
    described = described_from_json(data["described"]) if data["described"] else None
    return Entry(replace(table_from_json(data["table"]), name=name), source, described, state)


def list_entries(olap: OlapClient, states: tuple[str, ...] = (ADDING, READY)) -> list[Entry]:
    """Every table in the catalogue in ``states``: the brief's two (the code's definitions), then those added."""
    entries = brief_entries()
    if not olap.command(EXISTS_SQL):
        return entries
    for name, source, definition, state, _ in olap.query(LIST_SQL).result_rows:
        if name not in BRIEF_SOURCES and state in states:
            entries.append(entry_from_row(name, source, definition, state))
    return entries


def roads_tables(olap: OlapClient) -> list[Table]:
    """The tables both roads copy now (an entry still "adding" included: its changes already stream)."""
    return [e.table for e in list_entries(olap)]


def find_entry(olap: OlapClient, name: str) -> Entry:
    for entry in list_entries(olap):
        if entry.name == name:
            return entry
    raise CatalogueError(f"no table named {name} in the catalogue: `bionicflow tables list` shows them")


def was_copied(olap: OlapClient, name: str) -> bool:
    """True when ``name`` was ever in the catalogue (its copies, kept by `tables remove`, are bionicflow's)."""
    if not olap.command(EXISTS_SQL):
        return False
    return bool(int(olap.command(f"SELECT count() FROM {OPS_DB}.tables WHERE name = {{n:String}}",
                                 parameters={"n": name})))


def check_name(name: str) -> None:
    """`CatalogueError` unless ``name`` can name a table in ClickHouse and in the helpers' names."""
    if not NAME_PATTERN.fullmatch(name):
        raise CatalogueError(f"{name!r} cannot name a copied table: use lower-case letters, digits and _ (starting "
                             "with a letter, at most 48), e.g. --as orders_2024")
    if name in RESERVED or name.endswith(HELPER_SUFFIXES):
        raise CatalogueError(f"{name!r} is a name the CDC road uses for its own tables: choose another with --as")


# The copies' own columns, after the source's (etl: version, load time, tombstone; cdc: the message's).
_META_COLUMNS = ("_version", "_loaded_at", "is_deleted", "_op", "_lsn", "_source_ts", "_ingested_at")
SHAPE_SQL = """SELECT name, type FROM system.columns
WHERE database = {database:String} AND table = {table:String} AND name NOT IN {meta:Array(String)}
ORDER BY position"""


def table_shape(olap: OlapClient, database: str, name: str) -> list[tuple[str, str]]:
    """(name, type) of each source column a ClickHouse copy holds, in order."""
    rows = olap.query(SHAPE_SQL, parameters={"database": database, "table": name, "meta": list(_META_COLUMNS)})
    return [(row[0], row[1]) for row in rows.result_rows]


def redescribed(conn, entry: Entry) -> Entry:
    """``entry`` as the source's catalogue describes its table now (columns added, dropped, renamed, retyped)."""
    table = entry.table
    described = describe_table(conn, table.source_schema, table.source_table)
    if entry.described:  # what `tables remove` gives back: the identity before `tables add` made it FULL
        described = replace(described, replica_identity=entry.described.replica_identity)
    return replace(entry, described=described,
                   table=roads_table(described, entry.name, table.source_database, table.topic))


def write_entry(olap: OlapClient, entry: Entry, removed: bool = False) -> None:
    ensure_ops(olap)
    table = entry.table
    olap.insert(f"{OPS_DB}.tables", [[entry.name, entry.source, table.source_database, table.source_schema,
                                      table.source_table, entry_definition(entry), entry.state, removed]],
                column_names=WRITE_COLUMNS)


def write_reshaped(olap: OlapClient, entry: Entry) -> None:
    """Record ``entry``'s new description with the state the catalogue holds now: a road's copy of the entry may
    predate `tables add`'s last step (it would write "adding" back), and a table removed meanwhile stays removed."""
    try:
        current = find_entry(olap, entry.name)
    except CatalogueError:
        return
    write_entry(olap, replace(entry, state=current.state))


def seed_brief(olap: OlapClient) -> None:
    """Write the brief's two entries unless `ops.tables` already holds them as the code defines them."""
    ensure_ops(olap)
    stored = {row[0]: row[2] for row in olap.query(LIST_SQL).result_rows}
    for entry in brief_entries():
        if stored.get(entry.name) != entry_definition(entry):
            write_entry(olap, entry)


def refuse_source_in_use(olap: OlapClient, source: str) -> None:
    """`CatalogueError` while tables of ``source`` are in the catalogue (removing it would strand them)."""
    names = [e.name for e in list_entries(olap) if e.source == source and not e.built_in]
    if names:
        raise CatalogueError(f"tables of {source} are copied ({', '.join(names)}): `bionicflow tables remove NAME` "
                             "each first")
