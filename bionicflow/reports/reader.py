"""The one thing reports need from the OLAP store: rows for a parameterised query."""

from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Sequence
from typing import Any, Protocol, TYPE_CHECKING

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient


# a result's rows, each a sequence of column values (clickhouse-connect's and chdb's rows alike)
Rows = Sequence[Sequence[Any]]


class OlapReader(Protocol):
    def rows(self, sql: str, params: dict[str, Any], settings: dict[str, Any] | None = None) -> Rows:
        """Run a read-only query with server-side bound parameters.

        ``settings`` tune how the engine runs it (never what it returns).
        """


def bind(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as ClickHouse reads them (date-times with microseconds)."""
    return {k: _datetime_text(v) if isinstance(v, datetime) else v for k, v in params.items()}


def _datetime_text(value: datetime) -> str:
    # isoformat, not strftime: glibc's %Y writes the year 1 as "1", which ClickHouse cannot parse
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# The OLAP server's answer to a statement that met a table or view being remade: nothing ran, send it again
# (bionicflow/olap/streaming.py `catalogue_moved`).
CATALOGUE_MOVED = "QUERY_WAS_CANCELLED"
SENT_AGAIN = 3


class ClickHouseReader:
    """OlapReader over a clickhouse-connect client (the OLAP server, or a ClickHouse cluster)."""

    def __init__(self, client: OlapClient, timeout_seconds: float | None = None):
        self.client = client
        self.settings = {"max_execution_time": int(timeout_seconds)} if timeout_seconds else {}

    def rows(self, sql: str, params: dict[str, Any], settings: dict[str, Any] | None = None) -> Rows:
        from clickhouse_connect.driver.exceptions import DatabaseError

        attempt = 1
        while True:
            try:
                return self.client.query(sql, parameters=bind(params),
                                         settings={**self.settings, **(settings or {})}).result_rows
            except DatabaseError as exc:
                # the OLAP server refused before running it (a view or table was being remade): a read, so asked again
                if CATALOGUE_MOVED not in str(exc) or attempt == SENT_AGAIN:
                    raise
                attempt += 1


class ChdbReader:
    """OlapReader over an in-process chdb session (tests, benchmarks' in-process baseline)."""

    def __init__(self, session):
        self.session = session

    def rows(self, sql: str, params: dict[str, Any], settings: dict[str, Any] | None = None) -> Rows:
        # settings only tune a shared server's work; one in-process session runs with its own
        table = self.session.query(sql, "ArrowTable", params=bind(params))
        return [tuple(_naive(v) for v in row.values()) for row in table.to_pylist()]


def _naive(value: Any) -> Any:
    """Date-times as clickhouse-connect returns them: naive, in UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
