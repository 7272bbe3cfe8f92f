"""Does the shop record why customers return? What the fix report says at its top when it does not.

Most levers need return reasons (a product that comes back "too small", "not as described"…);
without them only ``investigate_returns`` can be suggested. :func:`reason_capture` counts the
returns known at the report's as-of date that have a reason (given, or read from the customer's
words) and, when too few do — the rule of ``validate``'s ``reason_levers`` capability
(:mod:`returnrisk.data.diagnosis`) — writes the sentence every output shows first: the JSON
file's summary, ``GET /v1/fixes``, the HTML report, the command's output, the dashboard's list.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from returnrisk.data.diagnosis import MIN_REASON_RETURNS, MIN_REASON_SHARE
from returnrisk.data.loader import Shop
from returnrisk.fixes.messages import number, percent

__all__ = ["ReasonCapture", "reason_capture"]


@dataclass(frozen=True)
class ReasonCapture:
    """Returns known at the as-of date, and how many of them have a reason."""

    returns: int
    with_reason: int

    @property
    def share(self) -> float | None:
        return self.with_reason / self.returns if self.returns else None

    @property
    def reasons_known(self) -> bool:
        """Enough reasons for the reason levers (``validate``'s ``reason_levers`` capability)."""
        return self.with_reason >= MIN_REASON_RETURNS and (self.share or 0.0) >= MIN_REASON_SHARE

    @property
    def message(self) -> dict[str, str] | None:
        """The sentence shown at the top of the report when reasons are missing (``None`` otherwise)."""
        if self.reasons_known:
            return None
        if self.with_reason == 0:
            en = ("No return reasons in this shop's data: the suggestions can only point at products whose returns "
                  "are well above comparable products' (“investigate returns”), not say why.")
            fr = ("Aucun motif de retour dans les données de la boutique : les suggestions ne peuvent que signaler "
                  "les produits dont les retours dépassent nettement ceux des produits comparables (« examiner les "
                  "retours »), pas dire pourquoi.")
        else:
            en = (f"Only {percent(self.share, 'en')} of the returns ({self.with_reason:,} of {self.returns:,}) have a "
                  "reason: too "
                  "few to say why products come back; the suggestions point mostly at products whose returns are "
                  "well above comparable products' (“investigate returns”).")
            fr = (f"Seuls {percent(self.share, 'fr')} des retours ({number(self.with_reason, 'fr', 0)} sur "
                  f"{number(self.returns, 'fr', 0)}) ont un motif : trop peu pour dire pourquoi les produits "
                  "reviennent ; les suggestions signalent surtout les produits dont les retours dépassent nettement "
                  "ceux des produits comparables (« examiner les retours »).")
        en += (" Record why customers return — a return form or portal (reason_code, or their words in "
               "reason_text) — to get the size, photo, description, quality and packaging levers.")
        fr += (" Recueillez le motif de chaque retour — formulaire ou portail de retour (reason_code, ou les mots du "
               "client dans reason_text) — pour obtenir les leviers taille, photos, description, qualité et emballage.")
        return {"en": en, "fr": fr}

    def to_dict(self) -> dict:
        return {"returns": self.returns, "with_reason": self.with_reason,
                "share_with_reason": None if self.share is None else round(self.share, 4),
                "reasons_known": self.reasons_known, "message": self.message}


def reason_capture(shop: Shop, as_of: pd.Timestamp) -> ReasonCapture:
    """How many of the returns registered before ``as_of`` have a reason (code given or inferred)."""
    returns = shop.returns[shop.returns["returned_at"] < as_of]
    with_reason = int(returns["reason_code"].notna().sum()) if "reason_code" in returns.columns else 0
    return ReasonCapture(len(returns), with_reason)
