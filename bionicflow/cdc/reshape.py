"""An added table on the CDC road: its first copy, and its copy again when the source table changes shape.

Added tables (`bionicflow tables add`) take their columns from the source's catalogue, so a
column added, dropped, renamed or retyped in the source is read from there too, not guessed
from Debezium's schema (the brief's two tables keep cdc/evolve.py). When a message arrives
with a row schema the consumer has not seen, it asks `reshaped`: if the source's columns now
differ from `debezium.<name>`'s, the table is made again from a fresh copy with the new
columns (through the source-side view, which is made again too), swapped in, and its views
made again; the catalogue entry gets the new description.

Why a fresh copy is exact: the consumer is the table's only writer and remakes it between two
messages, at the first message of the new shape. Every message before it (all older than the
source's schema change, in the topic's commit order) is already stored; the copy is read after
the schema change, so it holds every row with its value of the new column (also rows written
before it, which Debezium never resends); every later message has a higher version than the
copy's 0 and replays changes in order, ending at the source's state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from bionicflow.cdc import ddl
from bionicflow.kernel.identifiers import ch_ident
from bionicflow.kernel.pg_catalogue import SourceTable
from bionicflow.kernel.source_registry import find_source
from bionicflow.kernel.source_views import recreate_view_ddl, view_params, view_select
from bionicflow.kernel.sources import LOAD_SETTINGS, CopiedTable, PgSource
from bionicflow.kernel.table_catalogue import Entry, redescribed, table_shape, write_reshaped
from bionicflow.kernel.tables import CDC_DB

if TYPE_CHECKING:
    from bionicflow.kernel.config import Settings
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.cdc.reshape")

# The CDC road's copy: every row a snapshot read at version 0 (streamed changes are offset + 1).
COPY_META = "'r' AS _op, 0 AS _lsn, 0 AS _version, now64(6) AS _source_ts, 0 AS is_deleted"


def copy_into(olap: OlapClient, source: PgSource, described: SourceTable, name: str, target: str = "") -> CopiedTable:
    """Copy the source table into `debezium.<target or name>` as version 0, through the view of table ``name``."""
    started = time.monotonic()
    target = target or name
    names = ", ".join(ch_ident(c.name) for c in described.columns)
    olap.command(f"INSERT INTO {CDC_DB}.{target} ({names}, _op, _lsn, _version, _source_ts, is_deleted) "
                 f"{view_select(described, COPY_META)}", parameters=view_params(source, name), settings=LOAD_SETTINGS)
    rows = olap.command(f"SELECT count() FROM {CDC_DB}.{target} FINAL WHERE NOT is_deleted")
    return CopiedTable(target, int(rows), time.monotonic() - started)


def reshaped(olap: OlapClient, settings: Settings, entry: Entry) -> Entry | None:
    """Remake `debezium.<name>` with the source table's columns if they changed; the new entry, or None."""
    source = find_source(olap, settings, entry.source)
    conn = source.connect(settings)
    try:
        now = redescribed(conn, entry)
        if now.described is None or table_shape(olap, CDC_DB, entry.name) == now.shape:
            return None
        with conn, conn.cursor() as cur:  # the view selects the old columns (or went with DROP ... CASCADE)
            for statement in recreate_view_ddl(now.described, entry.name):
                cur.execute(statement)
    finally:
        conn.close()
    name, spare = entry.name, f"{entry.name}__reshaped"
    log.info("%s: the source table's columns changed; %s.%s is made again from a fresh copy", name, CDC_DB, name)
    olap.command(f"DROP TABLE IF EXISTS {CDC_DB}.{spare}")
    olap.command(ddl.target_table_ddl(replace(now.table, name=spare)))
    copied = copy_into(olap, source.with_password(settings), now.described, name, target=spare)
    for suffix in ddl.VIEW_SUFFIXES:
        olap.command(f"DROP TABLE IF EXISTS {CDC_DB}.{name}{suffix}")
    olap.command(f"EXCHANGE TABLES {CDC_DB}.{name} AND {CDC_DB}.{spare}")
    olap.command(f"DROP TABLE {CDC_DB}.{spare}")
    for statement in ddl.views_ddl(now.table):
        olap.command(statement)
    write_reshaped(olap, now)
    log.info("%s: %s rows copied with the new columns in %.1fs", name, copied.rows, copied.seconds)
    return now
