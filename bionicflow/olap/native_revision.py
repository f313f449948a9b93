"""Native results as a client of a given protocol revision reads them (`client_protocol_version`).

ClickHouse's HTTP interface takes the client's protocol revision as a URL parameter and
writes its Native output for it: every block starts with the block's info (8 bytes) when
the revision is above 0, a `DateTime('zone')` column keeps its zone from revision 54337 on,
and from 54454 on every column's type is followed by a one-byte custom-serialization flag.
chdb has no such parameter: it writes Native as for revision 0, which drops the zone of a
top-level `DateTime` column. So the server rewrites the engine's blocks here.

Most results need no more than the 8 bytes in front of each block. Only when a zone is to
be put back, the revision asks for the flag byte, or a chunk holds several blocks, the
blocks are walked column by column; the walk reads sizes only, never values, except the
serialization prefixes of Variant, Dynamic and JSON columns, which name what their rows hold.
Every type the engine makes is sized but aggregate-function states; such a column, unless it
is the last one of a single block, is refused with NOT_IMPLEMENTED (and the fix) rather than
sent in a shape the client would misread.
"""

from __future__ import annotations

import re
import struct

from bionicflow.olap.protocol import ClickHouseError

# Block info as NativeWriter writes it: field 1 is_overflows = false, field 2 bucket_num = -1, end.
BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"
TIME_ZONE_REVISION = 54337  # DBMS_MIN_REVISION_WITH_TIME_ZONE_PARAMETER_IN_DATETIME_DATA_TYPE
CUSTOM_SERIALIZATION_REVISION = 54454  # DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION

_FIXED = {
    "UInt8": 1, "Int8": 1, "Bool": 1, "Enum8": 1, "Nothing": 1,
    "UInt16": 2, "Int16": 2, "Date": 2, "Enum16": 2, "BFloat16": 2,
    "UInt32": 4, "Int32": 4, "Float32": 4, "Date32": 4, "DateTime": 4, "IPv4": 4, "Time": 4, "Decimal32": 4,
    "UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Time64": 8, "Decimal64": 8,
    "UInt128": 16, "Int128": 16, "UUID": 16, "IPv6": 16, "Decimal128": 16,
    "UInt256": 32, "Int256": 32, "Decimal256": 32,
}
_INTERVAL = re.compile(r"^Interval[A-Za-z]+$")
_GEO = {"Point": "Tuple(Float64, Float64)", "Ring": "Array(Point)", "LineString": "Array(Point)",
        "MultiLineString": "Array(Ring)", "Polygon": "Array(Ring)", "MultiPolygon": "Array(Polygon)"}
_LOW_CARDINALITY_KEY_SIZES = (1, 2, 4, 8)
_HAS_ADDITIONAL_KEYS = 1 << 9
# Serialization versions written in the prefixes of Variant, Dynamic and JSON columns (ClickHouse's
# SerializationVariant / SerializationDynamic / SerializationObject); others are refused, not guessed.
_BASIC_DISCRIMINATORS = 0
_DYNAMIC_V1, _DYNAMIC_V2 = 1, 2
_JSON_V1, _JSON_AS_STRING, _JSON_V2 = 0, 1, 2
_JSON_NOT_A_PATH = re.compile(r"^(max_dynamic_(paths|types)\s*=|SKIP\s)", re.IGNORECASE)
_SHARED_VARIANT = "SharedVariant"  # sorted among the present types by its name; its rows are String


def _unsupported(type_name: str, revision: int) -> ClickHouseError:
    return ClickHouseError(48, "NOT_IMPLEMENTED", (
        f"the OLAP server cannot send a column of type {type_name} in Native format to a client of protocol "
        f"revision {revision} when other columns or blocks follow it; select finalizeAggregation(column), put "
        "the column last, or choose another format"))


def _top_level(text: str, wanted: str) -> list[int]:
    """Where ``wanted`` occurs outside quotes and parentheses."""
    found, depth, quote, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        i += 1
        if quote:
            if ch == "\\":
                i += 1  # the escaped character
            elif ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == wanted and depth == 0:
            found.append(i - 1)
    return found


def _unquote(name: str) -> str:
    """A JSON path as the type names it: `a b` → a b."""
    if len(name) > 1 and name[0] == name[-1] == "`":
        return name[1:-1].replace("\\`", "`").replace("``", "`")
    return name


def split_type(name: str) -> tuple[str, list[str]]:
    """``Array(Tuple(a UInt8, b String))`` → ('Array', ['Tuple(a UInt8, b String)'])."""
    name = name.strip()
    open_at = name.find("(")
    if open_at < 0 or not name.endswith(")"):
        return name, []
    inner = name[open_at + 1:-1]
    bounds = [-1, *_top_level(inner, ","), len(inner)]
    return name[:open_at].strip(), [inner[a + 1:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)]


def _element_type(element: str) -> str:
    """A tuple element's type: ``a UInt8`` (a named element) → ``UInt8``."""
    spaces = _top_level(element, " ")
    return element[spaces[0] + 1:].strip() if spaces else element


class _Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def varint(self) -> int:
        result, shift, data = 0, 0, self.data
        while True:
            byte = data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def text(self) -> str:
        size = self.varint()
        self.pos += size
        return self.data[self.pos - size:self.pos].decode()

    def uint64(self) -> int:
        self.pos += 8
        return struct.unpack_from("<Q", self.data, self.pos - 8)[0]

    def skip_strings(self, rows: int) -> None:
        data, pos = self.data, self.pos
        for _ in range(rows):
            size = data[pos]
            if size < 0x80:
                pos += 1 + size
            else:
                self.pos = pos
                size = self.varint()
                pos = self.pos + size
        self.pos = pos


class _ColumnSizer:
    """Moves a reader past one column's data of ``rows`` rows, by the column's type name.

    A column's serialization prefixes come first; for Variant, Dynamic and JSON they say what
    the rows hold (the variants actually present, the JSON paths), so the prefix pass returns
    the column's *layout* — a type name the data pass can size — and the data pass walks that.
    """

    def __init__(self, revision: int):
        self.revision = revision

    def skip(self, reader: _Reader, type_name: str, rows: int) -> None:
        if rows:
            self._data(reader, self._prefix(reader, type_name), rows)

    def _prefix(self, reader: _Reader, type_name: str) -> str:
        """Reads the column's serialization prefixes; returns its layout."""
        base, args = split_type(type_name)
        if base == "LowCardinality":
            reader.pos += 8  # the keys' serialization version
        elif base in ("Array", "Nullable"):
            return f"{base}({self._prefix(reader, args[0])})"
        elif base == "SimpleAggregateFunction":
            return self._prefix(reader, args[-1])
        elif base == "Tuple":
            return self._tuple(reader, [_element_type(element) for element in args])
        elif base == "Map":
            return f"Map({self._prefix(reader, args[0])}, {self._prefix(reader, args[1])})"
        elif base in _GEO:
            return self._prefix(reader, _GEO[base])
        elif base == "Nested":
            return f"Array({self._tuple(reader, [_element_type(element) for element in args])})"
        elif base == "Variant":
            return self._variant(reader, args, type_name)
        elif base == "Dynamic":
            return self._dynamic(reader, type_name)
        elif base == "JSON":
            return self._json(reader, args, type_name)
        return type_name

    def _tuple(self, reader: _Reader, element_types: list[str]) -> str:
        return f"Tuple({', '.join(self._prefix(reader, element) for element in element_types)})"

    def _variant(self, reader: _Reader, variants: list[str], type_name: str) -> str:
        """Variants in the order of their discriminators (the type lists them sorted by name)."""
        if reader.uint64() != _BASIC_DISCRIMINATORS:
            raise _unsupported(type_name, self.revision)
        return f"Variant({', '.join(self._prefix(reader, variant) for variant in variants)})"

    def _dynamic(self, reader: _Reader, type_name: str) -> str:
        """A Dynamic column is sent as a Variant of the types its rows hold and the shared variant."""
        version = reader.uint64()
        if version == _DYNAMIC_V1:
            reader.varint()  # max_dynamic_types
        elif version != _DYNAMIC_V2:
            raise _unsupported(type_name, self.revision)
        present = [reader.text() for _ in range(reader.varint())]
        variants = sorted([*present, _SHARED_VARIANT])
        return self._variant(reader, ["String" if v == _SHARED_VARIANT else v for v in variants], type_name)

    def _json(self, reader: _Reader, args: list[str], type_name: str) -> str:
        """Typed paths (by name), then each dynamic path as a Dynamic, then the shared paths as a Map."""
        version = reader.uint64()
        if version == _JSON_AS_STRING:
            return "String"
        if version == _JSON_V1:
            reader.varint()  # max_dynamic_paths
        elif version != _JSON_V2:
            raise _unsupported(type_name, self.revision)
        dynamic_paths = reader.varint()
        for _ in range(dynamic_paths):
            reader.text()
        typed = sorted((_unquote(element[:_top_level(element, " ")[0]]), _element_type(element))
                       for element in args if not _JSON_NOT_A_PATH.match(element))
        layouts = [self._prefix(reader, path_type) for _, path_type in typed]
        layouts += [self._dynamic(reader, "Dynamic") for _ in range(dynamic_paths)]
        return f"Tuple({', '.join([*layouts, 'Map(String, String)'])})"

    def _data(self, reader: _Reader, layout: str, rows: int) -> None:
        base, args = split_type(layout)
        width = self._width(base, args)
        if width:
            reader.pos += width * rows
        elif base == "String":
            reader.skip_strings(rows)
        elif base == "Nullable":
            reader.pos += rows  # the null map
            self._data(reader, args[0], rows)
        elif base in ("Array", "Map"):
            total = struct.unpack_from("<Q", reader.data, reader.pos + 8 * (rows - 1))[0] if rows else 0
            reader.pos += 8 * rows  # offsets
            elements = args if base == "Map" else args[:1]
            for element in elements:
                self._data(reader, element, total)
        elif base == "Tuple":
            for element in args:
                self._data(reader, _element_type(element), rows)
        elif base == "LowCardinality":
            self._low_cardinality(reader, args[0], rows)
        elif base == "Variant":
            discriminators = reader.data[reader.pos:reader.pos + rows]
            reader.pos += rows
            for index, variant in enumerate(args):
                self._data(reader, variant, discriminators.count(index))
        else:
            raise _unsupported(layout, self.revision)

    @staticmethod
    def _width(base: str, args: list[str]) -> int:
        if base in _FIXED:
            return _FIXED[base]
        if base == "Decimal":
            precision = int(args[0])
            return 4 if precision <= 9 else 8 if precision <= 18 else 16 if precision <= 38 else 32
        if base == "FixedString":
            return int(args[0])
        if base == "QBit":  # one bit plane per bit of the element, each a FixedString of the dimension's bits
            return _FIXED[args[0]] * 8 * ((int(args[1]) + 7) // 8)
        if _INTERVAL.match(base):
            return 8
        return 0

    def _low_cardinality(self, reader: _Reader, inner: str, rows: int) -> None:
        dictionary_type = split_type(inner)[1][0] if split_type(inner)[0] == "Nullable" else inner
        done = 0
        while done < rows:
            index_type = reader.uint64()
            if index_type & _HAS_ADDITIONAL_KEYS:
                keys = reader.uint64()
                self._data(reader, dictionary_type, keys)
            count = reader.uint64()
            reader.pos += count * _LOW_CARDINALITY_KEY_SIZES[index_type & 0xFF]
            done += count


class NativeForRevision:
    """Rewrites the engine's Native output for one request's ``client_protocol_version``.

    ``result_types``: the result's column types as the engine names them with their zones
    (a DESCRIBE of the statement); needed only from TIME_ZONE_REVISION on.
    """

    def __init__(self, revision: int, result_types: list[str] | None = None):
        self.revision = revision
        self._zones = {}
        if revision >= TIME_ZONE_REVISION:
            self._zones = {i: t for i, t in enumerate(result_types or ()) if t.startswith("DateTime(")}
        self._sizer = _ColumnSizer(revision)

    @staticmethod
    def wanted(revision: int) -> bool:
        return revision > 0

    def blocks(self, data: bytes, rows: int | None = None) -> bytes:
        """``data``: one or more whole blocks; ``rows``: how many rows they hold, when known."""
        if not data or not self.revision:
            return data
        flag = self.revision >= CUSTOM_SERIALIZATION_REVISION
        single = False
        if rows is not None:
            head = _Reader(data)
            head.varint()
            single = head.varint() == rows  # one block: the engine streams one per chunk
        if single and not self._zones and not flag:
            return BLOCK_INFO + data  # nothing to walk
        return self._walk(data, single, flag)

    def _walk(self, data: bytes, single: bool, flag: bool) -> bytes:
        out, reader = [], _Reader(data)
        while reader.pos < len(data):
            out.append(BLOCK_INFO)
            start = reader.pos
            columns, rows = reader.varint(), reader.varint()
            for index in range(columns):
                reader.text()  # the name
                type_start = reader.pos
                type_name = reader.text()
                shown = self._zones.get(index, type_name) if type_name == "DateTime" else type_name
                if shown != type_name or flag:
                    out.append(data[start:type_start])
                    encoded = shown.encode()
                    out.append(_varint(len(encoded)) + encoded + (b"\x00" if flag else b""))
                    start = reader.pos
                try:
                    self._sizer.skip(reader, type_name, rows)
                except ClickHouseError:
                    # the next header's place is unknown: refused, never garbled, unless nothing follows (the
                    # last column of the last block) or only zones were to be put back in one block
                    if not single or (flag and index < columns - 1):
                        raise
                    out.append(data[start:])  # the rest as the engine wrote it
                    return b"".join(out)
            out.append(data[start:reader.pos])
        return b"".join(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
