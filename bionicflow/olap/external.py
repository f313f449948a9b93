"""External data: tables a request sends with its query, as ClickHouse reads them over HTTP.

Each file part of a multipart body is a table named like the part; `<name>_structure`
("col Type, …") or `<name>_types` ("Type, …", columns `_1`, `_2` …) and `<name>_format`
(default TabSeparated) come as URL parameters. The table exists for the one query, as a
temporary table of the request's connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bionicflow.olap.protocol import ClickHouseError, quote_identifier, quote_string

SUFFIXES = ("_format", "_structure", "_types")
_FORMAT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class ExternalTable:
    name: str
    structure: str
    format: str
    data: bytes

    def create(self) -> str:
        # The structure reaches the engine as a string literal that only its column-list parser
        # reads (through format()), never spliced into the DDL: it cannot add a clause or a statement.
        # It can declare DEFAULT/ALIAS expressions, which the engine evaluates: a read-only user's
        # structure is checked first, as format()'s is (Engine.check_external).
        # No rows, only the structure: read as TabSeparated, whatever the data's format (a Parquet or Arrow
        # reader refuses empty input as a file too short; the data follows in its own format).
        return (f"CREATE TEMPORARY TABLE {quote_identifier(self.name)} ENGINE = Memory AS "
                f"SELECT * FROM format('TabSeparated', {quote_string(self.structure)}, '')")

    def drop(self) -> str:
        return f"DROP TEMPORARY TABLE IF EXISTS {quote_identifier(self.name)}"


def external_tables(files: Mapping[str, bytes], params: Mapping[str, str]) -> list[ExternalTable]:
    """The tables of a request's file parts, with their structure and format from the URL parameters."""
    tables = []
    for name, data in files.items():
        structure = params.get(f"{name}_structure")
        types = params.get(f"{name}_types")
        if structure is None:
            if types is None:
                raise ClickHouseError(36, "BAD_ARGUMENTS", f"external table {name!r} needs {name}_structure "
                                      f"(\"col Type, …\") or {name}_types (\"Type, …\")")
            structure = ", ".join(f"_{i} {t.strip()}" for i, t in enumerate(types.split(","), 1))
        fmt = params.get(f"{name}_format") or "TabSeparated"
        if not _FORMAT_NAME.match(fmt):
            raise ClickHouseError(73, "UNKNOWN_FORMAT", f"{name}_format {fmt[:40]!r} is not a format name")
        tables.append(ExternalTable(name, structure, fmt, data))
    return tables


def external_parameter_names(files: Mapping[str, bytes]) -> set[str]:
    """The URL parameters that describe the file parts (not settings)."""
    return {f"{name}{suffix}" for name in files for suffix in SUFFIXES}
