"""The settings a read-only OLAP user runs with: limits set by the server, tuning checked against them.

ClickHouse keeps such users in a settings profile with constraints; here the server applies
the same rules to the settings a request asks for (URL parameters) before the query runs,
and the statement checker (access.py) refuses ``SETTINGS`` clauses and ``SET``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bionicflow.olap.protocol import ClickHouseError

# Settings a reader may not change, as a ClickHouse settings profile would declare them
# read-only: they widen what the user sees (filters, introspection, a cache shared with other
# users), name files on the server (format schemas and templates) or lift limits the server
# keeps (per-user totals, parser limits). Every other setting may be tuned, as with readonly=2.
_FIXED = re.compile(
    r"^(readonly|additional_table_filters|additional_result_filter|allow_introspection_functions|allow_ddl|"
    r"format_schema\w*|format_template_\w+|output_format_schema|\w*query_cache\w*|max_\w+_for_(user|all_users)|"
    r"max_query_size|max_ast_depth|max_ast_elements|max_expanded_ast_elements|max_parser_depth|"
    r"max_parser_backtracks|max_concurrent_\w+|max_temporary_data_on_disk_\w+)$"
)
_OVERFLOW_MODES = {"throw", "break"}


@dataclass(frozen=True)
class ReaderLimits:
    """The most one read-only request may use (BIONICFLOW_OLAP_READER_* settings)."""

    max_execution_time: int = 120
    max_memory_usage: int = 4 * 1024**3
    max_result_rows: int = 10_000_000
    max_result_bytes: int = 1024**3

    def as_settings(self) -> dict[str, str]:
        return {name: str(value) for name, value in vars(self).items()}


def reader_settings(requested: dict[str, str], limits: ReaderLimits) -> dict[str, str]:
    """The settings a read-only request runs with: the limits, lowered where the client asks.

    Raises READONLY for a setting a reader may not change and SETTING_CONSTRAINT_VIOLATION
    for a limit asked above the server's (or 0, which would mean no limit).
    """
    caps = limits.as_settings()
    applied = dict(caps)
    for name, value in requested.items():
        if name in caps:
            applied[name] = _within(name, value, int(caps[name]))
        elif name == "readonly":
            if value not in ("1", "2"):
                raise ClickHouseError(164, "READONLY", f"Cannot modify 'readonly' setting to {value!r} in readonly mode")
        elif _FIXED.match(name):
            raise ClickHouseError(
                164, "READONLY",
                f"Cannot modify '{name}' setting in readonly mode: it is fixed by the server for read-only users",
            )
        elif name.endswith("_overflow_mode") and value not in _OVERFLOW_MODES:
            raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION", f"{name} must be throw or break")
        else:
            applied[name] = value
    return applied


def _within(name: str, value: str, cap: int) -> str:
    try:
        number = int(float(value))
    except ValueError:
        raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION", f"{name} must be a number, got {value!r}") from None
    if number <= 0 or number > cap:
        raise ClickHouseError(
            452, "SETTING_CONSTRAINT_VIOLATION",
            f"Setting {name} should be between 1 and {cap} for read-only users (asked {value})",
        )
    return str(number)
