"""The one way bionicflow opens a clickhouse-connect client to the OLAP server (or a ClickHouse cluster)."""

from __future__ import annotations

import clickhouse_connect

from bionicflow.kernel.config import Settings

CONNECT_TIMEOUT = 5  # seconds to open the HTTP connection: a server that is up answers at once


def connect(host: str, port: int, username: str, password: str, *, send_receive_timeout: float = 120,
            connect_timeout: int = CONNECT_TIMEOUT, **options):
    """A client for one server and user; ``options`` are clickhouse-connect's (database, secure …)."""
    return clickhouse_connect.get_client(host=host, port=port, username=username, password=password,
                                         connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout,
                                         **options)


def olap_client(settings: Settings, *, reader: bool = False, send_receive_timeout: float = 120, **options):
    """A client as the administrative user (DDL, inserts) or, with ``reader``, as the read-only user."""
    user, password = ((settings.clickhouse_reader_user, settings.clickhouse_reader_password) if reader
                      else (settings.clickhouse_user, settings.clickhouse_password))
    return connect(settings.olap_address, settings.olap_port, user, password.get_secret_value(),
                   send_receive_timeout=send_receive_timeout, **options)
