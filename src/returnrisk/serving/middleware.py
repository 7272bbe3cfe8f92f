"""Pure ASGI middleware (cheap on the hot path): request metrics and the body size limit."""

from __future__ import annotations

import json
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException

__all__ = ["Metrics", "MetricsMiddleware", "BodyLimitMiddleware"]

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("returnrisk_http_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("returnrisk_http_request_duration_seconds", "Request latency by route",
                                 ["route", "method"], buckets=_BUCKETS, registry=self.registry)
        self.model_version = Gauge("returnrisk_model_version", "Version of the model being served",
                                   registry=self.registry)
        self.reloads = Counter("returnrisk_model_reloads_total", "Model reloads by result", ["result"],
                               registry=self.registry)
        self.model_load_seconds = Gauge("returnrisk_model_load_seconds", "Time to load and precompute the model",
                                        registry=self.registry)

    def model_loaded(self, loaded, result: str) -> None:
        """Count a model load (``startup`` or ``ok``) and show its version and load time."""
        self.reloads.labels(result).inc()
        self.model_load_seconds.set(loaded.load_seconds)
        if loaded.version and str(loaded.version).isdigit():
            self.model_version.set(int(loaded.version))


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
    """Answers 413 when a request body is larger than ``limit`` bytes (declared or streamed)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def _too_large(self, send):
        body = json.dumps({"detail": f"request body larger than {self.limit} bytes: send fewer lines per request",
                           "code": "payload_too_large"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self.limit:
                        return await self._too_large(send)
                except ValueError:
                    pass
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # handled by the app's HTTP error handler: 413 with a JSON body
                    raise HTTPException(413, f"request body larger than {self.limit} bytes: "
                                             "send fewer lines per request")
            return message

        await self.app(scope, limited_receive, send)
