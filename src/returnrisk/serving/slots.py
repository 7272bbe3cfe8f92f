"""A first-come-first-served limit on the requests that compute with the model.

Explaining a known customer or scoring a basket is CPU work (exact TreeSHAP). Run on the event
loop, it lets some connections starve under load; run in a 40-thread pool, it thrashes the two
cores and the GIL. Here at most ``slots`` such computations run at once, in worker threads, and
the others wait in arrival order (``asyncio.Semaphore`` wakes its waiters FIFO), so under
overload every request waits about the same time instead of a few waiting seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

__all__ = ["ModelSlots"]

T = TypeVar("T")


class ModelSlots:
    def __init__(self, slots: int):
        self.slots = slots
        self._semaphore = asyncio.Semaphore(slots)

    async def run(self, function: Callable[..., T], *args) -> T:
        async with self._semaphore:
            return await run_in_threadpool(function, *args)
