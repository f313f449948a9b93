"""The change journal an added table gets in its source, so that a batch load reads only what changed.

The brief's two tables have theirs in sources/batch_views.sql; an added table's is made here from
its catalogue description, for any primary key (integer, uuid, text, composite). In the source's
`bionicflow` schema, owned by the source's role (the table's owner, as `tables add` requires):

* `<name>_changes`: one row per key written since the last load — the key's columns (their own
  types), the newest writing transaction's 64-bit id, and whether that write removed the key.
  Filled by three statement-level triggers (insert, update, delete) from their transition
  tables: one INSERT per statement however many rows it wrote; an UPDATE that changes a key
  notes the old key as removed. They fire ALWAYS, also under session_replication_role = replica.
* a TRUNCATE trigger that marks the journal incomplete: the next load copies the table whole.
* `journals`: per table, the transaction id from which the journal is complete and the journal's
  own id (a journal made again, or a restore elsewhere, gets a new one; a cursor of another
  journal is not trusted).
* the views `<name>_olap_changes` (the current rows of the keys noted, rendered as
  `<name>_olap` renders them) and `<name>_gone` (the keys noted as removed).

A load reads both from its cursor on (index range scans; docs/sources.md, "Batch loads").
"""

from __future__ import annotations

from dataclasses import dataclass

from bionicflow.kernel.identifiers import pg_ident, pg_literal
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable
from bionicflow.kernel.source_views import SOURCE_SCHEMA, source_expression

# The journal's own columns; pg_catalogue refuses source columns of these names.
XID_COLUMN = "_bionicflow_xid"
GONE_COLUMN = "_bionicflow_gone"
JOURNALS = f"{pg_ident(SOURCE_SCHEMA)}.journals"
# Distinct from the brief's tables' `bionicflow_journal_*` triggers (sources/batch_views.sql).
TRIGGERS = {"insert": "REFERENCING NEW TABLE AS new_rows",
            "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "REFERENCING OLD TABLE AS old_rows",
            "truncate": ""}
TRIGGER_NAMES = tuple(f"bionicflow_note_{op}" for op in TRIGGERS)
_XACT = "pg_current_xact_id()::text::bigint"


def _in_schema(name: str) -> str:
    return f"{pg_ident(SOURCE_SCHEMA)}.{pg_ident(name)}"


def journal_table(name: str) -> str:
    return _in_schema(f"{name}_changes")


def changes_view(name: str) -> str:
    return f"{name}_olap_changes"


def gone_view(name: str) -> str:
    return f"{name}_gone"


def _note_function(name: str) -> str:
    return _in_schema(f"{name}_note")


def _truncated_function(name: str) -> str:
    return _in_schema(f"{name}_truncated")


def _upsert(described: SourceTable, name: str, rows: str) -> str:
    keys = ", ".join(pg_ident(k) for k in described.key)
    return (f"INSERT INTO {journal_table(name)} AS j ({keys}, {XID_COLUMN}, {GONE_COLUMN})\n{rows}\n"
            f"ON CONFLICT ({keys}) DO UPDATE SET {XID_COLUMN} = excluded.{XID_COLUMN}, "
            f"{GONE_COLUMN} = excluded.{GONE_COLUMN}\n"
            f"WHERE j.{XID_COLUMN} <> excluded.{XID_COLUMN} OR j.{GONE_COLUMN} <> excluded.{GONE_COLUMN};")


def _note_body(described: SourceTable, name: str) -> str:
    """The trigger function's body: the statement's keys into the journal, a removed key marked gone."""
    def keys(alias: str) -> str:
        return ", ".join(f"{alias}.{pg_ident(k)}" for k in described.key)

    same_key = " AND ".join(f"n.{pg_ident(k)} = o.{pg_ident(k)}" for k in described.key)
    inserted = f"SELECT {keys('n')}, {_XACT}, false FROM new_rows AS n"
    deleted = f"SELECT {keys('o')}, {_XACT}, true FROM old_rows AS o"
    moved_from = f"{deleted} WHERE NOT EXISTS (SELECT FROM new_rows AS n WHERE {same_key})"
    return (f"BEGIN\nIF TG_OP = 'INSERT' THEN\n{_upsert(described, name, inserted)}\n"
            f"ELSIF TG_OP = 'DELETE' THEN\n{_upsert(described, name, deleted)}\n"
            f"ELSE\n{_upsert(described, name, f'{inserted} UNION ALL {moved_from}')}\nEND IF;\n"
            "RETURN NULL;\nEND")


def _function(qualified: str, body: str) -> str:
    # SECURITY DEFINER: the source's other writers need no privilege on the journal
    return (f"CREATE OR REPLACE FUNCTION {qualified}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
            f"SET search_path = pg_catalog, pg_temp AS $bionicflow$\n{body}\n$bionicflow$")


def _complete_from_now(name: str) -> str:
    return f"UPDATE {JOURNALS} SET complete_from = {_XACT} + 1 WHERE table_name = {pg_literal(name)}"


def journal_ddl(described: SourceTable, name: str) -> list[str]:
    """The statements that make table ``name``'s journal, triggers and views (run in one transaction)."""
    keys = ", ".join(pg_ident(k) for k in described.key)
    key_columns = ", ".join(f"t.{pg_ident(k)}" for k in described.key)
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {pg_ident(SOURCE_SCHEMA)}",
        f"CREATE TABLE IF NOT EXISTS {JOURNALS} (table_name text PRIMARY KEY, complete_from bigint NOT NULL, "
        "journal_id uuid NOT NULL)",
        # the key's columns with their own types, without copying a row
        f"CREATE TABLE {journal_table(name)} AS SELECT {key_columns} FROM {described.qualified} AS t WITH NO DATA",
        f"ALTER TABLE {journal_table(name)} ADD COLUMN {XID_COLUMN} bigint NOT NULL, "
        f"ADD COLUMN {GONE_COLUMN} boolean NOT NULL, ADD PRIMARY KEY ({keys})",
        f"CREATE INDEX ON {journal_table(name)} ({XID_COLUMN})",
        _function(_note_function(name), _note_body(described, name)),
        _function(_truncated_function(name), f"BEGIN\n{_complete_from_now(name)};\nRETURN NULL;\nEND"),
    ]
    for (op, transition), trigger in zip(TRIGGERS.items(), TRIGGER_NAMES, strict=True):
        function = _truncated_function(name) if op == "truncate" else _note_function(name)
        statements += [
            f"CREATE TRIGGER {trigger} AFTER {op.upper()} ON {described.qualified} {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
            f"ALTER TABLE {described.qualified} ENABLE ALWAYS TRIGGER {trigger}",
        ]
    # complete for the transactions that end after this one (a writer still running waits for the triggers' lock)
    statements.append(f"INSERT INTO {JOURNALS} (table_name, complete_from, journal_id) "
                      f"VALUES ({pg_literal(name)}, {_XACT} + 1, gen_random_uuid()) ON CONFLICT (table_name) DO "
                      "UPDATE SET complete_from = excluded.complete_from, journal_id = excluded.journal_id")
    return [*statements, *journal_views_ddl(described, name)]


def journal_views_ddl(described: SourceTable, name: str) -> list[str]:
    """The views a load reads the journal through; made again when the table's columns change."""
    items = ", ".join(f"{source_expression(c, 't')} AS {pg_ident(c.name)}" for c in described.columns)
    same_key = " AND ".join(f"t.{pg_ident(k)} = j.{pg_ident(k)}" for k in described.key)
    key_items = ", ".join(f"{source_expression(c, 'j')} AS {pg_ident(c.name)}" for c in _key_columns(described))
    return [
        f"CREATE OR REPLACE VIEW {_in_schema(changes_view(name))} AS SELECT {items}, j.{XID_COLUMN} "
        f"FROM {journal_table(name)} AS j JOIN {described.qualified} AS t ON {same_key} WHERE NOT j.{GONE_COLUMN}",
        f"CREATE OR REPLACE VIEW {_in_schema(gone_view(name))} AS SELECT {key_items}, j.{XID_COLUMN} "
        f"FROM {journal_table(name)} AS j WHERE j.{GONE_COLUMN}",
    ]


def _key_columns(described: SourceTable) -> list[SourceColumn]:
    by_name = {c.name: c for c in described.columns}
    return [by_name[k] for k in described.key]


def drop_journal_ddl(described: SourceTable, name: str, table_exists: bool = True) -> list[str]:
    """The statements that take the journal out of the source (`tables remove`, a journal made again)."""
    drops = [f"DROP TRIGGER IF EXISTS {trigger} ON {described.qualified}" for trigger in TRIGGER_NAMES
             if table_exists]
    return [
        f"DROP VIEW IF EXISTS {_in_schema(changes_view(name))}, {_in_schema(gone_view(name))}",
        *drops,
        f"DROP FUNCTION IF EXISTS {_note_function(name)}(), {_truncated_function(name)}()",
        f"DROP TABLE IF EXISTS {journal_table(name)}",
        # a table added before journals existed has no `journals` table to leave
        f"DO $bionicflow$ BEGIN IF to_regclass({pg_literal(SOURCE_SCHEMA + '.journals')}) IS NOT NULL THEN "
        f"DELETE FROM {JOURNALS} WHERE table_name = {pg_literal(name)}; END IF; END $bionicflow$",
    ]


@dataclass(frozen=True)
class JournalState:
    """The journal as a load finds it, read in one transaction before the load reads any row."""

    journal_id: str | None  # None: no journal (a table added by an older version), or a trigger missing/disabled
    complete_from: int  # the journal holds every change from a cursor at or above this
    snapshot_xmin: int  # every transaction below it has ended: the cursor this load leaves
    next_xid: int
    changed: bool  # the journal notes a key written at or after the cursor asked about

    def trusts(self, cursor_xid: int | None, identity: str) -> bool:
        """Whether a load from ``cursor_xid`` (left by the journal named ``identity``) may read the journal alone."""
        return (self.journal_id is not None and cursor_xid is not None and identity == self.identity
                and cursor_xid >= self.complete_from)

    @property
    def identity(self) -> str:
        return f"journal {self.journal_id}"


_STATE_SQL = f"""
SELECT j.journal_id::text, j.complete_from,
       (SELECT count(*) FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = to_regclass(%(table)s)
        AND t.tgname = ANY(%(triggers)s) AND t.tgenabled = 'A'),
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
FROM {JOURNALS} AS j WHERE j.table_name = %(name)s
"""
_NO_JOURNAL_SQL = ("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                   "pg_snapshot_xmax(pg_current_snapshot())::text::bigint")


def read_journal_state(conn, described: SourceTable, name: str, since: int | None) -> JournalState:
    """The journal of table ``name`` now, and whether it notes a change at or after ``since``."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SOURCE_SCHEMA}.journals",))
        row = None
        if cur.fetchone()[0]:
            cur.execute(_STATE_SQL, {"table": described.qualified, "triggers": list(TRIGGER_NAMES), "name": name})
            row = cur.fetchone()
        if row is None or row[2] != len(TRIGGER_NAMES):
            cur.execute(_NO_JOURNAL_SQL)
            xmin, xmax = cur.fetchone()
            return JournalState(None, 0, int(xmin), int(xmax), True)
        journal_id, complete_from, _, xmin, xmax = row
        changed = True
        if since is not None:
            cur.execute(f"SELECT EXISTS (SELECT FROM {journal_table(name)} WHERE {XID_COLUMN} >= %s)", (since,))
            changed = bool(cur.fetchone()[0])
        return JournalState(journal_id, int(complete_from), int(xmin), int(xmax), changed)


def forget_sql(name: str) -> str:
    """Forget the journal's keys below the cursor a load just stored (bound: the cursor).

    A key a transaction still open has written is locked: skipped, never waited for. Waiting would hold the
    load until that transaction ends, and every writer of a key this DELETE already took would wait behind it.
    """
    journal = journal_table(name)
    return (f"DELETE FROM {journal} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {journal} WHERE {XID_COLUMN} < %s "
            "FOR UPDATE SKIP LOCKED))")


# After the source's last table is removed: the `journals` table once empty, then bionicflow's schema once nothing of
# anyone's is left in it (never CASCADE: what is still there stays, and so does the schema).
_OURS = f"to_regnamespace({pg_literal(SOURCE_SCHEMA)})"
LEAVE_SOURCE_SQL = f"""DO $bionicflow$ BEGIN
IF to_regclass({pg_literal(SOURCE_SCHEMA + '.journals')}) IS NOT NULL AND NOT EXISTS (SELECT FROM {JOURNALS}) THEN
    DROP TABLE {JOURNALS};
END IF;
IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace = {_OURS})
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = {_OURS})
THEN
    DROP SCHEMA IF EXISTS {pg_ident(SOURCE_SCHEMA)};
END IF;
END $bionicflow$"""
