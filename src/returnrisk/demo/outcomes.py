"""Which demo lines come back, why, when, and when they are refunded.

Each reason has a hazard driven by a planted cause; the true probability of a return is
``1 - exp(-sum of hazards)`` and the reason is drawn in proportion to the hazards. These true
probabilities are written to the ground truth: the ceiling any model can reach.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.taxonomy import REASON_CODES

__all__ = ["reason_hazards", "draw_returns"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reason_hazards(lines: pd.DataFrame, products: pd.DataFrame, customers: pd.DataFrame,
                   start: pd.Timestamp) -> np.ndarray:
    """Hazard of each reason code (columns in :data:`REASON_CODES` order) for every line."""
    p = lines["product_index"].to_numpy()
    c = lines["customer_index"].to_numpy()
    n = len(lines)
    sized = lines["size_system"].to_numpy() != "unsized"
    gap = np.nan_to_num(lines["fit_gap"].to_numpy(), nan=0.0)
    tolerance = np.where(lines["size_system"].to_numpy() == "shoe", 0.62, 0.75)
    propensity = customers["propensity"].to_numpy()[c]
    mood = np.exp(0.35 * propensity)
    month = (start + pd.to_timedelta(lines["seconds"].to_numpy(), unit="s")).month.to_numpy()
    december = month == 12
    price_ratio = products["price"].to_numpy()[p] / products.groupby("category")["price"].transform("median").to_numpy()[p]

    h = np.zeros((n, len(REASON_CODES)))
    col = {code: i for i, code in enumerate(REASON_CODES)}
    h[:, col["too_small"]] = np.where(sized, 0.012 + 1.3 * _sigmoid(8 * (-gap - tolerance)), 0.002) * mood
    h[:, col["too_large"]] = np.where(sized, 0.010 + 1.15 * _sigmoid(8 * (gap - tolerance)), 0.002) * mood
    h[:, col["looks_different"]] = (0.022 + 0.17 * products["misleading_photos"].to_numpy()[p]) * mood
    h[:, col["not_as_described"]] = (0.016 + 0.15 * products["poor_description"].to_numpy()[p]) * mood
    h[:, col["poor_quality"]] = (0.016 + 0.18 * products["quality_issue"].to_numpy()[p]) * mood
    h[:, col["damaged"]] = 0.006 + 0.10 * products["packaging_issue"].to_numpy()[p]
    h[:, col["wrong_item"]] = np.full(n, 0.006)
    h[:, col["late_delivery"]] = np.where(december, 0.025, 0.006)
    discount = lines["discount"].to_numpy()
    h[:, col["changed_mind"]] = (
        0.8 * products["changed_mind_base"].to_numpy()[p]
        * np.exp(propensity)
        * np.where(december, 1.5, 1.0)
        * np.where(discount >= 0.3, 0.7, 1.0)
        * np.clip(price_ratio, 0.5, 2.5) ** 0.3
    )
    h[:, col["other"]] = np.full(n, 0.008)

    # a bracketing customer sends back the worse-fitting of the two sizes
    twin = lines["twin_source"].to_numpy()
    has_twin = twin >= 0
    a = np.flatnonzero(has_twin)
    b = twin[has_twin]
    worse = np.where(np.abs(gap[a]) >= np.abs(gap[b]), a, b)
    bad_gap = gap[worse]
    size_col = np.where(bad_gap < 0, col["too_small"], col["too_large"])
    h[worse, size_col] += 2.2
    return h


def draw_returns(rng: np.random.Generator, hazards: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p_return, returned, reason_index)`` drawn from the hazards."""
    total = hazards.sum(axis=1)
    p_return = 1.0 - np.exp(-total)
    returned = rng.random(total.size) < p_return
    cum = np.cumsum(hazards, axis=1) / total[:, None]
    u = rng.random(total.size)[:, None]
    reason = (u > cum).sum(axis=1)
    return p_return, returned, np.minimum(reason, hazards.shape[1] - 1)


def return_delays(rng: np.random.Generator, n: int, late: np.ndarray) -> np.ndarray:
    """Days from order to return: delivery, then the customer's own delay; within 30 days."""
    days = 2.0 + rng.gamma(2.2, 3.0, n) + np.where(late, 4.0, 0.0)
    return np.clip(days, 1.0, 29.7)


def refund_delays(rng: np.random.Generator, returned_month: np.ndarray) -> np.ndarray:
    """Days from return to refund; slower in the January backlog."""
    n = returned_month.size
    days = 0.5 + rng.gamma(1.7, 1.9, n) * np.where(np.isin(returned_month, (1, 12)), 1.7, 1.0)
    return days
