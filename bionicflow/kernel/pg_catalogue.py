"""A source table as PostgreSQL's catalogue describes it, and what ClickHouse gets for each column.

`describe_table` reads pg_class, pg_attribute, pg_type and pg_index over any psycopg2-style
connection (the catalogue is readable by every role, unlike information_schema) and refuses,
with the fix, what cannot be copied: a missing relation, a view, a table without a primary
key or with a key column of a type no road can key by. `bionicflow tables add` starts here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.identifiers import pg_ident
from bionicflow.kernel.pg_types import ClickHouseType, PgType, clickhouse_type, key_refusal
from bionicflow.kernel.tables import Column, Table

# The relation by schema and name; relkind r = table, p = partitioned table (pg_class), refused.
RELATION_SQL = """
SELECT c.oid, c.relkind::text, c.relreplident::text, pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       (SELECT i.inhparent::regclass::text FROM pg_catalog.pg_inherits AS i
        WHERE i.inhrelid = c.oid AND c.relispartition)
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""

COLUMNS_SQL = """
SELECT a.attname::text, a.atttypid::bigint, a.atttypmod, a.attnotnull
FROM pg_catalog.pg_attribute AS a
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

# One type: its name, kind, a domain's base type and modifier, an array's element type.
TYPE_SQL = """
SELECT t.typname::text, t.typtype::text, t.typbasetype::bigint, t.typtypmod, t.typcategory::text, t.typelem::bigint
FROM pg_catalog.pg_type AS t WHERE t.oid = %s
"""

# The primary key's columns in the key's order.
PRIMARY_KEY_SQL = """
SELECT a.attname::text
FROM pg_catalog.pg_index AS i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.position
"""

_KINDS = {"v": "a view", "m": "a materialized view", "f": "a foreign table", "S": "a sequence",
          "i": "an index", "I": "an index", "c": "a composite type", "t": "a TOAST table"}


class TableRefused(BionicflowError):
    """A source relation bionicflow cannot copy; the message says why and what to do."""


@dataclass(frozen=True)
class SourceColumn:
    name: str
    pg: PgType
    pg_type: str  # as PostgreSQL prints it (format_type): numeric(12,2), text[], a domain's name ...
    not_null: bool
    clickhouse: ClickHouseType


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str
    columns: tuple[SourceColumn, ...]
    key: tuple[str, ...]  # the primary key's columns, in order
    replica_identity: str  # d default (the key), f full, i an index, n nothing

    @property
    def qualified(self) -> str:
        """schema.table, each quoted for PostgreSQL."""
        return f"{pg_ident(self.schema)}.{pg_ident(self.name)}"

    @property
    def text_form_columns(self) -> list[SourceColumn]:
        """The columns copied as PostgreSQL's text of the value (no exact ClickHouse type)."""
        return [c for c in self.columns if c.clickhouse.text_form]


def describe_table(conn, schema: str, table: str) -> SourceTable:
    """Read ``schema.table`` from the source's catalogue; `TableRefused` if it cannot be copied."""
    quoted = f"{pg_ident(schema)}.{pg_ident(table)}"
    with conn.cursor() as cur:
        cur.execute(RELATION_SQL, (schema, table))
        found = cur.fetchone()
        if found is None:
            raise TableRefused(f"{quoted} does not exist in this source (names are case-sensitive; a name holding "
                               f"a dot goes in double quotes; `\\dt {pg_ident(schema)}.*` in psql lists its tables)")
        oid, relkind, identity, readable, parent = found
        cur.execute("SELECT current_user")
        _refuse_relation(quoted, relkind, identity, readable, parent, cur.fetchone()[0])
        key = _primary_key(cur, oid)
        if not key:
            raise TableRefused(
                f"{quoted} has no primary key: both roads find a row by it (updates, deletes, reconciliation). "
                f"Add one (ALTER TABLE {quoted} ADD PRIMARY KEY (...)), or an identity column as the key if no "
                "column set is unique")
        columns = tuple(_columns(cur, oid, set(key)))
    described = SourceTable(schema, table, columns, key, identity)
    refusals = [key_refusal(c.name, c.pg, c.clickhouse, c.pg_type) for c in columns if c.name in key]
    refusals += _name_refusals([c.name for c in columns])
    if any(refusals):
        raise TableRefused(f"{quoted}: " + "; ".join(r for r in refusals if r))
    return described


# Column names both copies use for their own bookkeeping (etl/table_copy.py, cdc/ddl.py META_COLUMNS), and the
# names the CDC views give the parts of a message (cdc/ddl.py `_message_parts`): a source column may take none.
RESERVED_COLUMNS = frozenset({"_version", "_loaded_at", "is_deleted", "_op", "_lsn", "_source_ts", "_ingested_at",
                              "payload", "p", "op", "before", "after", "img", "src", "raw_fields", "fields",
                              "image", "row_img", "_topic", "_partition", "_offset",
                              # the change journal's (kernel/source_journal.py)
                              "_bionicflow_xid", "_bionicflow_gone"})


def _name_refusals(names: list[str]) -> list[str]:
    """Column names the copies cannot take: reserved ones, and names differing only by case (Debezium refuses those)."""
    reserved = ", ".join(sorted(RESERVED_COLUMNS))
    refusals = [f"column {pg_ident(n)} has a name the copies use for their own columns ({reserved}): rename it in "
                f"the source (ALTER TABLE ... RENAME COLUMN {pg_ident(n)} TO ...)"
                for n in names if n in RESERVED_COLUMNS]
    folded: dict[str, list[str]] = {}
    for n in names:
        folded.setdefault(n.lower(), []).append(n)
    refusals += [f"columns {' and '.join(pg_ident(n) for n in same)} differ only by case, which Debezium cannot "
                 "stream: rename one" for same in folded.values() if len(same) > 1]
    return refusals


def _refuse_relation(quoted: str, relkind: str, identity: str, readable: bool, parent: str | None,
                     role: str) -> None:
    if relkind not in ("r", "p"):
        raise TableRefused(f"{quoted} is {_KINDS.get(relkind, 'not a table')}: only tables have changes to "
                           "stream; copy the tables it reads instead")
    if relkind == "p" or parent:
        # a write made to a partition bypasses the parent's triggers, and the publication would have to publish
        # through the root: copied as a plain table, such a table would silently miss changes on both roads
        what = f"a partition of {parent}" if parent else "a partitioned table"
        raise TableRefused(f"{quoted} is {what}: bionicflow does not copy partitioned tables yet (docs/sources.md, "
                           "\"Known gaps\"); copy a table that is not partitioned")
    if not readable:
        raise TableRefused(f"the source's role may not read {quoted}, which both roads read: GRANT SELECT ON {quoted} "
                           f"TO {pg_ident(role)}; (and `tables add` needs the role to own it: ALTER TABLE {quoted} "
                           f"OWNER TO {pg_ident(role)};)")
    if identity == "n":
        raise TableRefused(f"{quoted} has REPLICA IDENTITY NOTHING: its updates and deletes cannot reach the CDC "
                           f"road; ALTER TABLE {quoted} REPLICA IDENTITY DEFAULT; (the primary key)")


def _primary_key(cur, oid: int) -> tuple[str, ...]:
    cur.execute(PRIMARY_KEY_SQL, (oid,))
    return tuple(row[0] for row in cur.fetchall())


def _columns(cur, oid: int, key: set[str]):
    cur.execute(COLUMNS_SQL, (oid,))
    for name, type_oid, modifier, not_null in cur.fetchall():
        pg, printed = _resolve(cur, type_oid, modifier)
        nullable = not not_null and name not in key
        yield SourceColumn(name, pg, printed, not nullable, clickhouse_type(pg, nullable))


def _resolve(cur, type_oid: int, modifier: int) -> tuple[PgType, str]:
    """The type with its domains resolved to their base, and the column's type as PostgreSQL prints it."""
    cur.execute("SELECT pg_catalog.format_type(%s, %s)", (type_oid, modifier))
    printed = cur.fetchone()[0]
    return _base_type(cur, type_oid, modifier), printed


def _base_type(cur, type_oid: int, modifier: int) -> PgType:
    while True:
        cur.execute(TYPE_SQL, (type_oid,))
        name, typtype, base, base_modifier, category, element = cur.fetchone()
        if typtype != "d":
            break
        # a domain: its base type, with the domain's own modifier (numeric(10,2) under the domain)
        type_oid, modifier = base, base_modifier
    if category == "A" and element:
        return PgType(name, typtype, modifier, element=_base_type(cur, element, modifier))
    return PgType(name, typtype, modifier)


def roads_table(described: SourceTable, name: str, source_database: str, topic: str) -> Table:
    """The Table both roads render their SQL from, for a described source table copied as ``name``.

    Its business time (what windows and backfills run on) is its first timestamp column, if any;
    nothing is hashed ahead of the key in the sorting key (the brief's user_uuid is theirs).
    """
    timestamps = [c.name for c in described.columns if c.clickhouse.kind in ("millis", "micros", "timestamptz")]
    return Table(
        name=name, source_database=source_database, source_table=described.name, source_schema=described.schema,
        key=described.key[0],
        more_key=described.key[1:], business_time=timestamps[0] if timestamps else "", topic=topic,
        consumer_group=f"bionicflow_{name}", sort_prefix=(),
        columns=tuple(Column(c.name, c.clickhouse.type, c.name, c.clickhouse.kind) for c in described.columns),
    )

