"""The one way bionicflow opens a clickhouse-connect client to the OLAP server (or a ClickHouse cluster), and
`OlapClient`: what the roads need of that client, the type every `olap` parameter has.

The roads use three calls (`command`, `query`, `insert`) and three things of a result; a
clickhouse-connect client has them all, and so can a test's in-process fake (chdb). Typing the
seam as a Protocol keeps the roads free of the library's class and lets mypy check each caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from bionicflow.kernel.config import Settings

CONNECT_TIMEOUT = 5  # seconds to open the HTTP connection: a server that is up answers at once


class OlapResult(Protocol):
    """A query's answer: its rows, their column names, the server's summary (written_rows …)."""

    @property
    def result_rows(self) -> Sequence[Sequence[Any]]: ...

    @property
    def column_names(self) -> Sequence[str]: ...

    @property
    def summary(self) -> dict[str, Any]: ...


class OlapClient(Protocol):
    """What bionicflow asks of a ClickHouse client: one value, a result, an insert."""

    def command(self, cmd: str, parameters: Any = None, data: Any = None, settings: Any = None) -> Any: ...

    def query(self, query: str | None = None, parameters: Any = None, settings: Any = None) -> OlapResult: ...

    def insert(self, table: str | None = None, data: Any = None, column_names: Any = "*") -> Any: ...

    def close(self) -> None: ...


# sent with every request of every platform client (docs/reports.md, "One clock")
SESSION_SETTINGS = {"session_timezone": "UTC"}
# A naive date-time the platform inserts is UTC (the server's zone, as the session's), not this
# process's local time: clickhouse-connect's default reads it in the local zone, so a CLI run on a
# host in another zone wrote other instants.
clickhouse_connect.common.set_setting("naive_datetime_insert", "server")


def connect(host: str, port: int, username: str, password: str, *, send_receive_timeout: float = 120,
            connect_timeout: int = CONNECT_TIMEOUT, **options) -> Client:
    """A client for one server and user; ``options`` are clickhouse-connect's (database, secure …).

    Every statement runs in UTC whatever the server's zone (a compose ClickHouse follows its
    host's): the platform writes and reads times as UTC, and a report's days are UTC days.
    """
    options["settings"] = {**SESSION_SETTINGS, **options.get("settings", {})}
    return clickhouse_connect.get_client(host=host, port=port, username=username, password=password,
                                         connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout,
                                         **options)


def olap_client(settings: Settings, *, reader: bool = False, send_receive_timeout: float = 120,
                **options) -> Client:
    """A client as the administrative user (DDL, inserts) or, with ``reader``, as the read-only user."""
    user, password = ((settings.clickhouse_reader_user, settings.clickhouse_reader_password) if reader
                      else (settings.clickhouse_user, settings.clickhouse_password))
    return connect(settings.olap_address, settings.olap_port, user, password.get_secret_value(),
                   send_receive_timeout=send_receive_timeout, **options)
