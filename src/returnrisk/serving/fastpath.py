"""The storefront's hottest call, answered before the framework: a visitor's risk.

``GET /v1/products/{product_id}/risk?size=&lang=`` without a customer is answered from bytes
precomputed at model load. Routing, dependency injection and parameter validation would cost
more than the answer itself, so this pure ASGI middleware serves exactly that case — the same
bytes and headers as the route — and hands everything else (a customer, an unknown product or
size, an unexpected parameter, a required storefront key) to the FastAPI route unchanged, which
also documents the endpoint and produces every error.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

__all__ = ["VisitorRiskFastPath", "RISK_ROUTE"]

RISK_ROUTE = "/v1/products/{product_id}/risk"
_PATH = re.compile(r"^/v1/products/([^/]{1,200})/risk$")
_PARAMS = {"size", "lang", "customer_id"}


class _RouteLabel:
    """What the metrics middleware reads from ``scope["route"]``."""

    path = RISK_ROUTE


class VisitorRiskFastPath:
    """Serves ``holder.current.visitor_answers`` (the current model's precomputed answers)."""

    def __init__(self, app, holder, enabled: bool = True):
        self.app, self.holder, self.enabled = app, holder, enabled

    async def __call__(self, scope, receive, send):
        body = self._answer(scope) if self.enabled else None
        if body is None:
            return await self.app(scope, receive, send)
        scope["route"] = _RouteLabel
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope) -> bytes | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = _PATH.match(scope["path"])
        model = self.holder.current
        if match is None or model is None:
            return None
        try:
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True, strict_parsing=False,
                              encoding="utf-8", errors="strict", max_num_fields=3)
        except (ValueError, UnicodeDecodeError):
            return None
        params = dict(pairs)
        if len(params) != len(pairs) or not params.keys() <= _PARAMS or params.get("customer_id"):
            return None
        size, lang = params.get("size", ""), params.get("lang", "en")
        if len(size) > 50 or lang not in ("en", "fr"):
            return None
        return model.visitor_answers.get((match.group(1), size.strip(), lang))
