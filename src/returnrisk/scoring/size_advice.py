"""Which size should this customer take? Per size: P(return), P(too small), P(too large), P(fit).

The model scores the product in every size it is sold in, for the customer (their size profile
per size system, corrected by how the products they kept fitted) or for an anonymous visitor.
The recommendation is the size with the lowest expected return risk, ties going to the
customer's usual size. A visitor gets product-level advice only, and only when the evidence
supports it ("runs small: consider one size up"). Each size carries a fit hint (often too
small, often too large, fits) for the product page.

A customer's rows are the visitor's with their columns recomputed (every size in one go,
:meth:`~returnrisk.scoring.rows.FeatureRows.for_customer`); a visitor's advice of every product
is computed once when the model is loaded (:func:`visitor_size_advice`) and served from memory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from returnrisk.features.snapshot import SEP
from returnrisk.model.estimator import Prediction
from returnrisk.scoring.explained import LANGUAGES, ExplainedScorer, SizeNotOffered, UnknownProduct
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["SizeOption", "SizeAdvice", "size_advice", "visitor_size_advice", "fit_hint", "TIE_TOLERANCE",
           "HINT_RATE", "HINT_RATIO"]

#: Risks closer than this are a tie, broken towards the customer's usual size.
TIE_TOLERANCE = 0.005
#: A size is "often too small" when P(return as too small) is at least HINT_RATE and HINT_RATIO
#: times P(return as too large) (and the other way round); otherwise it "fits".
HINT_RATE, HINT_RATIO = 0.08, 2.0
_SMALL, _LARGE = RETURN_GROUPS.index("too_small"), RETURN_GROUPS.index("too_large")


@dataclass
class SizeOption:
    size: str
    p_return: float
    p_too_small: float
    p_too_large: float
    p_fit: float
    fit_hint: str = "fits"


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


def fit_hint(p_too_small: float, p_too_large: float) -> str:
    """``too_small``, ``too_large`` or ``fits``: what a shopper should know of a size (see :data:`HINT_RATE`)."""
    if p_too_small >= HINT_RATE and p_too_small >= HINT_RATIO * p_too_large:
        return "too_small"
    if p_too_large >= HINT_RATE and p_too_large >= HINT_RATIO * p_too_small:
        return "too_large"
    return "fits"


def _usual_ordinal(scorer: ExplainedScorer, customer_id: str, system: str) -> float | None:
    try:
        signal, count, _ = scorer.rows.profile_values(f"{customer_id}{SEP}{system}")
    except KeyError:
        return None
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


def _options(offered: list[str], prediction: Prediction, start: int = 0) -> list[SizeOption]:
    options = []
    for i, size in enumerate(offered, start):
        small, large = prediction.p_reasons[i, _SMALL], prediction.p_reasons[i, _LARGE]
        options.append(SizeOption(size, round(float(prediction.p_return[i]), 6), round(float(small), 6),
                                  round(float(large), 6), round(float(1.0 - small - large), 6),
                                  fit_hint(float(small), float(large))))
    return options


def _product(scorer: ExplainedScorer, product_id: str) -> tuple[list[str], str]:
    if not scorer.has_product(product_id):
        raise UnknownProduct(product_id)
    offered = scorer.offered_sizes(product_id)
    if not offered:
        raise SizeNotOffered(product_id, None, [])
    return offered, str(scorer.snapshot.products.at[product_id, "size_system"])


def size_advice(scorer: ExplainedScorer, product_id: str, customer_id: str | None = None,
                lang: str = "en") -> SizeAdvice:
    """Advice for ``product_id`` (and ``customer_id`` if given); raises :class:`UnknownProduct`."""
    offered, system = _product(scorer, product_id)
    tendency, messages = scorer.fit(product_id)
    rows = scorer.rows.rows_of[product_id]
    customer = scorer.rows.customer(customer_id) if customer_id else None
    X = scorer.rows.for_customer(rows, customer) if customer is not None else scorer.pairs.X[rows]
    options = _options(offered, scorer.predictor.predict(X))
    known = customer is not None
    usual_ordinal = _usual_ordinal(scorer, customer_id, system) if known else None
    advice = SizeAdvice(product_id, customer_id, known, system, None, None, None, None, tendency.direction,
                        None, options, scorer.version)
    if usual_ordinal is None:
        advice.message = messages["fr" if lang == "fr" else "en"]  # product-level only, if supported
        return advice

    ordinals = scorer.size_ordinals[product_id]
    distance = np.abs(ordinals - usual_ordinal)
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
    position = {size: i for i, size in enumerate(offered)}
    step = ordinals[position[recommended.size]] - ordinals[position[usual_size]] if usual_size else np.nan
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


def visitor_size_advice(scorer: ExplainedScorer) -> dict[tuple[str, str], bytes]:
    """The JSON answer of every sized product in every language for a visitor, computed in one batch.

    The same answer as :func:`size_advice` without a customer (a test compares them), for the
    service to serve from memory.
    """
    products = [pid for pid in scorer.sizes if scorer.has_product(pid)]
    if not products:
        return {}
    rows = np.concatenate([scorer.rows.rows_of[pid] for pid in products])
    prediction = scorer.model.predict(scorer.pairs.X[rows])
    out: dict[tuple[str, str], bytes] = {}
    start = 0
    for pid in products:
        offered, system = _product(scorer, pid)
        tendency, messages = scorer.fit(pid)
        options = _options(offered, prediction, start)
        start += len(offered)
        for lang in LANGUAGES:
            advice = SizeAdvice(pid, None, False, system, None, None, None, None, tendency.direction, messages[lang],
                                options, scorer.version)
            out[(pid, lang)] = json.dumps(advice.to_dict(), separators=(",", ":")).encode()
    return out
