"""A first-come-first-served limit on the requests that compute with the model.

Explaining a known customer or scoring a basket is CPU work (exact TreeSHAP). Run on the event
loop, it lets some connections starve under load; run in a 40-thread pool, it thrashes the two
cores and the GIL. Here at most ``slots`` such computations run at once, in worker threads, and
the others wait in arrival order (``asyncio.Semaphore`` wakes its waiters FIFO), so under
overload every request waits about the same time instead of a few waiting seconds.

With ``metrics`` the computations running and waiting, and the time waited, are shown on
``/metrics`` (``returnrisk_model_slots_busy``, ``…_waiting``, ``returnrisk_model_slot_wait_seconds``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

__all__ = ["ModelSlots"]

T = TypeVar("T")


class ModelSlots:
    def __init__(self, slots: int, metrics=None):
        self.slots = slots
        self._semaphore = asyncio.Semaphore(slots)
        self._metrics = metrics

    async def run(self, function: Callable[..., T], *args) -> T:
        metrics = self._metrics
        if metrics is None:
            async with self._semaphore:
                return await run_in_threadpool(function, *args)
        started = time.perf_counter()
        metrics.slots_waiting.inc()
        try:
            await self._semaphore.acquire()
        finally:
            metrics.slots_waiting.dec()
        metrics.slot_wait.observe(time.perf_counter() - started)
        metrics.slots_busy.inc()
        try:
            return await run_in_threadpool(function, *args)
        finally:
            metrics.slots_busy.dec()
            self._semaphore.release()
