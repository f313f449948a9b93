"""PostgreSQL sources from Airflow connections, in the shape the batch loads take."""

from __future__ import annotations

from airflow.sdk import BaseHook

from typing import TYPE_CHECKING

from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import TABLES

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient
    from bionicflow.kernel.table_catalogue import Entry

# Which Airflow connection reads each source table: the read-only ETL role (least privilege).
SOURCE_CONNECTIONS = {t.name: f"{t.source_database}_reader" for t in TABLES}
# Which connection may write Debezium signals (ad hoc incremental snapshots): the database owner.
SIGNAL_CONNECTIONS = {t.name: t.source_database for t in TABLES}


def pg_source(table: str) -> PgSource:
    conn = BaseHook.get_connection(SOURCE_CONNECTIONS[table])
    return PgSource(host=conn.host or "", port=conn.port or 5432, database=conn.schema or "", user=conn.login or "",
                    password=conn.password or "")


def added_source(olap: OlapClient, entry: Entry) -> PgSource:
    """Where an added table's source is (`ops.sources`), with its password (docs/sources.md: never in Airflow)."""
    from bionicflow.kernel.config import Settings
    from bionicflow.kernel.source_registry import find_source

    settings = Settings()
    return find_source(olap, settings, entry.source).with_password(settings)


def added_sources(olap: OlapClient) -> list[tuple[Entry, PgSource]]:
    """Every table `tables add` put in the catalogue with its source; one whose source has no password is left out
    (logged), so the others are still reconciled."""
    import logging

    from bionicflow.kernel.errors import BionicflowError
    from bionicflow.kernel.table_catalogue import READY, list_entries

    pairs = []
    for entry in list_entries(olap, states=(READY,)):
        if entry.built_in:
            continue
        try:
            pairs.append((entry, added_source(olap, entry)))
        except BionicflowError as exc:
            logging.getLogger("airflow.task").warning("%s not reconciled: %s", entry.name, exc)
    return pairs
