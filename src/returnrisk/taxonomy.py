"""The return-reason taxonomy and the reason groups the model predicts.

The taxonomy is part of the data contract (``returns.reason_code``); the groups are
what the model separates, chosen so that each group points to a different fix:
size (small / large), appearance (photos), description, quality, and the rest.
"""

from __future__ import annotations

__all__ = [
    "REASON_CODES",
    "REASON_GROUPS",
    "RETURN_GROUPS",
    "SIZE_GROUPS",
    "KEPT",
    "NO_REASON",
    "group_of",
    "REASON_LABELS",
    "GROUP_LABELS",
]

#: Reason codes accepted in ``returns.reason_code`` (the contract's taxonomy).
REASON_CODES: tuple[str, ...] = (
    "too_small",
    "too_large",
    "looks_different",
    "not_as_described",
    "poor_quality",
    "damaged",
    "wrong_item",
    "late_delivery",
    "changed_mind",
    "other",
)

#: Value used internally for a return whose reason is neither given nor inferable.
NO_REASON = "unknown"

#: Outcome of a line that was not returned.
KEPT = "kept"

#: Reason group of every taxonomy code (and of ``unknown``).
REASON_GROUPS: dict[str, str] = {
    "too_small": "too_small",
    "too_large": "too_large",
    "looks_different": "looks_different",
    "not_as_described": "not_as_described",
    "poor_quality": "quality",
    "damaged": "quality",
    "wrong_item": "other",
    "late_delivery": "other",
    "changed_mind": "other",
    "other": "other",
    NO_REASON: "other",
}

#: The groups a return can fall in, in the order of the model's reason classes.
RETURN_GROUPS: tuple[str, ...] = (
    "too_small",
    "too_large",
    "looks_different",
    "not_as_described",
    "quality",
    "other",
)

#: The groups that mean "wrong size".
SIZE_GROUPS: tuple[str, ...] = ("too_small", "too_large")

REASON_LABELS: dict[str, dict[str, str]] = {
    "too_small": {"en": "too small", "fr": "trop petit"},
    "too_large": {"en": "too large", "fr": "trop grand"},
    "looks_different": {"en": "looks different from the photos", "fr": "différent des photos"},
    "not_as_described": {"en": "not as described", "fr": "non conforme à la description"},
    "poor_quality": {"en": "poor quality", "fr": "mauvaise qualité"},
    "damaged": {"en": "damaged", "fr": "endommagé"},
    "wrong_item": {"en": "wrong item", "fr": "mauvais article"},
    "late_delivery": {"en": "late delivery", "fr": "livraison tardive"},
    "changed_mind": {"en": "changed mind", "fr": "changement d'avis"},
    "other": {"en": "other", "fr": "autre"},
    NO_REASON: {"en": "no reason given", "fr": "sans motif"},
}

GROUP_LABELS: dict[str, dict[str, str]] = {
    "too_small": {"en": "too small", "fr": "trop petit"},
    "too_large": {"en": "too large", "fr": "trop grand"},
    "looks_different": {"en": "looks different", "fr": "différent des photos"},
    "not_as_described": {"en": "not as described", "fr": "non conforme"},
    "quality": {"en": "quality or damage", "fr": "qualité ou dommage"},
    "other": {"en": "other reasons", "fr": "autres motifs"},
}


def group_of(reason_code: str | None) -> str:
    """Return the reason group of a taxonomy code (``None`` or empty → ``other``)."""
    if not reason_code:
        return REASON_GROUPS[NO_REASON]
    try:
        return REASON_GROUPS[reason_code]
    except KeyError:
        raise ValueError(
            f"unknown reason code {reason_code!r}: use one of {', '.join(REASON_CODES)}"
        ) from None
