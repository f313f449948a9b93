"""The settings a read-only OLAP user runs with: limits set by the server, tuning checked against them.

ClickHouse keeps such users in a settings profile with constraints; here the server applies
the same rules to the settings a request asks for (URL parameters) before the query runs,
and the statement checker (access.py) refuses ``SETTINGS`` clauses and ``SET``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bionicflow.olap.protocol import ClickHouseError

# The settings a reader may tune: an allow-list of output and input format options, how the
# query is planned, and the HTTP layer's own (progress, compression). Anything else — a URL,
# a path, a host, a schema file, a sleep, a cache shared with other users, a filter, a limit
# of the server's — is refused, also a setting a later engine adds, until it is listed here.
_TUNABLE = re.compile(
    r"^(output_format_\w+|input_format_\w+|format_(csv|tsv|custom|json|values|binary|regexp)_\w+|date_time_\w+|"
    r"interval_output_format|bool_(true|false)_representation|session_timezone|join_use_nulls|join_algorithm|"
    r"joined_subquery_requires_alias|any_join_distinct_right_table_keys|extremes|totals_mode|totals_auto_threshold|"
    r"aggregate_functions_null_for_empty|transform_null_in|(union|intersect|except)_default_mode|"
    r"prefer_column_name_to_alias|short_circuit_function_evaluation|count_distinct_implementation|"
    r"group_by_use_nulls|cast_\w+|final|optimize_\w+|enable_analyzer|allow_experimental_analyzer|"
    r"allow_experimental_\w+_type|enable_\w+_type|allow_suspicious_\w+|use_index_for_in_with_subqueries|"
    r"\w+_overflow_mode|send_progress_in_http_headers|http_headers_progress_interval_ms|wait_end_of_query|"
    r"enable_http_compression|http_zlib_compression_level|network_compression_method|"
    r"cancel_http_readonly_queries_on_client_close|http_write_exception_in_output_format|log_comment|"
    r"output_format_json_quote_64bit_integers|precise_float_parsing|data_type_default_nullable|"
    # what clients send on every request whatever it is (the JDBC driver: async_insert); a reader's
    # writes are refused anyway
    r"async_insert\w*|wait_for_async_insert\w*|insert_\w+)$"
)
# Words no tunable setting may hold: where they appear, the value names something outside.
_OUTSIDE = re.compile(r"url|path|file|host|schema|dir|sleep|proxy|secret|cache|disk|s3|hdfs|azure|kafka")
# Settings a reader may only lower (None: the server sets no limit, any non-negative value lowers it).
_LOWERING = {"max_threads": 64, "max_block_size": 1_000_000, "max_rows_to_read": None, "max_bytes_to_read": None,
             "max_rows_to_group_by": None, "max_rows_to_sort": None, "max_bytes_to_sort": None,
             "max_rows_in_join": None, "max_bytes_in_join": None, "max_columns_to_read": None,
             "max_result_rows": None, "max_rows_to_transfer": None, "max_bytes_to_transfer": None}
_MAX_VALUE = 1024  # characters: a format option or a comment, never a document
_OVERFLOW_MODES = {"throw", "break"}
_PROGRESS_MIN_MS = 100


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
        if name == "readonly":
            if value not in ("1", "2"):
                raise ClickHouseError(164, "READONLY",
                                      f"Cannot modify 'readonly' setting to {value[:20]!r} in readonly mode")
            continue  # a reader's request is read-only anyway: never SET, where it would outlive the request
        if name in caps:
            applied[name] = _within(name, value, int(caps[name]))
        elif name in _LOWERING:
            applied[name] = _lowered(name, value, _LOWERING[name])
        elif not _TUNABLE.match(name) or _OUTSIDE.search(name):
            raise ClickHouseError(
                164, "READONLY",
                f"Cannot modify '{name}' setting in readonly mode: read-only users may tune format, planning "
                "and HTTP settings only (docs/olap-server.md)",
            )
        elif len(value) > _MAX_VALUE:
            raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION",
                                  f"{name}: a value of at most {_MAX_VALUE} characters")
        elif name.endswith("_overflow_mode") and value not in _OVERFLOW_MODES:
            raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION", f"{name} must be throw or break")
        elif name == "http_headers_progress_interval_ms":
            applied[name] = str(max(_PROGRESS_MIN_MS, int(_number(name, value))))
        else:
            applied[name] = value
    return applied


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION", f"{name} must be a number, got {value[:40]!r}")
    return number


def _lowered(name: str, value: str, cap: int | None) -> str:
    number = int(_number(name, value))
    if number < 0 or (cap is not None and not 0 < number <= cap):
        raise ClickHouseError(452, "SETTING_CONSTRAINT_VIOLATION",
                              f"Setting {name} should be between {0 if cap is None else 1} and {cap or 'any'} "
                              f"for read-only users (asked {value[:40]})")
    return str(number)


def _within(name: str, value: str, cap: int) -> str:
    number = int(_number(name, value))
    if number <= 0 or number > cap:
        raise ClickHouseError(
            452, "SETTING_CONSTRAINT_VIOLATION",
            f"Setting {name} should be between 1 and {cap} for read-only users (asked {value[:40]})",
        )
    return str(number)
