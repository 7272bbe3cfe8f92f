"""The exchange offered before a refund when an item was too small or too large.

The size offered is this customer's size advice for the product
(:func:`returnrisk.scoring.size_advice.size_advice` with the order's customer id) when it lies in
the direction the customer needs (larger for "Too small", smaller for "Too large"); otherwise the
next size in that direction. The customer may also ask for another size in that direction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from returnrisk.scoring.explained import ExplainedScorer, SizeNotOffered, UnknownProduct
from returnrisk.scoring.size_advice import size_advice

__all__ = ["MAX_SIZES_OFFERED", "ExchangeOffer", "exchange_offer"]

log = logging.getLogger(__name__)

#: Sizes listed in an offer (the recommended one first, then the nearest in the right direction).
MAX_SIZES_OFFERED = 3


@dataclass(frozen=True)
class ExchangeOffer:
    recommended: str
    sizes: tuple[str, ...]     # the recommended size first
    source: str                # size_advice: the customer's size advice | next_size: one step in the direction
    message: str | None        # the size advice's sentence, when it gave the recommendation


def _ordinals(scorer: ExplainedScorer, product_id: str) -> dict[str, float]:
    table = scorer.snapshot.product_sizes
    rows = table[table["product_id"].astype(str) == product_id]
    return {str(s): float(o) for s, o in zip(rows["size"], rows["ordinal"], strict=True) if not math.isnan(float(o))}


def exchange_offer(scorer: ExplainedScorer, product_id: str, ordered_size: str | None, customer_id: str | None,
                   direction: int, lang: str = "en") -> ExchangeOffer | None:
    """The exchange to offer for ``ordered_size`` of ``product_id`` (``direction`` +1 larger, −1 smaller);
    ``None`` when the product is unknown to the model, unsized, or has no size that way."""
    if not ordered_size or not scorer.has_product(product_id):
        return None
    ordinals = _ordinals(scorer, product_id)
    if ordered_size not in ordinals:
        return None
    here = ordinals[ordered_size]
    offered = [s for s in scorer.offered_sizes(product_id) if s in ordinals and (ordinals[s] - here) * direction > 0]
    if not offered:
        return None
    offered.sort(key=lambda s: abs(ordinals[s] - here))
    try:
        advice = size_advice(scorer, product_id, customer_id or None, lang)
    except (UnknownProduct, SizeNotOffered) as exc:
        log.info("no size advice for %s: %s", product_id, exc)
        advice = None
    if advice is not None and advice.recommended_size in offered:
        recommended, source, message = advice.recommended_size, "size_advice", advice.message
    else:
        recommended, source, message = offered[0], "next_size", None
    sizes = (recommended, *[s for s in offered if s != recommended])[:MAX_SIZES_OFFERED]
    return ExchangeOffer(recommended, sizes, source, message)
