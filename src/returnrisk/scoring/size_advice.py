"""Which size should this customer take? Per size: P(return), P(too small), P(too large), P(fit).

The model scores the product in every size it is sold in, for the customer (their size profile
per size system, corrected by how the products they kept fitted) or for an anonymous visitor.
The recommendation is the size with the lowest expected return risk, ties going to the
customer's usual size. A visitor gets product-level advice only, and only when the evidence
supports it ("runs small: consider one size up").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from returnrisk.features.snapshot import SEP
from returnrisk.scoring.explained import ExplainedScorer, SizeNotOffered, UnknownProduct
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["SizeOption", "SizeAdvice", "size_advice", "TIE_TOLERANCE"]

#: Risks closer than this are a tie, broken towards the customer's usual size.
TIE_TOLERANCE = 0.005
_SMALL, _LARGE = RETURN_GROUPS.index("too_small"), RETURN_GROUPS.index("too_large")


@dataclass
class SizeOption:
    size: str
    p_return: float
    p_too_small: float
    p_too_large: float
    p_fit: float


@dataclass
class SizeAdvice:
    product_id: str
    customer_id: str | None
    customer_known: bool
    size_system: str
    usual_size: str | None
    recommended_size: str | None
    confidence: float | None
    confidence_label: str | None
    fit_tendency: str | None
    message: str | None
    sizes: list[SizeOption] = field(default_factory=list)
    model_version: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _usual_ordinal(scorer: ExplainedScorer, customer_id: str, system: str) -> float | None:
    profiles = scorer.snapshot.profiles
    key = f"{customer_id}{SEP}{system}"
    if key not in profiles.index:
        return None
    signal, count, _ = profiles.loc[key].to_numpy()
    return float(signal / count) if count > 0 else None


def _confidence_label(p_fit: float) -> str:
    return "high" if p_fit >= 0.85 else "medium" if p_fit >= 0.7 else "low"


_TEXT = {
    "same": {"en": "We recommend {rec}, your usual size: it should fit you well in this item",
             "fr": "Nous vous conseillons {rec}, votre taille habituelle : elle devrait bien vous aller"},
    "up_tendency": {"en": "We recommend {rec}: this item runs small and customers who usually take {usual} kept {rec}",
                    "fr": "Nous vous conseillons {rec} : cet article taille petit et les clients qui prennent "
                          "habituellement du {usual} ont gardé du {rec}"},
    "down_tendency": {"en": "We recommend {rec}: this item runs large and customers who usually take {usual} kept {rec}",
                      "fr": "Nous vous conseillons {rec} : cet article taille grand et les clients qui prennent "
                            "habituellement du {usual} ont gardé du {rec}"},
    "other": {"en": "We recommend {rec}: from what you kept before, {rec} should fit you best in this item",
              "fr": "Nous vous conseillons {rec} : d'après ce que vous avez gardé, c'est la taille qui devrait "
                    "le mieux vous aller pour cet article"},
}


def size_advice(scorer: ExplainedScorer, product_id: str, customer_id: str | None = None,
                lang: str = "en") -> SizeAdvice:
    """Advice for ``product_id`` (and ``customer_id`` if given); raises :class:`UnknownProduct`."""
    if not scorer.has_product(product_id):
        raise UnknownProduct(product_id)
    offered = scorer.offered_sizes(product_id)
    tendency, messages = scorer.fit(product_id)
    system = str(scorer.snapshot.products.loc[product_id, "size_system"])
    if not offered:
        raise SizeNotOffered(product_id, None, [])
    rows, known = [], False
    for size in offered:
        if customer_id:
            x, known = scorer.customer_row(product_id, size, customer_id)
        else:
            x = scorer.pairs.X[[scorer.pairs.index[(product_id, size)]]]
        rows.append(x[0])
    prediction = scorer.model.predict(np.vstack(rows), num_threads=1)
    options = []
    for i, size in enumerate(offered):
        small, large = prediction.p_reasons[i, _SMALL], prediction.p_reasons[i, _LARGE]
        options.append(SizeOption(size, round(float(prediction.p_return[i]), 6), round(float(small), 6),
                                  round(float(large), 6), round(float(1.0 - small - large), 6)))
    usual_ordinal = _usual_ordinal(scorer, customer_id, system) if customer_id and known else None
    advice = SizeAdvice(product_id, customer_id, known, system, None, None, None, None, tendency.direction,
                        None, options, scorer.version)
    if usual_ordinal is None:
        advice.message = messages["fr" if lang == "fr" else "en"]  # product-level only, if supported
        return advice

    ordinals = scorer.snapshot.product_sizes
    ordinals = ordinals[ordinals["product_id"] == product_id].set_index("size")["ordinal"].reindex(offered)
    distance = np.abs(ordinals.to_numpy(dtype=float) - usual_ordinal)
    usual_size = offered[int(np.nanargmin(distance))] if np.isfinite(distance).any() else None
    risks = np.array([o.p_return for o in options])
    best = risks.min()
    candidates = np.flatnonzero(risks <= best + TIE_TOLERANCE)
    pick = candidates[np.argmin(np.nan_to_num(distance[candidates], nan=np.inf))]
    recommended = options[int(pick)]
    advice.usual_size = usual_size
    advice.recommended_size = recommended.size
    advice.confidence = recommended.p_fit
    advice.confidence_label = _confidence_label(recommended.p_fit)
    step = (ordinals.get(recommended.size, np.nan) - ordinals.get(usual_size, np.nan)) if usual_size else np.nan
    if recommended.size == usual_size:
        key = "same"
    elif step > 0 and tendency.direction == "runs_small":
        key = "up_tendency"
    elif step < 0 and tendency.direction == "runs_large":
        key = "down_tendency"
    else:
        key = "other"
    advice.message = _TEXT[key]["fr" if lang == "fr" else "en"].format(rec=recommended.size, usual=usual_size)
    return advice
