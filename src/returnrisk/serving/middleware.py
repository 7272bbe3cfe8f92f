"""Pure ASGI middleware (cheap on the hot path): request metrics and the body size limit.

The metrics themselves are in :mod:`returnrisk.serving.metrics` (``Metrics`` is re-exported here).
"""

from __future__ import annotations

import json
import time

from starlette.exceptions import HTTPException

from returnrisk.serving.metrics import Metrics

__all__ = ["Metrics", "MetricsMiddleware", "BodyLimitMiddleware"]


class MetricsMiddleware:
    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(path, method, str(status[0])).inc()
            self.metrics.latency.labels(path, method).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Answers 413 when a request body is larger than ``limit`` bytes (declared or streamed).

    ``path_limits`` gives other limits to paths starting with a prefix (the portal's photo uploads).
    """

    def __init__(self, app, limit: int, path_limits: dict[str, int] | None = None):
        self.app, self.default_limit = app, limit
        self.path_limits = tuple((path_limits or {}).items())

    def _limit_of(self, scope) -> int:
        path = scope.get("path", "")
        return next((limit for prefix, limit in self.path_limits if path.startswith(prefix)), self.default_limit)

    @property
    def limit(self) -> int:
        return self.default_limit

    async def _too_large(self, send, limit: int):
        body = json.dumps({"detail": f"request body larger than {limit} bytes: send fewer lines per request",
                           "code": "payload_too_large"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self._limit_of(scope)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        return await self._too_large(send, limit)
                except ValueError:
                    pass
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # handled by the app's HTTP error handler: 413 with a JSON body
                    raise HTTPException(413, f"request body larger than {limit} bytes: "
                                             "send fewer lines per request")
            return message

        await self.app(scope, limited_receive, send)
