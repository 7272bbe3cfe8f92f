"""Outlier order lines: quantities so far above the shop's usual ones that they would swamp a rate.

One wholesale line of 80,995 units — often cancelled and recorded as a return — weighs more in a
units-weighted return rate than a month of ordinary lines. The rule (the same for ``validate``,
which flags them, and the KPIs, which leave them out of the units- and value-weighted rates
and report them; rates by line keep them):

    a line is an outlier when its quantity is more than ``max(MIN_UNITS, FACTOR × p99)``, p99
    being the 99th percentile of the quantities of the shop's lines.

A retail shop (99th percentile 2–3 units) flags lines of more than 100 units; a shop that sells
wholesale (99th percentile in the thousands) flags only lines far beyond its own wholesale orders.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_UNITS", "FACTOR", "QUANTILE", "outlier_threshold", "outlier_mask"]

#: A line of at most this quantity is never an outlier.
MIN_UNITS = 100
#: How many times the shop's 99th percentile quantity a line must exceed.
FACTOR = 10.0
#: The percentile of the shop's quantities the rule compares with.
QUANTILE = 0.99


def outlier_threshold(quantity) -> float:
    """The quantity above which a line of this shop is an outlier."""
    q = np.asarray(quantity, dtype=float)
    q = q[np.isfinite(q)]
    if q.size == 0:
        return float("inf")
    return float(max(MIN_UNITS, FACTOR * np.quantile(q, QUANTILE)))


def outlier_mask(quantity, threshold: float | None = None) -> np.ndarray:
    """The lines whose quantity is above the shop's outlier threshold."""
    q = np.asarray(quantity, dtype=float)
    limit = outlier_threshold(q) if threshold is None else threshold
    return np.nan_to_num(q) > limit
