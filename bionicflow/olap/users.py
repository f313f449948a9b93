"""Who may use the OLAP server: the two users of the settings, checked from the request head alone."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from bionicflow.kernel.config import Settings
from bionicflow.olap.limits import ReaderLimits
from bionicflow.olap.protocol import auth_failed, password_required, read_credentials


@dataclass(frozen=True)
class User:
    name: str
    password: str
    readonly: bool
    databases: frozenset[str] = frozenset()  # read-only users: the only databases they may read


def limits_from_settings(settings: Settings) -> ReaderLimits:
    return ReaderLimits(settings.olap_reader_max_execution_time, settings.olap_reader_max_memory_usage,
                        settings.olap_reader_max_result_rows, settings.olap_reader_max_result_bytes)


def users_from_settings(settings: Settings) -> dict[str, User]:
    return {
        settings.clickhouse_user: User(
            settings.clickhouse_user, settings.clickhouse_password.get_secret_value(), readonly=False
        ),
        settings.clickhouse_reader_user: User(
            settings.clickhouse_reader_user, settings.clickhouse_reader_password.get_secret_value(), readonly=True,
            databases=frozenset(settings.clickhouse_reader_databases),
        ),
    }


def authenticate(users: dict[str, User], request: Request, params: dict) -> User:
    creds = read_credentials(request.headers, params)
    user = users.get(creds.user)
    given = creds.password.encode()
    if user is None or not hmac.compare_digest(given, user.password.encode()):
        raise password_required() if creds.anonymous else auth_failed(creds.user)
    return user
