"""Customer ids: the platform's own, or a stable pseudonym for guest checkouts.

A guest's id is a hash of the normalised e-mail address (trimmed, Unicode-normalised, lower
case): the same guest ordering twice gets the same id, and the address itself is never written.
It is a pseudonym, not anonymisation: whoever holds a list of addresses can recompute it.
"""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["guest_id", "normalise_email", "GUEST_PREFIX"]

GUEST_PREFIX = "guest-"
_SALT = b"returnrisk-guest-v1:"


def normalise_email(email: object) -> str | None:
    if not isinstance(email, str):
        return None
    text = unicodedata.normalize("NFKC", email).strip().lower()
    return text if "@" in text else None


def guest_id(email: object, fallback: str | None = None) -> str | None:
    """``guest-<20 hex>`` from the e-mail; ``guest-order-<id>`` when there is no usable e-mail."""
    normal = normalise_email(email)
    if normal is None:
        return f"{GUEST_PREFIX}order-{fallback}" if fallback else None
    return GUEST_PREFIX + hashlib.sha256(_SALT + normal.encode("utf-8")).hexdigest()[:20]
