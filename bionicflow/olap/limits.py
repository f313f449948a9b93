"""The settings a read-only OLAP user runs with: limits set by the server, tuning checked against them.

ClickHouse keeps such users in a settings profile with constraints; here the server applies
the same rules to the settings a request asks for (URL parameters) before the query runs,
and the statement checker (access.py) refuses ``SETTINGS`` clauses and ``SET``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bionicflow.olap.protocol import ClickHouseError

# Output/input shaping and harmless tuning a reader may ask for.
_TUNABLE = re.compile(
    r"^(output_format_\w+|input_format_\w+|format_\w+|date_time_\w+|max_block_size|max_threads|"
    r"enable_http_compression|http_zlib_compression_level|send_progress_in_http_headers|"
    r"http_headers_progress_interval_ms|wait_end_of_query|cancel_http_readonly_queries_on_client_close|"
    r"session_timezone|join_use_nulls|extremes|final|do_not_merge_across_partitions_select_final|"
    r"prefer_column_name_to_alias|use_client_time_zone|log_comment|enable_analyzer|"
    r"allow_experimental_analyzer|optimize_\w+|"
    r"max_bytes_before_external_\w+|max_rows_to_group_by|group_by_overflow_mode|"
    r"result_overflow_mode|timeout_overflow_mode|read_overflow_mode|max_rows_to_read|max_bytes_to_read)$"
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
        elif _TUNABLE.match(name):
            if name.endswith("_overflow_mode") and value not in _OVERFLOW_MODES:
                raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION", f"{name} must be throw or break")
            applied[name] = value
        else:
            raise ClickHouseError(
                164, "READONLY",
                f"Cannot modify '{name}' setting in readonly mode: read-only users may change output, "
                "format and tuning settings only; limits may only be lowered",
            )
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
