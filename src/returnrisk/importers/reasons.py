"""Platform return reasons → the project's reason taxonomy (:mod:`returnrisk.taxonomy`).

Shopify's ``ReturnReason`` enum maps one-to-one (table below). Its successor,
``ReturnReasonDefinition``, is open-ended: its stable ``handle`` is matched by keywords
(``too-small``/``too-tight`` → too_small, …); a handle that matches nothing is ``other`` with the
definition's name as text. WooCommerce refund reasons and PrestaShop return questions are free
text: they go to ``reason_text`` only, for the reason classifier.
"""

from __future__ import annotations

import re

__all__ = ["SHOPIFY_RETURN_REASONS", "shopify_reason", "reason_from_definition"]

#: Shopify ``ReturnReason`` enum value → taxonomy code.
SHOPIFY_RETURN_REASONS: dict[str, str] = {
    "SIZE_TOO_SMALL": "too_small",
    "SIZE_TOO_LARGE": "too_large",
    "NOT_AS_DESCRIBED": "not_as_described",
    "DEFECTIVE": "poor_quality",
    "WRONG_ITEM": "wrong_item",
    "COLOR": "looks_different",
    "STYLE": "looks_different",
    "UNWANTED": "changed_mind",
    "OTHER": "other",
    "UNKNOWN": "other",
}

# first matching rule wins; matched against the definition's handle (e.g. "too-tight")
_HANDLE_RULES: tuple[tuple[str, str], ...] = (
    (r"too-(small|tight|short|narrow)|runs-small|size-too-small", "too_small"),
    (r"too-(large|big|loose|long|wide)|runs-large|size-too-large", "too_large"),
    (r"not-as-described|inaccurate|description", "not_as_described"),
    (r"damaged|broken|arrived-damaged", "damaged"),
    (r"defect|quality|faulty|poor", "poor_quality"),
    (r"wrong-item|incorrect-item|wrong-product|missing", "wrong_item"),
    (r"colou?r|style|looks|photo|pattern", "looks_different"),
    (r"late|delay", "late_delivery"),
    (r"unwanted|changed-mind|no-longer|not-needed|better-price", "changed_mind"),
)


def shopify_reason(enum_value: object, note: str | None) -> tuple[str | None, str | None]:
    """``(reason_code, reason_text)`` of a Shopify return line item's ``returnReason``."""
    code = SHOPIFY_RETURN_REASONS.get(str(enum_value).upper()) if enum_value else None
    return code, note or None


def reason_from_definition(definition: object, note: str | None) -> tuple[str | None, str | None]:
    """``(reason_code, reason_text)`` of a ``returnReasonDefinition`` ``{handle, name}``."""
    if not isinstance(definition, dict):
        return None, note or None
    handle = str(definition.get("handle") or "").lower()
    for pattern, code in _HANDLE_RULES:
        if re.search(pattern, handle):
            return code, note or None
    name = definition.get("name")
    return "other", note or (name if isinstance(name, str) and name else None)
