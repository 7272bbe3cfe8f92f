"""The storefront's hottest calls, answered before the framework: a visitor's risk and size advice.

``GET /v1/products/{product_id}/risk?size=&lang=&explain=`` and
``GET /v1/products/{product_id}/size-advice?lang=`` without a shopper are answered from bytes
precomputed at model load. Routing, dependency injection and parameter validation would cost
more than the answer itself, so this pure ASGI middleware serves exactly that case — the same
bytes and headers as the route (``ETag``, ``Cache-Control: public``, ``304`` for a matching
``If-None-Match``) — and hands everything else to the FastAPI route unchanged: a shopper (a
``customer_id``, a ``customer_token`` or ``X-Customer-Token``, a Shopify App Proxy signature),
an unknown product or size, an unexpected parameter, a required storefront key. The route also
documents the endpoints and produces every error.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from returnrisk.serving.customers import TOKEN_HEADER
from returnrisk.serving.http_cache import VisitorAnswer, asgi_headers, etag_matches, visitor_headers

__all__ = ["VisitorFastPath", "RISK_ROUTE", "SIZE_ADVICE_ROUTE"]

RISK_ROUTE = "/v1/products/{product_id}/risk"
SIZE_ADVICE_ROUTE = "/v1/products/{product_id}/size-advice"
_PATH = re.compile(r"^/v1/products/([^/]{1,200})/(risk|size-advice)$")
_PARAMS = {"risk": {"size", "lang", "customer_id", "customer_token", "explain"},
           "size-advice": {"lang", "customer_id", "customer_token"}}
#: what FastAPI reads as a boolean (anything else is the route's 422)
_BOOLEAN = {"", "true", "false", "1", "0", "yes", "no", "on", "off"}
_TOKEN = TOKEN_HEADER.encode()


class _RouteLabel:
    """What the metrics middleware reads from ``scope["route"]``."""

    def __init__(self, path: str):
        self.path = path


_LABELS = {"risk": _RouteLabel(RISK_ROUTE), "size-advice": _RouteLabel(SIZE_ADVICE_ROUTE)}


class VisitorFastPath:
    """Serves the current model's ``visitor_answers`` (risk) and ``visitor_advice`` (size advice)."""

    def __init__(self, app, holder, enabled: bool = True, max_age: int = 300):
        self.app, self.holder, self.enabled, self.max_age = app, holder, enabled, max_age

    async def __call__(self, scope, receive, send):
        found = self._answer(scope) if self.enabled else None
        if found is None:
            return await self.app(scope, receive, send)
        kind, answer = found
        scope["route"] = _LABELS[kind]
        headers = asgi_headers(visitor_headers(answer.etag, self.max_age))
        if etag_matches(_header(scope, b"if-none-match"), answer.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer.body)).encode()),
                                (b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": answer.body})

    def _answer(self, scope) -> tuple[str, VisitorAnswer] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = _PATH.match(scope["path"])
        model = self.holder.current
        if match is None or model is None or _header(scope, _TOKEN):
            return None
        kind = match.group(2)
        try:
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True, strict_parsing=False,
                              encoding="utf-8", errors="strict", max_num_fields=5)
        except (ValueError, UnicodeDecodeError):
            return None
        params = dict(pairs)
        if len(params) != len(pairs) or not params.keys() <= _PARAMS[kind] or params.get("customer_id") \
                or params.get("customer_token") or params.get("explain", "").lower() not in _BOOLEAN:
            return None
        lang = params.get("lang", "en")
        if lang not in ("en", "fr"):
            return None
        product = match.group(1)   # scope["path"] is already percent-decoded, as the router sees it
        if kind == "risk":
            size = params.get("size", "")
            if len(size) > 50:
                return None
            answer = model.visitor_answers.get((product, size.strip(), lang))
        else:
            answer = model.visitor_advice.get((product, lang))
        return None if answer is None else (kind, answer)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1").strip() or None
    return None
