"""HTTP caching of storefront answers: who may keep them, for how long, and ``304 Not Modified``.

A visitor's answer is the same for everyone until the next model: it carries an ``ETag`` (the
model version, then a digest of the product, size, language and the answer itself, so a new
model or a new answer always changes it) and ``Cache-Control: public, max-age=…``
(``RETURNRISK_VISITOR_CACHE_MAX_AGE``); a request whose ``If-None-Match`` names it gets ``304``
without a body. ``Vary: X-Customer-Token``: the same URL with a customer token is another
answer. A known customer's answer is theirs alone: ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

__all__ = ["VisitorAnswer", "etag_for", "etag_matches", "visitor_headers", "PRIVATE_HEADERS", "asgi_headers"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class VisitorAnswer(NamedTuple):
    """A precomputed visitor answer: its JSON bytes and its entity tag."""

    body: bytes
    etag: str


def etag_for(version: str | None, product_id: str, size: str, lang: str, body: bytes) -> str:
    """A strong entity tag: ``"v<model version>-<digest>"``."""
    digest = hashlib.blake2b(b"\x1f".join([product_id.encode(), size.encode(), lang.encode(), body]),
                             digest_size=10).hexdigest()
    shown = _UNSAFE.sub("_", str(version if version is not None else "none"))[:40]
    return f'"v{shown}-{digest}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` (a list of tags, weak or strong, or ``*``) names ``etag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def visitor_headers(etag: str, max_age: int) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", "Vary": "X-Customer-Token"}


#: A known customer's answer: kept by no cache.
PRIVATE_HEADERS = {"Cache-Control": "private, no-store"}


def asgi_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]
