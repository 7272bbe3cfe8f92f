"""The storefront widget: ``GET /widget/returnrisk.js`` (dependency-free, a few KB gzipped).

A shop adds ``<script async src="…/widget/returnrisk.js">`` and ``<returnrisk-size-advice
product-id="…">`` to its product page (docs/storefront.md). The script is public and the same for
everyone: cacheable (``ETag``, ``Cache-Control: public``) and loadable from any origin
(``Cross-Origin-Resource-Policy: cross-origin``).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from returnrisk.serving.http_cache import etag_matches

__all__ = ["router", "widget_script", "WIDGET_MAX_AGE"]

router = APIRouter(tags=["storefront"])

#: Seconds a browser keeps the script before asking again (then a 304 when it has not changed).
WIDGET_MAX_AGE = 3600


@cache
def widget_script() -> tuple[bytes, str]:
    """The script's bytes and entity tag."""
    body = resources.files("returnrisk.serving").joinpath("static", "returnrisk.js").read_bytes()
    return body, f'"w-{hashlib.blake2b(body, digest_size=10).hexdigest()}"'


@router.get("/widget/returnrisk.js", response_class=Response, include_in_schema=True,
            responses={200: {"content": {"application/javascript": {}}, "description": "The widget script"},
                       304: {"description": "Not modified"}},
            summary="The size-advice widget for product pages (a custom element, no dependency)")
async def widget(request: Request) -> Response:
    body, etag = widget_script()
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={WIDGET_MAX_AGE}",
               "Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
