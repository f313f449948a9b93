"""The OLAP engine's request plumbing: query slots that queue without blocking, and the read-only check cache."""

from __future__ import annotations

import anyio
import pytest

from bionicflow.olap.engine import StatementMemory, QuerySlots
from bionicflow.olap.protocol import ClickHouseError


def test_more_requests_than_slots_all_finish_and_never_exceed_the_limit():
    slots, running, peak, finished = QuerySlots(limit=2, wait_seconds=5), [0], [0], []

    async def request(n: int) -> None:
        async with slots.hold():
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await anyio.sleep(0.01)  # the slot holder must get the loop back to finish
            running[0] -= 1
        finished.append(n)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(request, n)

    anyio.run(main)
    assert sorted(finished) == list(range(12))
    assert peak[0] == 2


def test_a_request_that_waits_too_long_gets_too_many_simultaneous_queries():
    slots, outcome = QuerySlots(limit=1, wait_seconds=0.05), {}

    async def holder(release: anyio.Event) -> None:
        async with slots.hold():
            await release.wait()

    async def main() -> None:
        release = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder, release)
            await anyio.sleep(0)  # let the holder take the only slot
            with pytest.raises(ClickHouseError) as info:
                async with slots.hold():
                    pass
            outcome["error"] = info.value
            release.set()
        async with slots.hold():  # the slot came back after the holder finished
            outcome["reacquired"] = True

    anyio.run(main)
    assert (outcome["error"].code, outcome["error"].name) == (202, "TOO_MANY_SIMULTANEOUS_QUERIES")
    assert "1 query slots stayed busy" in str(outcome["error"].message)
    assert outcome["reacquired"]


def test_a_checked_statement_is_keyed_by_its_table_naming_parameters_only():
    sql = "SELECT * FROM {schema:Identifier}.t WHERE u = {u:String} AND d > {d:DateTime64(6)}"
    key = lambda params: StatementMemory.key(sql, params, frozenset({"default"}), "default")  # noqa: E731
    assert key({"schema": "default", "u": "a", "d": "x"}) == key({"schema": "default", "u": "b", "d": "y"})
    assert key({"schema": "default", "u": "a"}) != key({"schema": "ops", "u": "a"})
    odd = "SELECT * FROM {schema: identifier}.t"  # any type not known to be a literal counts as naming
    assert StatementMemory.key(odd, {"schema": "ops"}, None, "default") != StatementMemory.key(odd, {"schema": "x"}, None, "default")


def test_checked_statements_are_bounded():
    checked = StatementMemory(size=2)
    for n in range(3):
        checked.add(("q", n))
    assert ("q", 0) not in checked and ("q", 1) in checked and ("q", 2) in checked


def test_every_streamed_format_concatenates_to_the_whole_result(tmp_path):
    """Formats on the streaming list must not repeat a header or frame per chunk (the engine's chunks are whole documents)."""
    import chdb

    from bionicflow.olap.engine import STREAMABLE_FORMATS, ResultStream

    conn = chdb.connect(str(tmp_path / "data"))
    # small blocks: six chunks of each format from 30,000 rows (the default block size needs 300,000 for five)
    sql = "SELECT number, toString(number) AS s, [number, 1] AS a FROM numbers(30000) SETTINGS max_block_size = 5000"
    try:
        for fmt in sorted(STREAMABLE_FORMATS):
            stream, parts = ResultStream(conn, sql, fmt, {}), []
            while (chunk := stream.next()) is not None:
                parts.append(chunk)
            assert len(parts) > 1, f"{fmt}: one chunk proves nothing"
            assert b"".join(parts) == conn.query(sql, fmt).bytes(), fmt
        assert stream.rows == 30000
        # the summary counts what was sent, as ClickHouse's X-ClickHouse-Summary does (it said 0)
        assert stream.summary()["result_bytes"] == str(sum(len(p) for p in parts))
    finally:
        conn.close()


def test_an_error_after_the_first_bytes_is_clickhouses_in_stream_block():
    from bionicflow.olap.protocol import in_stream_exception

    block = in_stream_exception("abc123", "Code: 395. DB::Exception: boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)\n")
    assert block.startswith(b"\r\n__exception__\r\nabc123\r\nCode: 395.")
    assert block.endswith(b" abc123\r\n__exception__\r\n")
    # the size before the tag counts the message's newline, as ClickHouse's does: a client that reads that many
    # bytes back from the size gets the whole "Code: 395 ..." (one short, @clickhouse/client read "ode: 395")
    message_end = block.index(b"\n", block.index(b"Code:")) + 1
    size = int(block[message_end:].split(b" ", 1)[0])
    assert block[message_end - size:message_end] == b"Code: 395. DB::Exception: boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)\n"


def test_each_format_names_the_content_type_clickhouse_gives_it():
    from bionicflow.olap.streaming import media_type

    assert media_type("JSONEachRow") == "application/x-ndjson; charset=UTF-8"
    assert media_type("JSON") == "application/json; charset=UTF-8"
    assert media_type("TSV") == media_type("TabSeparatedWithNames") == "text/tab-separated-values; charset=UTF-8"
    assert media_type("CSV") == "text/csv; charset=UTF-8; header=absent"
    assert media_type("CSVWithNames") == "text/csv; charset=UTF-8; header=present"
    assert media_type("Native") == media_type("Parquet") == "application/octet-stream"
    assert media_type("PrettyCompact") == "text/plain; charset=UTF-8"


def test_a_verdict_reached_while_the_catalogue_changed_is_not_remembered(monkeypatch):
    import threading

    import chdb

    from bionicflow.olap import engine as engine_module

    conn = chdb.connect(":memory:")
    conn.query("CREATE TABLE IF NOT EXISTS default.guarded (x UInt8) ENGINE = Memory")
    engine = engine_module.Engine.__new__(engine_module.Engine)  # the checker's state only: no data directory
    engine.checked, engine.generation, engine._generation_lock = engine_module.StatementMemory(), 0, threading.Lock()
    engine.described, engine.functions = engine_module.StatementMemory(), engine_module._function_list(conn)
    real, sql, allowed = engine_module._table_info, "SELECT * FROM default.guarded", frozenset({"default"})

    def changing(*args):  # an admin's DDL lands while the reader's statement is being checked
        engine.catalogue_changed()
        return real(*args)

    monkeypatch.setattr(engine_module, "_table_info", changing)
    engine.check_readonly_query(conn, sql, None, allowed, "default")
    assert not engine.passed_check(sql, None, allowed, "default")
    monkeypatch.setattr(engine_module, "_table_info", real)
    engine.check_readonly_query(conn, sql, None, allowed, "default")
    assert engine.passed_check(sql, None, allowed, "default")


def test_a_syntax_errors_position_is_counted_in_the_clients_text_not_the_tagged_one(tmp_path):
    """A read is sent to the engine behind a tag comment (to find it for a kill): the error must not show it."""
    import chdb

    from bionicflow.olap.engine import engine_error
    from bionicflow.olap.streaming import untagged

    tag = "/* bionicflow:abc0 */"
    conn = chdb.connect(str(tmp_path / "data"))
    try:
        messages = []
        for sql in (f"{tag} SELECT * FRON unknown_table", "SELECT * FRON unknown_table"):
            with pytest.raises(RuntimeError) as failed:
                conn.query(sql, "TSV")
            messages.append(engine_error(failed.value).message)
    finally:
        conn.close()
    tagged, plain = messages
    assert "position 15" in plain and tagged != plain  # the engine counted the tag in
    assert untagged(tagged, tag) == plain
