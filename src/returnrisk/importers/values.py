"""Small value helpers shared by the platform readers: ids, amounts, texts, booleans."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["plain_id", "amount", "money", "strip_html", "first_text", "truthy", "whole_number", "isin"]

_GID = re.compile(r"^gid://[^/]+/[^/]+/([^/?#]+)")
_TAG = re.compile(r"<[^>]+>")


def plain_id(value: object) -> str | None:
    """``gid://shopify/LineItem/123`` → ``"123"``; ``123`` → ``"123"``; empty/0 → ``None``."""
    if isinstance(value, str):  # the common cases first: this runs once per id read
        if value.startswith("gid://"):
            text = value.rsplit("/", 1)[-1].split("?", 1)[0]
            return text or None
        text = value.strip()
        return None if text in ("", "0") else text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    text = str(value).strip()
    match = _GID.match(text)
    if match:
        text = match.group(1)
    if text in ("", "0"):
        return None
    return text


def amount(value: object) -> float | None:
    """A money amount given as a number or a decimal string; ``None`` when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money(bag: object, *, camel: bool) -> tuple[float | None, str | None]:
    """Amount and currency of a Shopify money bag, in the presentment (customer's) currency.

    GraphQL: ``{"shopMoney": {...}, "presentmentMoney": {"amount", "currencyCode"}}``;
    REST: ``{"shop_money": {...}, "presentment_money": {"amount", "currency_code"}}``.
    """
    if not isinstance(bag, dict):
        return None, None
    keys = ("presentmentMoney", "shopMoney", "currencyCode") if camel else (
        "presentment_money", "shop_money", "currency_code")
    part = bag.get(keys[0]) or bag.get(keys[1])
    if not isinstance(part, dict):
        return None, None
    return amount(part.get("amount")), part.get(keys[2])


def strip_html(value: object) -> str | None:
    """Plain text of an HTML description (tags removed, entities decoded, spaces collapsed)."""
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(_TAG.sub(" ", value)).split())
    return text or None


def first_text(value: object, language_id: str | None = None) -> str | None:
    """A text field that may be multilingual (PrestaShop: ``[{"id": "1", "value": "…"}]``)."""
    if isinstance(value, list):
        chosen = [v for v in value if isinstance(v, dict) and (language_id is None or str(v.get("id")) == language_id)]
        for item in chosen or value:
            if isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"].strip():
                return item["value"].strip()
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def truthy(value: object) -> bool:
    """``True``, ``"1"``, ``1``, ``"true"`` → True (PrestaShop sends flags as strings)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value) if value is not None else False


def whole_number(value: object) -> int | None:
    number = amount(value)
    if number is None or number != int(number):
        return None
    return int(number)


def isin(values: pd.Series, allowed: object) -> np.ndarray:
    """``values.isin(allowed)`` for string columns, computed by Arrow (pandas' is slow on them)."""
    left = pa.array(values.astype("string[pyarrow]").array)
    right = pa.array(pd.Series(list(allowed) if not isinstance(allowed, pd.Series) else allowed,
                               dtype="string[pyarrow]").array)
    return pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False).astype(bool)
