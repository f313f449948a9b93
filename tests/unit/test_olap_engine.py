"""The OLAP engine's request plumbing: query slots that queue without blocking, and the read-only check cache."""

from __future__ import annotations

import anyio
import pytest

from bionicflow.olap.engine import CheckedQueries, QuerySlots
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
    key = lambda params: CheckedQueries.key(sql, params, frozenset({"default"}), "default")  # noqa: E731
    assert key({"schema": "default", "u": "a", "d": "x"}) == key({"schema": "default", "u": "b", "d": "y"})
    assert key({"schema": "default", "u": "a"}) != key({"schema": "ops", "u": "a"})
    odd = "SELECT * FROM {schema: identifier}.t"  # any type not known to be a literal counts as naming
    assert CheckedQueries.key(odd, {"schema": "ops"}, None, "default") != CheckedQueries.key(odd, {"schema": "x"}, None, "default")


def test_checked_statements_are_bounded():
    checked = CheckedQueries(size=2)
    for n in range(3):
        checked.add(("q", n))
    assert ("q", 0) not in checked and ("q", 1) in checked and ("q", 2) in checked
