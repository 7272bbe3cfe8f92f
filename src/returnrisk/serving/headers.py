"""Headers on every answer — HTML, JSON, errors, the visitor fast path — and the request id.

A pure ASGI middleware, outermost but for the metrics: it adds precomputed header bytes to the
``http.response.start`` message, so it costs one list concatenation per request.

* ``Content-Security-Policy`` (:data:`CSP`): scripts, styles, fonts and connections from this
  origin only (the dashboard has no inline script or style: its CSS is a static file), images
  also as ``data:`` URLs and from HTTPS origins (the shop's product photos on the fix list and
  product page), no plugins, no ``<base>``, forms post here, and no framing
  (``frame-ancestors 'none'``); only ``/redoc`` allows inline styles (:data:`CSP_REDOC`: Redoc
  writes its styles at run time; Swagger UI on ``/docs`` needs nothing more);
* ``X-Frame-Options: DENY`` (browsers without CSP 2), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: strict-origin-when-cross-origin``, ``Cross-Origin-Opener-Policy: same-origin``;
* ``Strict-Transport-Security`` when the service runs behind HTTPS (``RETURNRISK_SECURE_COOKIES``,
  true by default);
* ``X-Request-ID``: the caller's (letters, digits, ``.-_:``, at most 64) or a new one, also put in
  every log line written while the request runs (:mod:`returnrisk.serving.logs`).

uvicorn's ``Server`` header is turned off where uvicorn is started (``returnrisk serve``;
``uvicorn --no-server-header`` otherwise).
"""

from __future__ import annotations

import itertools
import os
import re

from returnrisk.serving.logs import REQUEST_ID

__all__ = ["CSP", "CSP_REDOC", "ResponseHeadersMiddleware", "security_headers"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; font-src 'self'; "
       "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
#: Redoc (``/redoc`` only) writes its styles at run time (styled-components): inline styles allowed there.
CSP_REDOC = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
#: Pages whose policy differs from :data:`CSP`.
_PAGE_CSP = {"/redoc": CSP_REDOC}
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,64}$")


def security_headers(hsts: bool, csp: str = CSP) -> list[tuple[bytes, bytes]]:
    """The header pairs added to every answer."""
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


class ResponseHeadersMiddleware:
    """Adds :func:`security_headers` and ``x-request-id`` to every HTTP answer (see the module docstring)."""

    def __init__(self, app, *, hsts: bool):
        self.app = app
        self.headers = security_headers(hsts)
        self._page_headers = {path: security_headers(hsts, csp) for path, csp in _PAGE_CSP.items()}
        self._prefix = os.urandom(4).hex()   # request ids unique across workers without coordination
        self._counter = itertools.count(1)

    def _request_id(self, scope) -> bytes:
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _REQUEST_ID.match(value):
                return value
        return b"%s-%x" % (self._prefix.encode(), next(self._counter))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = self._request_id(scope)
        token = REQUEST_ID.set(request_id.decode())
        headers = self._page_headers.get(scope["path"], self.headers)
        extra = [*headers, (b"x-request-id", request_id)]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                present = {name.lower() for name, _ in own}   # a route's own header wins (the portal's CSP)
                message["headers"] = [*own, *(h for h in extra if h[0].lower() not in present)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            REQUEST_ID.reset(token)
