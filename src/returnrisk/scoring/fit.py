"""Does a product run small or large? Evidence from its returns and from what customers kept."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from returnrisk.evidence import excess_probability
from returnrisk.features.history import STATE_COLUMNS
from returnrisk.features.snapshot import Snapshot

__all__ = ["FitTendency", "fit_tendency", "fit_message"]

_S = {name: i for i, name in enumerate(STATE_COLUMNS)}


@dataclass
class FitTendency:
    """``direction`` is ``runs_small``, ``runs_large`` or ``None`` (no evidence either way)."""

    direction: str | None
    probability: float
    small_rate: float
    large_rate: float
    category_small_rate: float
    category_large_rate: float
    exposure: float
    kept_offset: float | None
    kept_count: float

    def to_dict(self) -> dict:
        return asdict(self)


def fit_tendency(snapshot: Snapshot, product_id: str, *, threshold: float = 0.95,
                 strength: float = 20.0) -> FitTendency:
    """How ``product_id`` fits, with the evidence; ``direction`` only above ``threshold``."""
    empty = np.zeros(len(STATE_COLUMNS))
    states = snapshot.states
    prod = states["product"].loc[product_id].to_numpy() if product_id in states["product"].index else empty
    category = snapshot.products["category"].get(product_id) if product_id in snapshot.products.index else None
    cat = states["category"].loc[category].to_numpy() if category in states["category"].index else empty
    cat_e = max(cat[_S["exposure"]], 1e-9)
    cat_small = cat[_S["r_too_small"]] / cat_e if cat[_S["exposure"]] > 0 else 0.07
    cat_large = cat[_S["r_too_large"]] / cat_e if cat[_S["exposure"]] > 0 else 0.06
    e = prod[_S["exposure"]]
    small, large = prod[_S["r_too_small"]], prod[_S["r_too_large"]]
    p_small = float(excess_probability(small, e, cat_small, strength))
    p_large = float(excess_probability(large, e, cat_large, strength))
    offsets = snapshot.fit_offsets
    kept_sum, kept_n = (offsets.loc[product_id].to_numpy() if product_id in offsets.index else (0.0, 0.0))
    kept_offset = float(kept_sum / kept_n) if kept_n >= 5 else None
    small_rate = float(small / e) if e > 0 else 0.0
    large_rate = float(large / e) if e > 0 else 0.0
    direction, probability = None, max(p_small, p_large)
    agrees = lambda sign: kept_offset is None or sign * kept_offset > 0.1  # noqa: E731
    if p_small >= threshold and small_rate > 1.5 * large_rate and agrees(+1):
        direction, probability = "runs_small", p_small
    elif p_large >= threshold and large_rate > 1.5 * small_rate and agrees(-1):
        direction, probability = "runs_large", p_large
    return FitTendency(direction, probability, small_rate, large_rate, float(cat_small), float(cat_large),
                       float(e), kept_offset, float(kept_n))


_MESSAGES = {
    ("runs_small", True): {"en": "Runs small: most customers take one size up",
                           "fr": "Taille petit : la plupart des clients prennent une taille au-dessus"},
    ("runs_small", False): {"en": "Runs small: consider one size up",
                            "fr": "Taille petit : envisagez la taille au-dessus"},
    ("runs_large", True): {"en": "Runs large: most customers take one size down",
                           "fr": "Taille grand : la plupart des clients prennent une taille en dessous"},
    ("runs_large", False): {"en": "Runs large: consider one size down",
                            "fr": "Taille grand : envisagez la taille en dessous"},
}


def fit_message(tendency: FitTendency, lang: str = "en") -> str | None:
    """The shopper message for a tendency, or ``None`` when the evidence does not support one."""
    if tendency.direction is None:
        return None
    strong = tendency.kept_offset is not None and abs(tendency.kept_offset) >= 0.5
    return _MESSAGES[(tendency.direction, strong)]["fr" if lang == "fr" else "en"]
