"""Rate limits of the portal per client address (``limits``' moving window, in memory, per worker).

With several workers each keeps its own counts (a client may get up to N × the limit); behind a
reverse proxy the client address is the proxy's unless uvicorn is started with
``--proxy-headers --forwarded-allow-ips`` (see docs/operations.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["PortalRateLimits", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int   # seconds (0 when allowed)


class PortalRateLimits:
    def __init__(self, pages: str, submissions: str):
        try:
            self._pages, self._submissions = parse(pages), parse(submissions)
        except ValueError as exc:
            raise ValueError(f"portal rate limit: {exc} (write e.g. 60/minute)") from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def _hit(self, item, who: str) -> Verdict:
        if self._limiter.hit(item, "portal", who):
            return Verdict(True, 0)
        stats = self._limiter.get_window_stats(item, "portal", who)
        return Verdict(False, max(1, int(stats.reset_time - time.time()) + 1))

    def page(self, who: str) -> Verdict:
        return self._hit(self._pages, who)

    def submission(self, who: str) -> Verdict:
        return self._hit(self._submissions, who)
