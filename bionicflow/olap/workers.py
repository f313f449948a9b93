"""Blocking engine calls off the event loop, for as little of the loop's time as a hop can take.

Every read hands its engine call to a worker thread once. Starlette's `run_in_threadpool`
(anyio's `to_thread`) looks up the running library, a capacity limiter and cancel scopes on
the loop for every call; at 16 clients of indexed point reads that bookkeeping was a fifth of
the loop's busy time (py-spy, docs/benchmarks.md). This is the same hand-over with asyncio's
own executor call, keeping anyio's one guarantee the server relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# anyio's default limit: more threads than query slots, so sessions, kills and the pool's
# connection set-up never queue behind the running statements.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="olap-worker")


async def in_worker(fn: Callable[..., T], /, *args) -> T:
    """``fn(*args)`` in a worker thread.

    A caller cancelled meanwhile still waits for the call to end, then is cancelled: the engine
    connection the call uses is never handed on (or closed) while it runs.
    """
    future = asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            if future.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result
