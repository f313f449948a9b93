"""PostgreSQL column types → ClickHouse types that hold every value exactly, the same on both roads.

Pure logic: `bionicflow/kernel/pg_catalogue.py` reads a column's type from the source's
catalogue (domains already resolved to their base type) and asks `clickhouse_type` for the
column ClickHouse gets. A type with no exact ClickHouse counterpart is copied as PostgreSQL's
own text form of the value, and the mapping says so (`text_form`, with the reason), so
`bionicflow tables add` names it instead of changing values silently. The table of choices
and their reasons is in docs/sources.md ("Types").
"""

from __future__ import annotations

from dataclasses import dataclass

# The widest ClickHouse decimal: Decimal256 holds 76 significant digits.
MAX_DECIMAL_PRECISION = 76


@dataclass(frozen=True)
class PgType:
    """A column's type as the source's catalogue describes it, domains resolved."""

    name: str  # pg_type.typname of the base type: int4, numeric, _text (an array) ...
    category: str = ""  # pg_type.typtype: b base, e enum, c composite, r range, m multirange, p pseudo
    modifier: int = -1  # the column's atttypmod (numeric precision and scale; -1: none)
    element: PgType | None = None  # an array's element type (its name without the leading "_")


@dataclass(frozen=True)
class ClickHouseType:
    """What a column becomes in ClickHouse, and how the CDC road reads it from a Debezium message."""

    type: str  # the ClickHouse type, Nullable(...) included when the source column may be NULL
    kind: str  # how the CDC road will read Debezium's JSON value: int, decimal, float, ...
    text_form: str = ""  # why the value is kept as PostgreSQL's text of it ("" = an exact native type)
    # source values the type cannot hold: copying one stops the batch copy with an error and
    # dead-letters the change on the CDC road, never stores something else (docs/sources.md)
    limit: str = ""


# Scalar types with a native ClickHouse counterpart that holds every value the source can.
_EXACT = {
    "int2": ("Int16", "int"), "int4": ("Int32", "int"), "int8": ("Int64", "int"),
    "float4": ("Float32", "float"), "float8": ("Float64", "float"),
    "bool": ("Bool", "bool"),
    "text": ("String", "string"), "varchar": ("String", "string"), "bpchar": ("String", "string"),
    "name": ("String", "string"), "char": ("String", "string"),
    "uuid": ("UUID", "string"),
    # Debezium's MicroTimestamp (microseconds since 1970, no zone) and ZonedTimestamp (ISO, UTC).
    "timestamp": ("DateTime64(6)", "micros"), "timestamptz": ("DateTime64(6, 'UTC')", "timestamptz"),
    "date": ("Date32", "date"),
    "time": ("Time64(6)", "time"),
    # the JSON text as PostgreSQL gives it (jsonb: its normalised form); ClickHouse's JSON type would
    # reorder keys, drop duplicates and round numbers beyond 64 bits
    "json": ("String", "json"), "jsonb": ("String", "json"),
    "bytea": ("String", "bytes"),
}

# What an exact type's ClickHouse column cannot hold of the source's values.
_DATES = "±infinity, and days before 1900-01-01 or after 2299-12-31"
_LIMITS = {"date": _DATES, "timestamp": _DATES, "timestamptz": _DATES}

# Types kept as PostgreSQL's text of the value, each with the reason no native type will do.
_TEXT_FORM = {
    "interval": "ClickHouse has no type with months, days and microseconds apart (ISO 8601 text, e.g. P1Y2M3DT4H)",
    "timetz": "ClickHouse's Time has no UTC offset",
    "inet": "ClickHouse's IPv4/IPv6 hold one family each and no netmask",
    "cidr": "ClickHouse's IPv4/IPv6 hold one family each and no netmask",
    "macaddr": "ClickHouse has no MAC address type", "macaddr8": "ClickHouse has no MAC address type",
    "money": "kept as its amount's text (12.34): its scale follows the source's lc_monetary",
}


def clickhouse_type(pg: PgType, nullable: bool) -> ClickHouseType:
    """The ClickHouse column for a source column of type ``pg`` (``nullable``: it may hold NULL)."""
    if pg.element is not None:
        return _array(pg, nullable)
    mapped = _scalar(pg)
    return _nullable(mapped) if nullable else mapped


def _scalar(pg: PgType) -> ClickHouseType:
    if pg.category == "e":
        # enum labels can be added to the type at any time: a ClickHouse Enum would refuse new ones
        return ClickHouseType("LowCardinality(String)", "string")
    if pg.name == "numeric":
        return _numeric(pg.modifier)
    if pg.name == "timestamp" and 0 <= pg.modifier <= 3:
        # Debezium sends timestamp(0..3) as milliseconds since 1970 (io.debezium.time.Timestamp)
        return ClickHouseType("DateTime64(6)", "millis", limit=_LIMITS["timestamp"])
    if pg.name in _EXACT:
        return ClickHouseType(*_EXACT[pg.name], limit=_LIMITS.get(pg.name, ""))
    reason = _TEXT_FORM.get(pg.name) or f"ClickHouse has no type for PostgreSQL's {pg.name}"
    return ClickHouseType("String", "string", text_form=reason)


def _numeric(modifier: int) -> ClickHouseType:
    if modifier < 0:
        return ClickHouseType("String", "decimal", text_form=(
            "numeric without precision holds up to 131072 digits, NaN and ±Infinity: no ClickHouse number "
            "does; declare numeric(p,s) with p <= 76 for a Decimal"))
    precision, scale = numeric_precision_scale(modifier)
    # PostgreSQL 15 allows a negative scale (rounding to tens, hundreds ...) and a scale above the
    # precision (0.00012 in numeric(2,5)); ClickHouse's Decimal wants 0 <= S <= P.
    digits = max(precision - min(scale, 0), scale)
    if digits > MAX_DECIMAL_PRECISION:
        return ClickHouseType("String", "decimal", text_form=(
            f"numeric({precision},{scale}) needs {digits} digits; ClickHouse's widest Decimal holds "
            f"{MAX_DECIMAL_PRECISION}"))
    return ClickHouseType(f"Decimal({digits}, {max(scale, 0)})", "decimal", limit="NaN")


def numeric_precision_scale(modifier: int) -> tuple[int, int]:
    """numeric(p, s) from its atttypmod: ((p << 16) | (s & 0x7ff)) + 4, the scale 11-bit signed."""
    value = modifier - 4
    scale = value & 0x7FF
    return (value >> 16) & 0xFFFF, scale - 0x800 if scale & 0x400 else scale


def _array(pg: PgType, nullable: bool) -> ClickHouseType:
    assert pg.element is not None
    if nullable:
        # ClickHouse has no Nullable(Array(...)): a NULL array would read as [] - a change of value
        return ClickHouseType("Nullable(String)", f"json_array:{_scalar(pg.element).kind}", text_form=(
            "a nullable array, kept as its JSON text: ClickHouse arrays cannot be NULL; declare the column "
            "NOT NULL for an Array"))
    element = _scalar(pg.element)
    if element.text_form:
        return ClickHouseType("Array(Nullable(String))", "array:string", text_form=element.text_form)
    if element.kind in _TEXT_ARRAY_KINDS:
        return ClickHouseType("String", f"json_array:{element.kind}", text_form=_TEXT_ARRAY_KINDS[element.kind])
    # Elements may be NULL in any PostgreSQL array. A column's type does not fix the number of dimensions.
    shape = "arrays of more than one dimension or not starting at index 1"
    limit = f"{shape}; in elements: {element.limit}" if element.limit else shape
    return ClickHouseType(f"Array({_nullable(element).type})", f"array:{element.kind}", limit=limit)


# Arrays whose elements are not yet copied natively on both roads, kept as a text of their own:
# Their text is the JSON array Debezium sends: timestamps as numbers since 1970, bytes as base64.
_TEXT_ARRAY_KINDS = {
    "millis": "arrays of timestamps are kept as JSON text (milliseconds since 1970), not yet as Array(DateTime64)",
    "micros": "arrays of timestamps are kept as JSON text (microseconds since 1970), not yet as Array(DateTime64)",
    "timestamptz": "arrays of timestamptz are kept as JSON text (ISO 8601 in UTC), not yet as Array(DateTime64)",
    "bytes": "arrays of bytea are kept as JSON text (base64 elements)",
}


def _nullable(mapped: ClickHouseType) -> ClickHouseType:
    inner = mapped.type
    if inner.startswith("LowCardinality("):
        inner = f"LowCardinality(Nullable({inner[len('LowCardinality('):-1]}))"
    else:
        inner = f"Nullable({inner})"
    return ClickHouseType(inner, mapped.kind, mapped.text_form, mapped.limit)


# Key columns: types whose values compare and hash the same on both roads and in the source.
KEY_KINDS = frozenset({"int", "string", "decimal", "date", "millis", "micros", "timestamptz", "bool"})


def key_refusal(column: str, pg: PgType, mapped: ClickHouseType, printed: str = "") -> str:
    """Why ``column`` cannot be (part of) a copied table's key, or "" when it can; ``printed``: its type's name."""
    if mapped.text_form or mapped.kind not in KEY_KINDS or pg.element is not None:
        fix = ("declare it numeric(p,s)" if pg.name == "numeric" else
               "make an identity column the primary key (ALTER TABLE ... ADD COLUMN id bigint GENERATED ALWAYS AS "
               "IDENTITY PRIMARY KEY, after dropping the current key)")
        return (f"primary key column {column} is of type {printed or pg.name}: bionicflow keys a copy by integer, "
                f"uuid, text, numeric(p,s), date, timestamp or boolean columns (docs/sources.md, \"Keys\"); {fix}")
    return ""
