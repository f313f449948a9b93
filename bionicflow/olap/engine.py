"""The chdb engine behind the OLAP server: one data directory, a connection per request.

chdb lets one process open several connections to one data directory; each keeps
its own settings and they run queries in parallel. A request therefore gets a
fresh connection (about 2 ms), so settings and ``USE`` never leak between clients.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import chdb

from bionicflow.olap.access import ReadCheck, TableInfo, parse_explain_ast
from bionicflow.olap.allowlists import FunctionList, FunctionRow
from bionicflow.olap.external import ExternalTable
from bionicflow.olap.pool import ConnectionPool
from bionicflow.olap.query_ids import RunningQueries
from bionicflow.olap.protocol import (ClickHouseError, RequestOptions, placeholders, quote_identifier, quote_string,
                                      register_error_names, without_format)

log = logging.getLogger(__name__)

# Every exception code the engine knows, with its name (chdb has no system.error_codes).
ERROR_NAMES = ("SELECT toUInt32(number) AS code, errorCodeToName(code) AS name FROM numbers(2000) "
               "WHERE name != ''")


# The settings a clickhouse-server starts with where chdb's embedded defaults (clickhouse-local's) differ: every
# request runs with them unless it asks otherwise. implicit_select=1 runs a bare `invalid` as `SELECT invalid`
# (an unknown identifier, not a syntax error); best_effort parses date-times a server refuses; introspection
# functions read the process's memory maps and symbols. Found by `system.settings` rows whose value is not their
# declared default (materialize_statistics_on_insert, output_format_arrow_use_native_writer) and by the server's
# documented defaults where chdb changed the declared one (date_time_input_format; JSON formats quote 64-bit
# integers "for compatibility with JavaScript", as ClickHouse's format docs say and its JavaScript client expects).
SERVER_DEFAULTS = {"implicit_select": "0", "date_time_input_format": "basic", "allow_introspection_functions": "0",
                   "materialize_statistics_on_insert": "1", "output_format_arrow_use_native_writer": "1",
                   "output_format_json_quote_64bit_integers": "1"}


@dataclass(frozen=True)
class QueryResult:
    data: bytes
    summary: dict

    @property
    def rows(self) -> int | None:
        """How many rows the result holds (the engine counts them), None when it did not say."""
        rows = self.summary.get("result_rows")
        return int(rows) if rows not in (None, "") else None


class QuerySlots:
    """At most ``limit`` statements run at once; the rest wait their turn, up to ``wait_seconds``.

    Read-only users together hold at most ``limit - reserved``: the rest are kept for the admin
    and the platform's own work (DAGs, the CDC consumer), so readers can slow only themselves.
    """

    def __init__(self, limit: int, wait_seconds: float, reserved: int = 4):
        self.limit = limit
        self.reader_limit = max(1, limit - reserved)
        self.wait_seconds = wait_seconds
        # made on first use, inside the server's event loop
        self._all: anyio.Semaphore | None = None
        self._readers: anyio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def hold(self, reader: bool = False) -> AsyncIterator[None]:
        """Hold one slot for the block; the wait is awaited, never blocking the event loop.

        A blocking wait on the loop thread would stop the requests holding the slots from
        finishing, and every client would stall until the timeout.
        """
        if self._all is None or self._readers is None:
            self._all, self._readers = anyio.Semaphore(self.limit), anyio.Semaphore(self.reader_limit)
        async with contextlib.AsyncExitStack() as held:
            if reader:
                await self._acquire(self._readers, self.reader_limit, "read-only")
                held.callback(self._readers.release)
            await self._acquire(self._all, self.limit, "")
            held.callback(self._all.release)
            yield

    async def _acquire(self, semaphore: anyio.Semaphore, limit: int, kind: str) -> None:
        try:
            semaphore.acquire_nowait()  # a free slot: no timer to set up (most requests)
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self.wait_seconds) as waited:
            await semaphore.acquire()
        if waited.cancelled_caught:
            raise ClickHouseError(
                202, "TOO_MANY_SIMULTANEOUS_QUERIES",
                f"all {limit} {kind + ' ' if kind else ''}query slots stayed busy for {self.wait_seconds:g}s; "
                "try again later",
            )


# Placeholder types that only ever become a literal value; any other (Identifier above all)
# can change what the statement names, so its value is part of the verdict's key.
LITERAL_TYPE = re.compile(r"^(Nullable\(|LowCardinality\()*(U?Int\d+|Float\d+|Bool|String|FixedString|UUID|"
                          r"Date|Date32|DateTime|DateTime64|Decimal\d*|Array)\b")
@functools.lru_cache(maxsize=4096)
def _literal_placeholders(sql: str) -> frozenset[str]:
    """The placeholders proven to become literal values only: written plainly, every time, with a
    literal type. A placeholder the lexer cannot read for certain (a comment, a blank or a quote
    inside it) proves nothing for the whole statement."""
    found = placeholders(sql)
    if not found.provable:
        return frozenset()
    naming = {name for name, typ in found.plain if not LITERAL_TYPE.match(typ.strip())}
    return frozenset(name for name, _ in found.plain) - naming


UNKNOWN = object()  # nothing remembered for a statement


class StatementMemory:
    """What is known of statements seen before — a read-only user's passed check, a result's types —
    bounded, least recently used out.

    The verdict depends only on the statement's structure: bound values become literals, except
    Identifier parameters, which name tables; so the values of every placeholder not known to
    be a literal are part of the key.
    """

    def __init__(self, size: int = 4096):
        self.size = size
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(sql: str, params: dict[str, str] | None, databases, current_database: str) -> tuple:
        """Every bound value is part of the key but those of placeholders proven to be literals."""
        literal = _literal_placeholders(sql)
        values = tuple(sorted((n, v) for n, v in (params or {}).items() if n not in literal))
        return sql, values, databases, current_database

    def __contains__(self, key: tuple) -> bool:
        return self.get(key, UNKNOWN) is not UNKNOWN

    def get(self, key: tuple, default=None):
        """What was remembered with ``key`` (``default`` when nothing was)."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return self._seen[key]
            return default

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def add(self, key: tuple, value=None) -> None:
        with self._lock:
            self._seen[key] = value
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)


class Engine:
    """Runs statements against one chdb data directory."""

    def __init__(self, data_dir: Path, max_concurrent: int = 16, slot_wait_seconds: float = 30):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.slots = QuerySlots(max_concurrent, slot_wait_seconds)
        self.checked = StatementMemory()
        self.described = StatementMemory()
        self.generation = 0  # bumped by every statement that may change the catalogue
        self.running = RunningQueries()  # the client query ids of the statements running now
        self._generation_lock = threading.Lock()
        self.pool = ConnectionPool(self.open, lambda conn, sql: _run(conn, sql))
        # The first connection creates the directory layout; keep one open for the
        # server's lifetime so the engine stays loaded between requests.
        self._anchor = chdb.connect(str(self.data_dir))
        self.version = self._anchor.query("SELECT version()", "TabSeparated").bytes().decode().strip()
        register_error_names(dict(json.loads(self._anchor.query(ERROR_NAMES, "JSONCompact").bytes())["data"]))
        self.timezone = self._anchor.query("SELECT timezone()", "TabSeparated").bytes().decode().strip()
        self.functions = _function_list(self._anchor)

    def close(self) -> None:
        self._anchor.close()

    def open(self, readonly: bool):
        """A new engine connection (its own settings, current database and temporary tables)."""
        # readonly=2 (not 1): the server applies a reader's checked settings itself, and a
        # SETTINGS clause or SET is refused by the statement check before it reaches the engine.
        return chdb.connect(f"{self.data_dir}?readonly=2" if readonly else str(self.data_dir))

    @staticmethod
    def prepare(conn, opts: RequestOptions, settings: dict[str, str] | None = None) -> None:
        """The request's database and settings on ``conn`` (``settings`` replace the request's)."""
        if opts.database:
            _run(conn, f"USE {quote_identifier(opts.database)}")
        chosen = opts.settings if settings is None else settings
        if chosen:  # one SET for all: each statement costs a round trip into the engine
            _run(conn, "SET " + ", ".join(f"{name} = {quote_string(value)}" for name, value in chosen.items()))

    def connect(self, readonly: bool, opts: RequestOptions, settings: dict[str, str] | None = None):
        """A new connection with the request's database and settings applied."""
        conn = self.open(readonly)
        try:
            self.prepare(conn, opts, settings)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def settled(conn, attempts: int = 3) -> bool:
        """Whether a connection answers its next statement with that statement's own result.

        After a stream that failed or was cancelled mid-way, the engine can hand what was left
        of it to the next query on the connection; a session keeps its connection, so it is
        read clean here (a pooled one is closed instead).
        """
        for _ in range(attempts):
            try:
                if _run(conn, "SELECT 'settled'", "TabSeparatedRaw").bytes() == b"settled\n":
                    return True
            except ClickHouseError:
                pass
        return False

    @staticmethod
    def connection_state(conn) -> tuple[str, dict[str, str]]:
        """The database and the changed settings a connection holds (what a session's SET/USE left)."""
        rows = _run(conn, _CONNECTION_STATE, "JSONCompact").bytes()
        data = json.loads(rows)["data"]
        database = data[0][0] if data else "default"
        return database, {name: value for _, name, value in data if name}

    def passed_check(self, sql: str, params: dict[str, str] | None, databases: frozenset[str],
                     current_database: str) -> bool:
        """Whether the statement passed the read-only check already (no worker thread needed to know)."""
        return self.checked.key(sql, params, databases, current_database) in self.checked

    def check_readonly_query(self, conn, sql: str, params: dict[str, str] | None = None,
                             databases: frozenset[str] = frozenset(), current_database: str = "default") -> None:
        """Refuse anything but a read of `databases` (bionicflow.olap.access), on the engine's own parse.

        Runs on the request's own connection: a chdb connection is not shared between threads.
        A statement that passed once is not parsed again until the next DDL (reports repeat a few shapes).
        """
        key = self.checked.key(sql, params, databases, current_database)
        if key in self.checked:
            return
        generation = self.generation  # a DDL during the check makes its verdict stale: not remembered
        # The engine's parser says whether the text is one statement (a second one is refused
        # here, before EXPLAIN, which would run it) and gives the normalised text of SHOW forms.
        # (a literal, not a bound parameter: bound values are read in the escaped format, where a
        # raw newline is invalid)
        normalized = _analysable(_run(conn, f"SELECT formatQuery({quote_string(sql)})", "TabSeparatedRaw").bytes())
        known: dict[tuple[str, str], TableInfo | None] = {}

        def catalogue(db: str, table: str) -> TableInfo | None:
            if (db, table) not in known:  # a table named twice is looked up once
                known[db, table] = _table_info(conn, db, table)
            return known[db, table]

        check = ReadCheck(databases, current_database, catalogue, lambda text: _explain_ast(conn, text, None),
                          self.functions)
        check.statement(_explain_ast(conn, sql, params), normalized.strip())
        if not check.value_dependent:  # a verdict on a structure string holds for that string only
            with self._generation_lock:
                if generation == self.generation:
                    self.checked.add(key)

    def check_external(self, conn, tables: list[ExternalTable], databases: frozenset[str]) -> None:
        """A read-only request's external tables: formats and structures as format() gets them (never remembered)."""
        check = ReadCheck(databases, "default", lambda db, t: None, lambda text: _explain_ast(conn, text, None),
                          self.functions)
        for table in tables:
            check.external_table(table.format, table.structure)

    @staticmethod
    def load_external(conn, table: ExternalTable) -> None:
        """An external table of the request, as a temporary table of its connection."""
        _run(conn, table.create())  # refused when the connection (a session's) has a table of that name
        try:
            insert = StreamingInsert(conn, f"INSERT INTO {quote_identifier(table.name)}", table.format)
            insert.append(table.data)
            insert.finish()
        except BaseException:
            _run(conn, table.drop())  # made here: gone again, as if never sent
            raise

    @staticmethod
    def drop_external(conn, table: ExternalTable) -> None:
        _run(conn, table.drop())

    def remembered_result_types(self, sql: str, params: dict[str, str] | None, current_database: str):
        """What ``result_types`` found for this statement before, or UNKNOWN (looked up without a worker thread)."""
        return self.described.get(self.described.key(sql, params, frozenset(), current_database), UNKNOWN)

    def result_types(self, conn, sql: str, params: dict[str, str] | None, current_database: str) -> list[str] | None:
        """The result's column types as the engine names them, zones included (a DESCRIBE, remembered per statement).

        None when the engine cannot describe the statement: its result is then sent as the
        engine writes it (a DateTime column without its zone).
        """
        key = self.described.key(sql, params, frozenset(), current_database)
        types = self.described.get(key, UNKNOWN)
        if types is UNKNOWN:
            try:
                # the newline: a statement ending in a `-- comment` would comment the parenthesis out
                rows = _run(conn, f"DESCRIBE TABLE ({without_format(sql)}\n)", "JSONCompactEachRow",
                            params or None).bytes()
                # a column's name may hold any byte (`SELECT '\\xff'`); only the types are read
                types = [json.loads(line)[1] for line in rows.decode(errors="replace").splitlines() if line]
            except ClickHouseError as err:
                log.info("no result types for a client's protocol revision: %s (%s)", err.name, err.code)
                types = None
            self.described.add(key, types)
        return types

    @staticmethod
    def parse(conn, sql: str, params: dict[str, str] | None) -> None:
        """Raise the engine's error for a statement it cannot parse (its syntax error); nothing else."""
        _run(conn, f"EXPLAIN AST {sql}", "TabSeparatedRaw", params or None)

    def catalogue_changed(self) -> None:
        """A DDL statement ran: views may read other tables now, so verdicts and result types are made anew."""
        with self._generation_lock:
            self.generation += 1
            self.checked.clear()
            self.described.clear()

    def kill(self, tag: str) -> None:
        """Cancel the running statement whose text starts with ``tag`` (a server-made comment)."""
        conn = chdb.connect(str(self.data_dir))
        try:
            _run(conn, "KILL QUERY WHERE startsWith(query, {tag:String}) SYNC", params={"tag": tag})
        finally:
            conn.close()


# `database` is a setting too, but USE is what moves it: the current database is read apart.
_CONNECTION_STATE = ("SELECT currentDatabase(), name, value FROM (SELECT '' AS name, '' AS value UNION ALL "
                     "SELECT name, value FROM system.settings WHERE changed AND name != 'database') "
                     "ORDER BY name")
_FUNCTIONS = ("SELECT name, alias_to, categories, case_insensitive, toString(origin), is_aggregate "
              "FROM system.functions")
_COMBINATORS = "SELECT name FROM system.aggregate_function_combinators"


def _function_list(conn) -> FunctionList:
    """The read-only user's functions, from the engine's own catalogue."""
    rows = json.loads(_run(conn, _FUNCTIONS, "JSONCompact").bytes())["data"]
    combinators = json.loads(_run(conn, _COMBINATORS, "JSONCompact").bytes())["data"]
    return FunctionList([FunctionRow(n, a, c, bool(ci), o, bool(agg)) for n, a, c, ci, o, agg in rows],
                        [row[0] for row in combinators])


_TABLE_INFO = ("SELECT engine, create_table_query, as_select FROM system.tables "
               "WHERE database = {db:String} AND name = {name:String}")


def _table_info(conn, database: str, name: str) -> TableInfo | None:
    rows = _run(conn, _TABLE_INFO, "JSONCompact", {"db": database, "name": name}).bytes()
    data = json.loads(rows)["data"]
    return TableInfo(*data[0]) if data else None


def _explain_ast(conn, sql: str, params: dict | None):
    try:
        raw = conn.query(f"EXPLAIN AST {sql}", "TabSeparatedRaw", params=params or None).bytes()
    except (RuntimeError, UnicodeDecodeError) as exc:
        error = engine_error(exc)
        if error.name == "SYNTAX_ERROR":  # the statement parses alone but EXPLAIN cannot wrap it
            raise ClickHouseError(497, "ACCESS_DENIED", "the statement cannot be analysed (EXPLAIN AST refuses it); "
                                  "statements the checker cannot analyse are refused") from None
        raise error from None
    return parse_explain_ast(_analysable(raw))


def _analysable(raw: bytes) -> str:
    """The engine's rendering of a statement as text; a literal of raw bytes cannot be read for certain."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ClickHouseError(497, "ACCESS_DENIED", "the statement's parse holds bytes that are not UTF-8; "
                              "statements the checker cannot analyse are refused (bind binary values as "
                              "parameters)") from None


LOST_ERROR_TEXT = ("the statement failed with an error that quotes bytes which are not UTF-8 (the data sent, "
                   "most likely): check the data and its format")


def engine_error(exc: Exception) -> ClickHouseError:
    """The engine's error as a ClickHouseError; chdb fails to decode a message that quotes non-UTF-8 data
    (`throwIf(1, unhex('ff'))`), which is still the statement's error, not the server's."""
    if isinstance(exc, UnicodeDecodeError):
        return ClickHouseError.from_engine(bytes(exc.object).decode("utf-8", errors="replace"))
    text = str(exc)
    if "codec can't decode" in text:  # chdb lost the engine's message (and its code) decoding it
        return ClickHouseError(36, "BAD_ARGUMENTS", LOST_ERROR_TEXT)
    return ClickHouseError.from_engine(text)


def _run(conn, sql: str, fmt: str = "TabSeparated", params: dict | None = None):
    try:
        return conn.query(sql, fmt, params=params)
    except (RuntimeError, UnicodeDecodeError) as exc:
        raise engine_error(exc) from None


def run_query(conn, sql: str, fmt: str, params: dict[str, str]) -> QueryResult:
    started = time.perf_counter_ns()
    result = _run(conn, sql, fmt, params or None)
    data = result.bytes()
    return QueryResult(
        data=data,
        # chdb's rows_read()/bytes_read() count the result; storage_*_read() what was read
        summary={
            "read_rows": str(result.storage_rows_read()), "read_bytes": str(result.storage_bytes_read()),
            "written_rows": str(result.rows_written()), "written_bytes": str(result.bytes_written()),
            "total_rows_to_read": str(result.storage_rows_read()),
            "result_rows": str(result.rows_read()), "result_bytes": str(result.bytes_read()),
            "elapsed_ns": str(time.perf_counter_ns() - started),
        },
    )


# Formats whose output is the concatenation of the engine's streamed chunks (the others repeat
# their header or document frame in every chunk, so they are sent whole).
STREAMABLE_FORMATS = frozenset(name.lower() for name in (
    "Native", "RowBinary", "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "CSV", "JSONEachRow",
    "JSONCompactEachRow", "JSONStringsEachRow", "JSONCompactStringsEachRow", "JSONLines", "NDJSON",
))


# Statement kinds the engine streams (it refuses EXISTS, SHOW, DESCRIBE …: those are sent whole).
STREAMABLE_KINDS = frozenset({"SELECT", "WITH"})


class ResultStream:
    """A query's result as the engine streams it, chunk by chunk (blocking calls: run them in a worker thread)."""

    def __init__(self, conn, sql: str, fmt: str, params: dict[str, str]):
        self._started = time.perf_counter_ns()
        self.rows = self.read_rows = self.read_bytes = self.result_bytes = 0
        self.chunk_rows = 0  # the rows of the chunk ``next`` gave last (the engine streams a block per chunk)
        try:
            self._stream = conn.send_query(sql, fmt, params=params or None)
        except (RuntimeError, UnicodeDecodeError) as exc:
            raise engine_error(exc) from None

    def next(self) -> bytes | None:
        """The next chunk, None at the end; a failure is a ClickHouseError."""
        try:
            chunk = self._stream.fetch()
        except (RuntimeError, UnicodeDecodeError) as exc:
            raise engine_error(exc) from None
        if chunk is None:
            return None
        self.chunk_rows = chunk.rows_read()
        self.rows += self.chunk_rows
        self.read_rows += chunk.storage_rows_read()
        self.read_bytes += chunk.storage_bytes_read()
        data = chunk.bytes()
        self.result_bytes += len(data)
        return data

    def cancel(self) -> None:
        try:
            self._stream.cancel()
        except Exception:  # already finished or failed: nothing left to stop
            pass

    def summary(self) -> dict:
        return {"read_rows": str(self.read_rows), "read_bytes": str(self.read_bytes), "written_rows": "0",
                "written_bytes": "0", "total_rows_to_read": str(self.read_rows), "result_rows": str(self.rows),
                "result_bytes": str(self.result_bytes), "elapsed_ns": str(time.perf_counter_ns() - self._started)}


class StreamingInsert:
    """An INSERT whose data is appended chunk by chunk as the request body arrives."""

    def __init__(self, conn, statement: str, fmt: str):
        self._started = time.perf_counter_ns()
        try:
            self._inserter = conn.send_insert(statement, fmt)
        except (RuntimeError, UnicodeDecodeError) as exc:
            raise engine_error(exc) from None

    def append(self, data: bytes) -> None:
        try:
            self._inserter.append(data)
        except (RuntimeError, UnicodeDecodeError) as exc:
            self.cancel()
            raise engine_error(exc) from None

    def finish(self) -> dict:
        try:
            result = self._inserter.finish()
        except (RuntimeError, UnicodeDecodeError) as exc:
            raise engine_error(exc) from None
        return {
            "read_rows": "0", "read_bytes": "0",
            "written_rows": str(result.rows_written), "written_bytes": str(result.bytes_written),
            "total_rows_to_read": "0", "result_rows": str(result.rows_written), "result_bytes": "0",
            "elapsed_ns": str(time.perf_counter_ns() - self._started),
        }

    def cancel(self) -> None:
        try:
            self._inserter.cancel()
        except Exception:  # already finished or failed: nothing left to undo
            pass


def summary_header(summary: dict) -> str:
    return json.dumps(summary, separators=(",", ":"))


_PROGRESS_FIELDS = ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
                    "result_rows", "result_bytes", "elapsed_ns")


def progress_header(summary: dict) -> str:
    """ClickHouse's X-ClickHouse-Progress value (the summary's progress fields)."""
    return json.dumps({k: summary[k] for k in _PROGRESS_FIELDS if k in summary}, separators=(",", ":"))
