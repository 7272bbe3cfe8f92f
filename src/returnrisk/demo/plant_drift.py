"""An opt-in drift for the demo shop: one product line's return rate changes after a date.

``returnrisk demo-data --plant-drift`` plants it: from :func:`drift_start` (90 days before the end
of the data) the shop's jeans come from a new supplier whose quality is worse — every jeans line
ordered from that day on gets an extra ``poor_quality`` hazard, so the category's return rate
jumps by about 20 points. A model trained ``--as-of`` the drift start has never seen it;
``returnrisk monitor`` on the lines that followed must notice and name it.

The planting changes hazards only and draws no random number: a planted shop has the same
products, customers and order lines as the default shop of the same seed, and outside the drifted
lines the same lines are returned on the same dates (only how their reasons were recorded, their
refund dates and costs are drawn again, as there are more returns to draw for). The default shop
(without ``--plant-drift``) is byte-for-byte what it was. The ground truth goes to
``truth/drift.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import to_utc

__all__ = ["DRIFT_CATEGORY", "DRIFT_DAYS_BEFORE_END", "DRIFT_EXTRA_HAZARD", "drift_start", "plant_drift"]

#: The product line that drifts.
DRIFT_CATEGORY = "jeans"
#: The drift starts this many days before the end of the data (train ``--as-of`` that date).
DRIFT_DAYS_BEFORE_END = 90
#: Extra hazard of a ``poor_quality`` return on every drifted line (≈ +20 points of return rate).
DRIFT_EXTRA_HAZARD = 0.35


def drift_start(start: pd.Timestamp, days: int) -> pd.Timestamp:
    """The first day of the drift: ``DRIFT_DAYS_BEFORE_END`` days before the end of the data."""
    return pd.Timestamp(start) + pd.Timedelta(days=days - DRIFT_DAYS_BEFORE_END)


def plant_drift(hazards: np.ndarray, lines: pd.DataFrame, products: pd.DataFrame,
                start: pd.Timestamp, days: int) -> tuple[np.ndarray, dict]:
    """Hazards with the drift planted, and its ground truth.

    ``lines`` carry ``product_index`` and ``seconds`` (since ``start``), ``products`` a
    ``category`` column; ``start`` is the naive (UTC) start of the shop.
    """
    begins = drift_start(start, days)
    begins_s = int((begins - pd.Timestamp(start)).total_seconds())
    category = products["category"].to_numpy()[lines["product_index"].to_numpy()]
    drifted = (category == DRIFT_CATEGORY) & (lines["seconds"].to_numpy() >= begins_s)
    out = hazards.copy()
    out[drifted, REASON_CODES.index("poor_quality")] += DRIFT_EXTRA_HAZARD
    before = 1.0 - np.exp(-hazards[drifted].sum(axis=1))
    after = 1.0 - np.exp(-out[drifted].sum(axis=1))
    truth = {
        "kind": "return rate of a product line changes",
        "category": DRIFT_CATEGORY,
        "reason": "poor_quality",
        "start": to_utc(begins).isoformat(),
        "extra_hazard": DRIFT_EXTRA_HAZARD,
        "drifted_lines": int(drifted.sum()),
        "true_rate_without_drift": float(before.mean()) if drifted.any() else None,
        "true_rate_with_drift": float(after.mean()) if drifted.any() else None,
        "how_to_see_it": f"returnrisk train --data DIR --as-of {begins:%Y-%m-%d}, then returnrisk monitor --data DIR",
    }
    return out, truth
