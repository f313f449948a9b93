"""The client's `query_id` (and user), where a client of ClickHouse meets it: `queryID()` and `KILL QUERY`.

chdb takes no query id (its API runs a statement under an id of its own making), so the server
keeps the client's: a statement's calls of `queryID()`, `currentQueryID()`, `initialQueryID()`
(and their aliases) become the client's id as a literal; while a statement runs its id is known
here, so a second request with the same id is refused as ClickHouse refuses it
(QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING), and `KILL QUERY WHERE query_id = '<the client's id>'`
kills the statement run under it. `system.processes` still lists the engine's own ids. chdb has no users
either, so `currentUser()` and its kin become the name of the user the server authenticated.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bionicflow.olap.protocol import ERROR_POSITION, ClickHouseError
from bionicflow.olap.sql_lexing import segments

_ID_CALL = re.compile(r"(?<![\w.$])(?:(?:queryID|currentQueryID|initialQueryID)|(?i:query_id|initial_query_id))"
                      r"\s*\(\s*\)")
# chdb has no users (every statement runs as its `default`): the request's user is who the server authenticated
_USER_CALL = re.compile(r"(?<![\w.$])(?:(?:currentUser|authenticatedUser|authUser)|(?i:user|current_user|session_user))"
                        r"\s*\(\s*\)")
_KILL_BY_ID = re.compile(r"^\s*KILL\s+QUERY\s+WHERE\s+query_id\s*=\s*'((?:[^'\\]|\\.)*)'\s*(SYNC|ASYNC|TEST)?\s*;?\s*$",
                         re.IGNORECASE)


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_request_values(sql: str, query_id: str, user: str) -> str:
    """``sql`` with its calls of the query-id functions replaced by ``query_id`` and of the user functions by
    ``user``, as literals (in code only, not in strings or comments)."""
    return request_text(sql, query_id, user).sql


@dataclass(frozen=True)
class RequestText:
    """A statement as the engine runs it, and what it replaced in the client's text (to speak of the latter)."""

    sql: str
    # (UTF-8 offset in sql, its length there, length in the client's text, the literal, the call it replaced)
    edits: tuple[tuple[int, int, int, str, str], ...] = ()

    def client_message(self, message: str) -> str:
        """An engine error about ``sql`` as about the client's text: positions counted in it, calls shown as sent."""
        if not self.edits:
            return message

        def back(match: re.Match) -> str:
            position, shift = int(match.group(2)), 0
            for start, length, client_length, _literal_text, _call in self.edits:
                if position - 1 < start:
                    break
                if position - 1 < start + length:  # inside a replacement: at the call it stands for
                    return match.group(1) + str(start - shift + 1)
                shift += length - client_length
            return match.group(1) + str(position - shift)

        message = ERROR_POSITION.sub(back, message)
        for _start, _length, _client_length, literal_text, call in self.edits:
            message = message.replace(literal_text, call, 1)
        return message


def request_text(sql: str, query_id: str, user: str) -> RequestText:
    """``sql`` with the request's values in place of their calls (see with_request_values), and the edits."""
    if not (_ID_CALL.search(sql) or _USER_CALL.search(sql)):  # the common case, without lexing (a statement may be
        return RequestText(sql)                               # megabytes of VALUES)
    id_literal, user_literal = _literal(query_id), _literal(user)
    parts: list[str] = []
    edits: list[tuple[int, int, int, str, str]] = []
    offset = 0  # UTF-8 bytes of the rewritten text so far: the engine counts positions in bytes
    for kind, start, end in segments(sql):
        piece = sql[start:end]
        if kind == "code":
            at = 0
            for call in sorted([*_ID_CALL.finditer(piece), *_USER_CALL.finditer(piece)], key=lambda m: m.start()):
                before = piece[at:call.start()]
                parts.append(before)
                offset += len(before.encode())
                literal_text = id_literal if _ID_CALL.fullmatch(call.group(0)) else user_literal
                edits.append((offset, len(literal_text.encode()), len(call.group(0).encode()), literal_text,
                              call.group(0)))
                parts.append(literal_text)
                offset += len(literal_text.encode())
                at = call.end()
            piece = piece[at:]
        parts.append(piece)
        offset += len(piece.encode())
    return RequestText("".join(parts), tuple(edits))


class RunningQueries:
    """The client query ids of the statements running now, each with the tag its text starts with."""

    def __init__(self):
        self._tags: dict[str, str] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(self, query_id: str, tag: str) -> Iterator[None]:
        with self._lock:
            if query_id in self._tags:
                raise ClickHouseError(216, "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING",
                                      f"Query with id = {query_id} is already running")
            self._tags[query_id] = tag
        try:
            yield
        finally:
            with self._lock:
                self._tags.pop(query_id, None)

    def kill_statement(self, sql: str) -> str:
        """``KILL QUERY WHERE query_id = '<a client's id>'`` as a kill of that id's statement; others unchanged."""
        wanted = _KILL_BY_ID.match(sql)
        if not wanted:
            return sql
        with self._lock:
            tag = self._tags.get(re.sub(r"\\(.)", r"\1", wanted.group(1)))
        if tag is None:  # not a client's id of a running statement: perhaps one of the engine's own
            return sql
        return f"KILL QUERY WHERE startsWith(query, {_literal(tag)}) {wanted.group(2) or ''}".rstrip()
