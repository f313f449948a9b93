"""What a read-only OLAP user may call: functions, table-function arguments, column structures.

Allow-lists, not deny-lists: a function the engine gains in a later version, an admin's SQL
function, a category nobody reviewed — all refused until listed here. The lists are built from
the engine's own catalogue (``system.functions``) at start, so aliases and case-insensitive
spellings resolve to the function they name. Pure logic: the rows are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Categories of the engine's catalogue whose functions compute from their arguments alone.
PURE_CATEGORIES = frozenset({
    "Aggregate Functions", "Type Conversion", "Dates and Times", "Arrays", "String", "Geo", "Hash",
    "String Search", "JSON", "Mathematical", "URL", "Arithmetic", "Geo Polygon", "Map", "IP Address",
    "Comparison", "Tuple", "Distance", "Random Number", "Bitmap", "NumericIndexedVector", "Bit", "Encoding",
    "UUID", "String Splitting", "String Replacement", "Null", "Rounding", "Time Window", "Encryption",
    "Conditional", "Logical", "Financial", "QBit", "Time Series",
})
# Reviewed one by one from the categories "Other" and "Internal": pure, or telling the caller
# only about its own query (getSetting: its own settings). Not here, among others: file, sleep, getServerSetting,
# hasColumnInTable, joinGet, currentRequestURL (it holds a password parameter), hostName,
# filesystem*, showCertificate, the Keeper and transaction functions.
REVIEWED_FUNCTIONS = frozenset({
    "bar", "blockNumber", "blockSize", "byteSize", "countDigits", "currentDatabase", "currentUser",
    "authenticatedUser", "currentQueryID", "queryID", "initialQueryID", "initialQueryStartTime",
    "defaultValueOfArgumentType", "defaultValueOfTypeName", "dumpColumnStructure", "errorCodeToName",
    "finalizeAggregation", "formatReadableDecimalSize", "formatReadableQuantity", "formatReadableSize",
    "formatReadableTimeDelta", "formatQuery", "formatQueryOrNull", "formatQuerySingleLine",
    "formatQuerySingleLineOrNull", "getSizeOfEnumType", "getSubcolumn", "identity", "ignore", "indexHint",
    "initializeAggregation", "isConstant", "isDecimalOverflow", "lowCardinalityIndices", "lowCardinalityKeys",
    "materialize", "neighbor", "normalizeQuery", "normalizeQueryKeepNames", "normalizedQueryHash",
    "normalizedQueryHashKeepNames", "parseISO8601Duration", "parseReadableSize", "parseReadableSizeOrNull",
    "parseReadableSizeOrZero", "parseTimeDelta", "rowNumberInAllBlocks", "rowNumberInBlock",
    "runningAccumulate", "runningDifference", "runningDifferenceStartingWithFirstValue", "throwIf",
    "toColumnTypeName", "toTypeName", "transform", "variantElement", "variantType", "version", "visibleWidth",
    "uptime", "getSetting", "getSettingOrDefault", "MACNumToString", "MACStringToNum", "MACStringToOUI",
    "colorOKLABToSRGB", "colorOKLCHToSRGB", "colorSRGBToOKLAB", "colorSRGBToOKLCH", "flipCoordinates", "displayName",
    "revision",  # clickhouse-go asks it with every new connection
    # Internal names the parser itself writes: CASE x WHEN …, x::T
    "caseWithExpression", "_CAST",
})
# Not functions of the catalogue, but nodes of the parse that look like calls.
SYNTAX_FUNCTIONS = frozenset({"lambda", "tuple", "array", "exists", "grouping", "untuple", "COLUMNS"})
# Table functions a reader may call, with which of their arguments is a column structure
# (a string the engine parses as column declarations) — None: no structure argument.
TABLE_FUNCTIONS = {"numbers": None, "numbers_mt": None, "zeros": None, "zeros_mt": None, "primes": None,
                   "generate_series": None, "generateseries": None, "view": None,
                   "values": 0, "generaterandom": 0, "null": 0, "format": 1}
# Input formats format() may parse: self-describing text and binary; none reads a schema file
# or asks a registry (CapnProto, Protobuf, Avro, Template, Regexp are not here).
FORMAT_FUNCTION_FORMATS = frozenset(name.lower() for name in (
    "CSV", "CSVWithNames", "CSVWithNamesAndTypes", "TSV", "TabSeparated", "TSVWithNames", "TSVWithNamesAndTypes",
    "TabSeparatedWithNames", "TabSeparatedWithNamesAndTypes", "TSVRaw", "TabSeparatedRaw", "JSONEachRow",
    "JSONCompactEachRow", "JSONStringsEachRow", "JSONCompactStringsEachRow", "JSONLines", "NDJSON", "JSON",
    "JSONCompact", "JSONColumns", "JSONCompactColumns", "JSONObjectEachRow", "Values", "RowBinary",
    "RowBinaryWithNames", "RowBinaryWithNamesAndTypes", "Native", "Parquet", "ORC", "Arrow", "LineAsString",
    "RawBLOB", "Markdown", "CustomSeparated",
))


@dataclass(frozen=True)
class FunctionRow:
    """One row of ``system.functions`` as the allow-list needs it."""

    name: str
    alias_to: str
    categories: str
    case_insensitive: bool
    origin: str
    is_aggregate: bool


class FunctionList:
    """The functions a read-only user may call, resolved through aliases, case and aggregate combinators."""

    def __init__(self, rows: Iterable[FunctionRow], combinators: Iterable[str]):
        rows = [r for r in rows if r.origin == "System"]  # an admin's SQL or executable function: never
        by_name = {r.name: r for r in rows}
        self._allowed: set[str] = set()
        self._aggregates: set[str] = set()
        self._insensitive: dict[str, str] = {r.name.lower(): r.name for r in rows if r.case_insensitive}
        for row in rows:
            target = by_name.get(row.alias_to, row) if row.alias_to else row
            if _pure(target):
                self._allowed.add(row.name)
                if target.is_aggregate:
                    self._aggregates.add(row.name)
        # longest first: "MergeState" before "State"
        self._combinators = sorted(combinators, key=len, reverse=True)

    def allows(self, name: str) -> bool:
        """Whether ``name`` as written in a statement is a listed function (or a listed aggregate with combinators)."""
        name = self._insensitive.get(name.lower(), name)
        if name in self._allowed or name in SYNTAX_FUNCTIONS:
            return True
        return self._aggregate_with_combinators(name)

    def _aggregate_with_combinators(self, name: str) -> bool:
        for _ in range(4):  # sumIfMergeState…: a few combinators at most
            for suffix in self._combinators:
                if name.endswith(suffix) and len(name) > len(suffix):
                    name = self._insensitive.get(name[: -len(suffix)].lower(), name[: -len(suffix)])
                    break
            else:
                return False
            if name in self._aggregates:
                return True
        return False


def _pure(row: FunctionRow) -> bool:
    categories = {c.strip() for c in row.categories.split(",") if c.strip()}
    return row.name in REVIEWED_FUNCTIONS or bool(categories) and categories <= PURE_CATEGORIES


_LITERAL_STRING = re.compile(r"^'((?:[^'\\]|\\.)*)'$", re.S)


def literal_string(detail: str) -> str | None:
    """The value of an ``EXPLAIN AST`` string literal (``'a\\'b'``), None if the literal is not a string."""
    match = _LITERAL_STRING.match(detail)
    if not match:
        return None
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)),
                  match.group(1))


def structure_statement(structure: str) -> str:
    """A statement whose parse shows the column declarations of ``structure`` (only parsed, never run)."""
    return f"CREATE TEMPORARY TABLE _structure ({structure}\n) ENGINE = Memory"


# Nodes a column structure's parse may hold: names and types only (an Enum's values are `equals`).
_STRUCTURE_NODES = frozenset({"CreateQuery", "Identifier", "Columns", "ExpressionList", "ColumnDeclaration",
                              "DataType", "Literal", "NameTypePair", "Storage"})


def plain_structure(root, walk) -> bool:
    """Whether the parse of ``structure_statement`` declares columns with types only: no DEFAULT,
    ALIAS, MATERIALIZED, CODEC, TTL or anything else the engine would evaluate."""
    if root.kind != "CreateQuery":
        return False
    for node in walk(root):
        if node.kind == "Function":
            if node.detail not in ("equals", "Memory"):
                return False
        elif node.kind not in _STRUCTURE_NODES and not node.kind.endswith("DataType"):
            return False
        if node.kind == "ColumnDeclaration" and (len(node.children) != 1
                                                 or not node.children[0].kind.endswith("DataType")):
            return False
    return True
