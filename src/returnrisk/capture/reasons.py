"""The reasons a customer picks on the portal, in plain words, and their taxonomy codes."""

from __future__ import annotations

from dataclasses import dataclass

from returnrisk.taxonomy import REASON_CODES

__all__ = ["PORTAL_REASONS", "SIZE_DIRECTIONS", "PortalReason", "portal_reason"]


@dataclass(frozen=True)
class PortalReason:
    key: str            # the form value
    code: str | None    # the taxonomy code; None: "Other", the customer's words go to the classifier
    en: str
    fr: str

    def label(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


PORTAL_REASONS: tuple[PortalReason, ...] = (
    PortalReason("too_small", "too_small", "Too small", "Trop petit"),
    PortalReason("too_large", "too_large", "Too large", "Trop grand"),
    PortalReason("looks_different", "looks_different", "Doesn't look like the photos",
                 "Ne ressemble pas aux photos"),
    PortalReason("not_as_described", "not_as_described", "Not as described", "Pas conforme à la description"),
    PortalReason("poor_quality", "poor_quality", "Poor quality", "Qualité décevante"),
    PortalReason("damaged", "damaged", "Arrived damaged", "Arrivé endommagé"),
    PortalReason("wrong_item", "wrong_item", "Wrong item", "Mauvais article reçu"),
    PortalReason("changed_mind", "changed_mind", "Changed my mind", "J'ai changé d'avis"),
    PortalReason("other", None, "Other", "Autre"),
)

assert all(r.code is None or r.code in REASON_CODES for r in PORTAL_REASONS)

#: Reasons that get an exchange offer, and the direction of the size that would fit (+1 larger).
SIZE_DIRECTIONS: dict[str, int] = {"too_small": +1, "too_large": -1}

_BY_KEY = {r.key: r for r in PORTAL_REASONS}


def portal_reason(key: str | None) -> PortalReason | None:
    return _BY_KEY.get(key or "")
