"""Stable, URL-safe identifiers of fix suggestions.

A fix is one lever on one product, or on one size of a product: its ``fix_id`` is the first 12
hex digits of the SHA-256 of ``(product_id, size, lever)``. The same suggestion gets the same id
in every report, every model version and every process (no salt, no counter), so a status set on
a fix (``PATCH /v1/fixes/{fix_id}``) still finds it after a retrain. Hex digits are safe in a URL
path whatever the size label holds (``W32/L34``, ``36 ½``, ``XL+``).

48 bits: the chance that two of 100,000 fixes of a shop share an id is about 2 in 100,000.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import pandas as pd

__all__ = ["FIX_ID_LENGTH", "FIX_ID_PATTERN", "fix_id", "fix_ids", "is_fix_id"]

FIX_ID_LENGTH = 12
#: What a fix id looks like (for path validation): 12 lowercase hex digits.
FIX_ID_PATTERN = re.compile(rf"^[0-9a-f]{{{FIX_ID_LENGTH}}}$")
_VERSION = "returnrisk-fix-v1"
_SEP = "\x1f"   # unit separator: cannot be confused with any character of an id or a size label


def fix_id(product_id: str, size: str | None, lever: str) -> str:
    """The id of the fix ``lever`` on ``product_id`` (``size`` ``None`` or ``""``: the whole product)."""
    if product_id is None or str(product_id) == "":
        raise ValueError("a fix id needs a product_id")
    if not lever:
        raise ValueError("a fix id needs a lever")
    size_text = "" if size is None or (pd.api.types.is_scalar(size) and pd.isna(size)) else str(size)
    key = _SEP.join((_VERSION, str(product_id), size_text, str(lever)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:FIX_ID_LENGTH]


def fix_ids(product_ids: Iterable, sizes: Iterable, levers: Iterable) -> list[str]:
    """:func:`fix_id` of many fixes (``None`` / NaN sizes: the whole product)."""
    return [fix_id(p, s, lever) for p, s, lever in zip(product_ids, sizes, levers, strict=True)]


def is_fix_id(text: str) -> bool:
    """Whether ``text`` has the form of a fix id (it may still name no fix)."""
    return isinstance(text, str) and FIX_ID_PATTERN.match(text) is not None
