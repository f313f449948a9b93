"""How ClickHouse reads the PostgreSQL sources: `postgresql()` with every value bound.

The batch loads, the CDC road's initial copy and reconciliation all read the sources this
way: one SELECT of a table's business columns, cast to their ClickHouse types, with the
address and credentials bound as query parameters (the password never enters the SQL text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.tables import TABLES, Table

# A load's rows have unique keys (the source's primary key), so the replacing engine's
# deduplication of each inserted block finds nothing to do; skipping it made the full
# refresh of 1M users + 5M events ~1.3x faster (docs/benchmarks.md). FINAL still collapses
# versions across loads.
LOAD_SETTINGS = {"optimize_on_insert": 0}


@dataclass(frozen=True)
class CopiedTable:
    """A table copied whole from its source: how many rows, in how long (and how many keys it found gone)."""

    table: str
    rows: int
    seconds: float
    gone: int = 0


class LoadError(BionicflowError):
    """A load was asked for something impossible (unknown table, inverted window ...)."""


@dataclass(frozen=True)
class PgSource:
    """Where ClickHouse reads a source table; the password never enters the SQL text."""

    host: str
    port: int
    database: str
    user: str
    password: str

    def connect(self, **options):
        """A psycopg2 connection to this source (``options``: more connection parameters)."""
        import psycopg2  # here, not at import: most readers of this module never connect

        return psycopg2.connect(host=self.host, port=self.port, dbname=self.database, user=self.user,
                                password=self.password, **options)


# The source table as ClickHouse reads it; every value bound (`source_params`).
POSTGRESQL_SOURCE = ("postgresql({address:String}, {database:String}, {source_table:String}, "
                     "{user:String}, {password:String})")


def source_columns(table: Table) -> str:
    """The table's business columns read from PostgreSQL, cast to their ClickHouse types."""
    # CAST to the target type: PostgreSQL uuid arrives as UUID, int4 as Int32, and so on.
    return ", ".join(f'CAST("{c.source}" AS {c.type}) AS {c.name}' for c in table.columns)


def source_select(table: Table, meta: str, where: str = "") -> str:
    """SELECT of the table's business columns from PostgreSQL, then `meta` (more select items).

    ``where``: a condition on the source's own columns, passed down to PostgreSQL. It filters
    an inner SELECT because the outer one names its casts after the columns (`CAST("id" AS
    Int64) AS id`): there `id` would mean the cast, which ClickHouse cannot pass down, and
    the whole table would travel to be filtered.
    """
    rows = f"(SELECT * FROM {POSTGRESQL_SOURCE} WHERE {where})" if where else POSTGRESQL_SOURCE
    return f"SELECT {source_columns(table)}, {meta}\nFROM {rows}"


def source_params(table: Table, source: PgSource, **extra) -> dict:
    """The bound parameters of `source_select`, plus `extra`."""
    return {
        "address": f"{source.host}:{source.port}", "database": source.database, "source_table": table.olap_relation,
        "user": source.user, "password": source.password, **extra,
    }


def reader_sources(settings) -> dict[str, PgSource]:
    """Each table's source as the read-only ETL role reads it (what Airflow's `*_reader` connections hold)."""
    user, password = settings.etl_reader_user, settings.etl_reader_password.get_secret_value()
    ports = {"crm_db": settings.crm_db_port, "telemetry_db": settings.telemetry_db_port}
    return {t.name: PgSource(settings.host, ports[t.source_database], t.source_database, user, password)
            for t in TABLES}


def check_window(start: datetime, end: datetime, max_days: int = 3660) -> None:
    """A business-time window [start, end) a load or a snapshot signal may cover."""
    if end <= start:
        raise LoadError(f"window end {end.isoformat()} is not after its start {start.isoformat()}")
    if end - start > timedelta(days=max_days):
        raise LoadError(f"window of {(end - start).days} days is longer than {max_days} days: split it, "
                        "or use mode 'full' (a full refresh)")
