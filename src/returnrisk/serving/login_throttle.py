"""The dashboard login's throttle: failed logins counted per client address and in all.

After ``max_per_client`` failures from one address within ``window_s`` seconds
(``RETURNRISK_LOGIN_MAX_FAILURES``, 5; ``RETURNRISK_LOGIN_WINDOW_SECONDS``, 300), that address is
answered 429 with ``Retry-After`` (the seconds until its oldest failure leaves the window) without
the key being checked; after ``max_global`` failures from all addresses together
(``RETURNRISK_LOGIN_MAX_FAILURES_GLOBAL``, 100) every address is. Failures are rows of the service
database (:data:`returnrisk.db.schema.login_failures_table`), so every worker and host counts the
same ones; a successful login clears its address's failures. Each refusal and failure is logged
(the address, never the key tried).

Behind a reverse proxy the client address is the proxy's unless uvicorn is told to trust it
(``--proxy-headers`` / ``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from returnrisk.db.schema import login_failures_table

__all__ = ["LoginThrottle", "Throttled"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throttled:
    """A refusal: who is throttled (``client`` or ``everyone``) and for how many seconds."""

    scope: str
    retry_after: int


class LoginThrottle:
    def __init__(self, engine: sa.Engine, *, max_per_client: int, max_global: int, window_s: int):
        self.engine = engine
        self.max_per_client, self.max_global, self.window_s = max_per_client, max_global, window_s

    def _retry_after(self, oldest: datetime | None, now: datetime) -> int:
        if oldest is None:
            return 1
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        return max(1, math.ceil((oldest + timedelta(seconds=self.window_s) - now).total_seconds()))

    def check(self, client: str) -> Throttled | None:
        """``None`` if ``client`` may try a key now, else a :class:`Throttled` (logged)."""
        now = datetime.now(timezone.utc)
        since = now - timedelta(seconds=self.window_s)
        t = login_failures_table
        with self.engine.connect() as conn:
            mine = conn.execute(sa.select(sa.func.count()).where(t.c.client == client[:64],
                                                                 t.c.failed_at >= since)).scalar_one()
            if mine >= self.max_per_client:
                refusal = Throttled("client", self._retry_after(self._nth_newest(conn, client, since), now))
            else:
                every = conn.execute(sa.select(sa.func.count()).where(t.c.failed_at >= since)).scalar_one()
                refusal = None
                if every >= self.max_global:
                    refusal = Throttled("everyone", self._retry_after(self._nth_newest(conn, None, since), now))
        if refusal is not None:
            log.warning("dashboard login throttled for %s (%s): %d failures in %d s, retry after %d s", client,
                        refusal.scope, self.max_per_client if refusal.scope == "client" else self.max_global,
                        self.window_s, refusal.retry_after)
        return refusal

    def _nth_newest(self, conn, client: str | None, since: datetime) -> datetime | None:
        """When the failure that keeps the count at its limit leaves the window (the time to wait for)."""
        t = login_failures_table
        limit = self.max_per_client if client is not None else self.max_global
        query = sa.select(t.c.failed_at).where(t.c.failed_at >= since)
        if client is not None:
            query = query.where(t.c.client == client[:64])
        rows = conn.execute(query.order_by(t.c.failed_at.desc()).limit(limit)).scalars().all()
        return rows[-1] if len(rows) >= limit else None

    def failed(self, client: str) -> None:
        now = datetime.now(timezone.utc)
        t = login_failures_table
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.failed_at < now - timedelta(seconds=self.window_s)))
            conn.execute(sa.insert(t).values(client=client[:64], failed_at=now))
        log.warning("dashboard login failed from %s (wrong key)", client)

    def succeeded(self, client: str) -> None:
        t = login_failures_table
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.client == client[:64]))
