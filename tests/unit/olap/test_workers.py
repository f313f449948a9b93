"""The OLAP server's worker-thread hop: results, errors, and a cancelled caller that waits for the call."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bionicflow.olap.workers import in_worker


def test_the_call_runs_off_the_event_loop_and_its_result_or_error_comes_back():
    async def run():
        loop_thread = threading.get_ident()
        ran_on = await in_worker(threading.get_ident)
        assert ran_on != loop_thread
        assert await in_worker(pow, 2, 10) == 1024
        with pytest.raises(ZeroDivisionError):
            await in_worker(lambda: 1 / 0)
    asyncio.run(run())


def test_a_cancelled_caller_is_cancelled_only_after_the_call_has_ended():
    release, events = threading.Event(), []

    def blocking_call():
        release.wait(10)
        events.append("call ended")

    async def run():
        caller = asyncio.ensure_future(in_worker(blocking_call))
        await asyncio.sleep(0)  # the call is in its thread
        caller.cancel()
        await asyncio.sleep(0.05)
        assert not caller.done(), "the caller went on while the call still ran (its connection would be handed on)"
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        events.append("caller cancelled")
    asyncio.run(run())
    assert events == ["call ended", "caller cancelled"]
