"""Every worker follows the registry alias: a new champion reaches every process that serves.

With several workers (or hosts) a promotion — ``returnrisk promote``, a retraining that passes its
gate, or ``POST /v1/admin/reload`` on any one worker after moving the alias — must reach each of
them, not only the one that got a request. Each worker runs :class:`AliasWatch`: every
``RETURNRISK_MODEL_POLL_SECONDS`` (30 s; 0 turns it off) it asks the registry which version the
model URI designates now (one cheap registry call) and, when it differs from the version served,
loads it and swaps it in (:meth:`Services.reload <returnrisk.serving.services.Services.reload>`:
the old model serves until the new one is complete). A version that fails to load is counted
once (``returnrisk_model_reloads_total{result="failed"}``), logged, and not tried again until the
alias moves; a registry that cannot be reached is logged once and the served model stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from returnrisk.errors import ReturnRiskError

__all__ = ["AliasWatch", "VersionResolver"]

log = logging.getLogger(__name__)

#: ``() -> version`` the model URI designates now (``None`` if it cannot say).
VersionResolver = Callable[[], "str | None"]


class AliasWatch:
    def __init__(self, resolve: VersionResolver, current: Callable[[], "str | None"],
                 reload: Callable[[], Awaitable[dict]], poll_s: float):
        self._resolve, self._current, self._reload, self.poll_s = resolve, current, reload, poll_s
        self._failed_version: str | None = None
        self._unreachable = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.poll_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="returnrisk-alias-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watch must outlive any one failure
                log.exception("model alias watch: unexpected error (the served model stays)")

    async def check(self) -> bool:
        """Look once; ``True`` if a new version was loaded."""
        try:
            wanted = await run_in_threadpool(self._resolve)
        except Exception as exc:  # noqa: BLE001 - registry down: keep serving
            if not self._unreachable:
                log.warning("model alias watch: the registry cannot be reached (%s); the served model stays",
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self._unreachable = True
            return False
        self._unreachable = False
        if wanted is None or wanted == self._current() or wanted == self._failed_version:
            return False
        log.info("model alias watch: the registry designates version %s (serving %s): loading it", wanted,
                 self._current())
        try:
            await self._reload()
        except ReturnRiskError as exc:
            self._failed_version = wanted
            log.error("model alias watch: version %s cannot be served: %s", wanted, exc)
            return False
        self._failed_version = None
        return True
