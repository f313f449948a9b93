"""Pure pieces of the ClickHouse HTTP protocol: request parsing and error mapping.

No I/O here, so every rule is unit-tested without a server.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from bionicflow.olap.sql_lexing import masked, skip_block_comment, skip_non_code

# URL parameters that steer the HTTP layer; every other name is a query setting.
HTTP_PARAMS = frozenset(
    {
        "query", "database", "default_format", "user", "password", "query_id",
        "session_id", "session_timeout", "session_check", "compress", "decompress",
        "buffer_size", "wait_end_of_query", "quota_key", "stacktrace", "role",
        "http_response_buffer_size", "client_protocol_version", "default_database",
    }
)
QUERY_PARAM_PREFIX = "param_"
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENGINE_ERROR = re.compile(r"Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?(.*)", re.S)
_TRAILING_NAME = re.compile(r"\s*\(([A-Z][A-Z_0-9]+)\)\s*$")

# HTTP statuses as ClickHouse's exceptionCodeToHTTPStatus gives them; anything else is 500.
_CLICKHOUSE_STATUS = {
    401: ("REQUIRED_PASSWORD",),
    403: ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"),
    400: ("BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
          "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
          "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
          "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
          "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
          "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
          "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
    404: ("UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
          "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
          "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"),
    413: ("QUERY_IS_TOO_LARGE",),
    501: ("NOT_IMPLEMENTED",),
    503: ("SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"),
    411: ("HTTP_LENGTH_REQUIRED",),
    408: ("TIMEOUT_EXCEEDED",),
    415: ("UNSUPPORTED_MEDIA_TYPE",),
}
_STATUS_BY_NAME = {name: status for status, names in _CLICKHOUSE_STATUS.items() for name in names}
# The errors that are the server's own fault, not the request's: logged as faults. (Their HTTP
# status is 500 like every code ClickHouse's mapping leaves out; clients read the code.)
SERVER_FAULTS = frozenset({
    "LOGICAL_ERROR", "STD_EXCEPTION", "UNKNOWN_EXCEPTION", "NOT_ENOUGH_SPACE", "CANNOT_ALLOCATE_MEMORY",
    "CANNOT_WRITE_TO_FILE_DESCRIPTOR", "CANNOT_READ_FROM_FILE_DESCRIPTOR", "CANNOT_FSYNC", "CORRUPTED_DATA",
    "CANNOT_CREATE_DIRECTORY", "CANNOT_SCHEDULE_TASK", "ABORTED",
    "CANNOT_CLOCK_GETTIME", "CANNOT_PIPE", "CANNOT_FORK", "SYSTEM_ERROR", "POCO_EXCEPTION", "UNFINISHED",
})
_CODE_NAMES = {
    62: "SYNTAX_ERROR", 115: "UNKNOWN_SETTING", 164: "READONLY", 497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED", 73: "UNKNOWN_FORMAT", 60: "UNKNOWN_TABLE",
    81: "UNKNOWN_DATABASE", 36: "BAD_ARGUMENTS", 48: "NOT_IMPLEMENTED",
    1001: "STD_EXCEPTION", 202: "TOO_MANY_SIMULTANEOUS_QUERIES", 394: "QUERY_WAS_CANCELLED",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED", 457: "BAD_QUERY_PARAMETER",
}


class ClickHouseError(Exception):
    """An error answered the ClickHouse way: code, name, message."""

    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message

    @property
    def http_status(self) -> int:
        return _STATUS_BY_NAME.get(self.name, 500)

    def body(self, version: str) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name}) (version {version})\n"

    @classmethod
    def from_engine(cls, text: str) -> ClickHouseError:
        """Parse an engine error such as ``Code: 62. DB::Exception: ... (SYNTAX_ERROR)``, every line of it (a bad
        row of INSERT data is described over several, a `throwIf` message may hold newlines)."""
        text = text.strip()
        match = _ENGINE_ERROR.search(text)
        if not match:
            return cls(1001, "STD_EXCEPTION", text.partition("\n")[0] or "unknown error")
        code, message = int(match.group(1)), match.group(2)
        name_match = _TRAILING_NAME.search(message)
        if name_match:
            name, message = name_match.group(1), message[: name_match.start()]
        else:
            name = _CODE_NAMES.get(code, "UNKNOWN_EXCEPTION")
        return cls(code, name, _unnested(message, code, name).rstrip(". :"))


def _unnested(message: str, code: int, name: str) -> str:
    """The message once: the engine may wrap its own exception again, repeating the code before it and the name
    and version after it (`Code: 73. DB::Exception: Code: 73. DB::Exception: Unknown format … (UNKNOWN_FORMAT)
    (version …). (UNKNOWN_FORMAT) (version …)`), where ClickHouse's server says it once."""
    prefix = re.compile(rf"Code:\s*{code}\.\s*DB::Exception:\s*")
    tail = re.compile(rf"[.\s]*\({re.escape(name)}\)\s*\(version [^)]*\)[.\s]*$")
    while (found := prefix.match(message)) is not None:
        message = message[found.end():]
    while (found := tail.search(message)) is not None:
        message = message[: found.start()]
    return message


# A position in an engine error (a syntax error's byte offset, 1-based, or its column): counted in the text the
# engine ran, which the server may have changed from the client's (streaming.untagged, query_ids.RequestText)
ERROR_POSITION = re.compile(r"(position |line 1, col )(\d+)")


def register_error_names(names: Mapping[int, str]) -> None:
    """The engine's own code -> name table (``errorCodeToName``), so every code is named."""
    _CODE_NAMES.update({code: name for code, name in names.items() if code not in _CODE_NAMES})


def password_required() -> ClickHouseError:
    """No credentials and no password-less user: ask for them (a browser shows its login box)."""
    return ClickHouseError(194, "REQUIRED_PASSWORD",
                           "Authentication required: send a user and password (basic auth, X-ClickHouse-User/"
                           "X-ClickHouse-Key headers or user/password parameters)")


def auth_failed(user: str) -> ClickHouseError:
    return ClickHouseError(
        516, "AUTHENTICATION_FAILED",
        f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
    )


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    anonymous: bool = False  # nothing was sent: the user `default` with an empty password


def read_credentials(headers: Mapping[str, str], params: Mapping[str, str]) -> Credentials:
    """Credentials from basic auth, X-ClickHouse-User/Key headers or user/password params.

    As in ClickHouse, a request without any is the user ``default`` with an empty password.
    """
    auth = headers.get("authorization", "")
    given = [auth.lower().startswith("basic "), "x-clickhouse-user" in headers, "user" in params]
    if sum(given) > 1:  # two identities in one request: which one is meant cannot be told
        raise ClickHouseError(
            516, "AUTHENTICATION_FAILED",
            "Invalid authentication: use one of basic auth, X-ClickHouse-User/X-ClickHouse-Key headers "
            "or user/password parameters, not several",
        )
    if given[0]:
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ClickHouseError(516, "AUTHENTICATION_FAILED", "malformed basic auth header") from exc
        return Credentials(user, password)
    if given[1]:
        return Credentials(headers["x-clickhouse-user"], headers.get("x-clickhouse-key", ""))
    if given[2]:
        return Credentials(params["user"], params.get("password", ""))
    return Credentials("default", "", anonymous=True)


@dataclass
class RequestOptions:
    """What the URL parameters ask for, split into the kinds the server treats apart."""

    database: str | None = None
    default_format: str | None = None
    query_id: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    compress: bool = False  # `compress=1`: answer in ClickHouse's compressed blocks
    decompress: bool = False  # `decompress=1`: the request body is ClickHouse's compressed blocks


def read_options(params: Mapping[str, str], not_settings: AbstractSet[str] = frozenset()) -> RequestOptions:
    """The request's options; ``not_settings``: more parameter names the HTTP layer handles (external data)."""
    opts = RequestOptions(
        database=params.get("database") or params.get("default_database") or None,
        default_format=params.get("default_format") or None,
        query_id=params.get("query_id") or None,
        compress=params.get("compress") in ("1", "true"),
        decompress=params.get("decompress") in ("1", "true"),
    )
    for name, value in params.items():
        if name.startswith(QUERY_PARAM_PREFIX):
            opts.query_params[name[len(QUERY_PARAM_PREFIX):]] = value
        elif name not in HTTP_PARAMS and name not in not_settings:
            if not SETTING_NAME.match(name):
                raise ClickHouseError(115, "UNKNOWN_SETTING", f"Setting name {name!r} is not valid")
            opts.settings[name] = value
    return opts


PLACEHOLDER = re.compile(r"\{\s*(\w+)\s*:\s*([^}]*)\}")
_INTEGER_TYPE = re.compile(r"^(?:Nullable\(|LowCardinality\()*(U?)Int(8|16|32|64|128|256)\)*$")


def check_query_params(sql: str, params: Mapping[str, str]) -> None:
    """Refuse an integer parameter outside its type, as ClickHouse does (the engine would wrap it: 300 -> 44)."""
    for name, typ in PLACEHOLDER.findall(sql):
        match = _INTEGER_TYPE.match(typ.strip())
        value = params.get(name)
        if not match or value is None or (value == "\\N" and "Nullable(" in typ):
            continue
        bits, signed = int(match.group(2)), not match.group(1)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        try:
            number = int(value.strip(), 10)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ClickHouseError(457, "BAD_QUERY_PARAMETER",
                                  f"Value {value[:100]} cannot be parsed as {typ.strip()} for query parameter '{name}' "
                                  f"(an integer from {low} to {high})")


def quote_string(value: str) -> str:
    """A ClickHouse string literal (settings values are bound this way, never spliced raw)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass(frozen=True)
class InsertHead:
    """An ``INSERT ... FORMAT X`` statement whose data follows in the same body."""

    statement: str  # the INSERT without its FORMAT clause
    format: str
    data_offset: int  # where the data starts in the text it was parsed from


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def parse_insert_head(text: bytes) -> InsertHead | None:
    """Find ``INSERT ... FORMAT Name`` at the top level of ``text``.

    Returns None when the text is not such an INSERT (a SELECT, ``INSERT ... VALUES``,
    ``INSERT ... SELECT``): those run as one query. Quotes, comments and parentheses are
    respected, so a ``FORMAT`` inside a string or subquery is not taken for the clause.
    Data starts after the newline that follows the format name, if there is one, or
    after the whitespace otherwise — as ClickHouse's own parser does.
    """
    first = _WORD.search(text)
    if not first or first.group(0).upper() != b"INSERT" or text[: first.start()].strip():
        return None
    i, depth, n, previous = first.end(), 0, len(text), b"INSERT"
    while i < n:
        ch = text[i : i + 1]
        if ch in (b"'", b'"', b"`"):
            i, previous = _skip_quoted(text, i), b""  # a quoted name: the next word is no name of the table
            continue
        if text.startswith(b"--", i) or ch == b"#":
            end = text.find(b"\n", i)
            i = n if end < 0 else end + 1
            continue
        if text.startswith(b"/*", i):
            end = text.find(b"*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == b"(":
            depth, previous = depth + 1, b""
        elif ch == b")":
            depth -= 1
        elif depth == 0 and (ch.isalpha() or ch == b"_") and (i == 0 or not _is_word_byte(text[i - 1])):
            word = _WORD.match(text, i)
            assert word is not None  # the byte at i starts a word
            upper = word.group(0).upper()
            if upper in (b"VALUES", b"SELECT", b"WITH"):
                return None
            # a table may be named format: the word right after INTO/TABLE or a database's dot is a name
            named = previous in (b"INTO", b"TABLE") or text[i - 1 : i] == b"."
            if upper == b"FORMAT" and not named:
                return _head_from_format(text, i, word.end())
            previous, i = upper, word.end()
            continue
        i += 1
    return None


def _is_word_byte(b: int) -> bool:
    return chr(b).isalnum() or b == ord("_")


def _skip_quoted(text: bytes, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == ord("\\"):
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _head_from_format(text: bytes, format_start: int, after_keyword: int) -> InsertHead | None:
    j = after_keyword
    while j < len(text) and text[j : j + 1] in (b" ", b"\t", b"\r", b"\n"):
        j += 1
    name = _WORD.match(text, j)
    if not name:
        return None
    k = name.end()
    while k < len(text) and text[k : k + 1] in (b" ", b"\t", b"\r"):
        k += 1
    if k < len(text) and text[k : k + 1] == b"\n":
        k += 1
    return InsertHead(
        statement=text[:format_start].decode("utf-8").rstrip(),
        format=name.group(0).decode("ascii"),
        data_offset=k,
    )


# The statement's own FORMAT clause: the last one at the top level, followed by nothing but a SETTINGS clause
# (ClickHouse takes `… FORMAT CSV SETTINGS …`), a `;`, blanks and comments.
_FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)(?=(?:\s+SETTINGS\b.*)?\s*;?\s*$)", re.I | re.S)
_COMMENT_MARK = re.compile(r"--|/\*|#")


def _format_clause(query: str) -> tuple[int, int, str] | None:
    """(start, end, name) of the statement's FORMAT clause, found in its code (not in strings or comments)."""
    if "format" not in query.lower():  # the common case, without walking the text
        return None
    if not _COMMENT_MARK.search(query):  # a clause at the very end is no string's: only a comment could hide it
        found = _top_level_clause(query, query)
        if found or "(" not in query and ")" not in query:
            return found
    return _top_level_clause(query, masked(query))  # walked: parentheses inside strings do not count


def _top_level_clause(query: str, code: str) -> tuple[int, int, str] | None:
    for match in reversed(list(_FORMAT_CLAUSE.finditer(code))):
        if code.count("(", 0, match.start()) == code.count(")", 0, match.start()):
            return match.start(), match.end(1), query[match.start(1):match.end(1)]
    return None


def output_format(query: str, default_format: str | None) -> tuple[str, bool]:
    """The output format of a query and whether the query names it itself."""
    clause = _format_clause(query)
    if clause:
        return clause[2], True
    return default_format or "TabSeparated", False


def client_revision(params: Mapping[str, str]) -> int:
    """The client's protocol revision (`client_protocol_version`), 0 when it sent none."""
    text = params.get("client_protocol_version", "").strip()
    if not text:
        return 0
    if not text.isdigit() or len(text) > 19:
        raise ClickHouseError(
            27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            f"client_protocol_version must be a non-negative integer (a protocol revision), not {text!r}")
    return int(text)


def without_format(query: str) -> str:
    """The statement without its FORMAT clause and trailing `;` (to be wrapped in another statement)."""
    clause = _format_clause(query)
    if clause:
        query = query[:clause[0]] + query[clause[1]:]
    return query.rstrip().rstrip(";").rstrip()


def statement_count(sql: str) -> int:
    """How many statements a text holds: top-level ``;`` outside quotes, comments and heredocs.

    A trailing ``;`` (then only blanks and comments) ends the one statement, as ClickHouse allows.
    """
    if ";" not in sql:  # the common case, without walking the text
        return 1 if sql.strip() else 0
    count, pending, i, n = 0, False, 0, len(sql)
    while i < n:
        skipped = skip_non_code(sql, i)
        if skipped is not None:
            i, kind = skipped
            pending = pending or kind != "comment"
        elif sql[i] == ";":
            count, pending, i = count + (1 if pending else 0), False, i + 1
        else:
            pending = pending or not sql[i].isspace()
            i += 1
    return count + (1 if pending else 0)


_PLAIN_INSIDE = re.compile(r"^(\w+):([A-Za-z][\w(), ']*)$")


@dataclass(frozen=True)
class Placeholders:
    """The query parameters of a statement as the engine's lexer finds them."""

    plain: tuple[tuple[str, str], ...]  # (name, type) of each `{name:Type}` written plainly
    provable: bool  # False: a placeholder holds a blank, a comment or a quote, so its name cannot be read for certain


def placeholders(sql: str) -> Placeholders:
    """Every ``{…}`` outside strings, comments and heredocs, walked as ``statement_count`` walks the text."""
    plain, provable, i, n = [], True, 0, len(sql)
    while i < n:
        skipped = skip_non_code(sql, i)
        if skipped is not None:
            i = skipped[0]
        elif sql[i] == "{":
            end = sql.find("}", i)
            inside = _PLAIN_INSIDE.match(sql[i + 1 : end]) if end > 0 else None
            if inside is None or "'" in inside.group(2):
                provable = False  # `{d/**/:T}`, `{ d : T }`, `{d:T` …: the engine reads it, we do not for certain
                i = n if end < 0 else end + 1
            else:
                plain.append((inside.group(1), inside.group(2)))
                i = end + 1
        else:
            i += 1
    return Placeholders(tuple(plain), provable)


def first_keyword(sql: str) -> str:
    """The statement's first word, upper-cased, past blanks, a byte-order mark, comments (nested ones,
    `--` and `#` too, as the engine's lexer takes them) and opening parentheses; "" when it cannot tell."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace() or ch in "(\ufeff":
            i += 1
        elif sql.startswith("--", i) or (ch == "#" and sql[i + 1 : i + 2] in (" ", "!", "")):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = skip_block_comment(sql, i)
        else:
            break
    word = re.match(r"[A-Za-z]+", sql[i:])
    return word.group(0).upper() if word else ""


def in_stream_exception(tag: str, error_text: str) -> bytes:
    """ClickHouse's block for an error after a response's first bytes (its X-ClickHouse-Exception-Tag names ``tag``)."""
    message = error_text.rstrip("\n").encode() + b"\n"  # the size ClickHouse writes counts the newline
    return (b"\r\n__exception__\r\n" + tag.encode() + b"\r\n" + message
            + str(len(message)).encode() + b" " + tag.encode() + b"\r\n__exception__\r\n")


OUTFILE_CLAUSE = re.compile(r"\bINTO\s+OUTFILE\b", re.I)


def refuse_outfile(sql: str) -> None:
    """`INTO OUTFILE` would write a file on the server: ClickHouse's HTTP interface refuses it for everyone."""
    if OUTFILE_CLAUSE.search(sql) and OUTFILE_CLAUSE.search(masked(sql)):
        raise ClickHouseError(358, "INTO_OUTFILE_NOT_ALLOWED",
                              "INTO OUTFILE is not allowed over HTTP: the client reads the result and writes its file")


# `add_http_cors_header=1`: the headers ClickHouse adds for browsers on other origins
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "origin, x-requested-with, x-clickhouse-format, x-clickhouse-user, "
                                    "x-clickhouse-key, Authorization",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
_MAP_ENTRY = re.compile(r"'((?:[^'\\]|\\.)*)'\s*:\s*'((?:[^'\\]|\\.)*)'")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


def asked_response_headers(params) -> dict[str, str]:
    """Headers a request's URL settings add to its answer: `add_http_cors_header`, `http_response_headers`
    (a Map such as `{'X-My':'1'}`; ClickHouse's own X-ClickHouse-* headers stay the server's)."""
    out = dict(CORS_HEADERS) if params.get("add_http_cors_header") in ("1", "true") else {}
    for name, value in _MAP_ENTRY.findall(params.get("http_response_headers", "")):
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise ClickHouseError(36, "BAD_ARGUMENTS", f"http_response_headers: {name!r} cannot be sent as a header "
                                  "(a token name and a printable value, no line breaks)")
        if not name.lower().startswith("x-clickhouse-"):
            out[name] = value
    return out


INPUT_FUNCTION = re.compile(r"\binput\s*\(", re.I)


def refuse_input_function(sql: str, kind: str) -> None:
    """`INSERT … SELECT … FROM input(…)` then data: the engine would read no data and report success."""
    if kind == "INSERT" and INPUT_FUNCTION.search(sql) and INPUT_FUNCTION.search(masked(sql)):
        raise ClickHouseError(
            48, "NOT_IMPLEMENTED",
            "INSERT ... SELECT ... FROM input(...) with the request's data is not supported by this server (its engine "
            "would read no rows): send the rows with INSERT INTO <table> FORMAT <format>, into a temporary table of "
            "a session if they need transforming, then INSERT ... SELECT from it")


def multi_statement_error() -> ClickHouseError:
    return ClickHouseError(62, "SYNTAX_ERROR", "Multi-statements are not allowed: send one statement per request")
