"""Distribution drift: the training distribution of each feature and of the predictions, and how far
the lines scored since the as-of date have moved from it.

At training time :func:`distribution_of` summarises a column on the reference lines (the most recent
training lines): numeric columns by the edges of their deciles, discrete ones (few values, or
categorical codes) by their values; the share of missing values is a bin of its own. At monitoring
time :func:`shares_in` puts new values in the same bins, and :func:`psi` (population stability
index) and :func:`jensen_shannon` (distance, base 2, between 0 and 1) compare the two histograms.

PSI reading (a common rule of thumb): below 0.1 stable, 0.1–0.25 moderate shift, above 0.25 a
large shift.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distribution_of", "shares_in", "psi", "jensen_shannon", "compare", "EPSILON"]

#: Floor of a bin's share in PSI (an empty bin would make it infinite).
EPSILON = 1e-4
_MAX_DISCRETE = 16


def distribution_of(values: np.ndarray, *, categorical: bool = False, bins: int = 10) -> dict:
    """The reference histogram of ``values`` (JSON-able): its bins and the share in each."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    distinct = np.unique(present)
    if categorical or distinct.size <= _MAX_DISCRETE:
        summary = {"kind": "discrete", "values": [float(v) for v in distinct]}
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
        summary = {"kind": "numeric", "edges": [float(e) for e in edges]}
    summary["shares"] = [float(s) for s in shares_in(summary, values)]
    summary["rows"] = int(values.size)
    return summary


def shares_in(summary: dict, values: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin of ``summary``; the last bin is "missing", the one before
    it (discrete columns) "a value the reference never had"."""
    values = np.asarray(values, dtype=float)
    n = max(values.size, 1)
    missing = np.isnan(values)
    present = values[~missing]
    if summary["kind"] == "numeric":
        edges = np.asarray(summary["edges"], dtype=float)
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
    else:
        known = np.asarray(summary["values"], dtype=float)
        position = np.searchsorted(known, present)
        found = (position < known.size) & (known[np.minimum(position, max(known.size - 1, 0))] == present) \
            if known.size else np.zeros(present.size, bool)
        counts = np.append(np.bincount(position[found], minlength=known.size), (~found).sum())
    return np.append(counts, missing.sum()) / n


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: Σ (current − reference) · ln(current / reference)."""
    ref = np.maximum(np.asarray(reference, float), EPSILON)
    cur = np.maximum(np.asarray(current, float), EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2): 0 identical, 1 disjoint."""
    from scipy.spatial.distance import jensenshannon

    ref, cur = np.asarray(reference, float), np.asarray(current, float)
    if ref.sum() == 0 or cur.sum() == 0:
        return float("nan")
    return float(jensenshannon(ref, cur, base=2))


def compare(summary: dict, values: np.ndarray) -> dict:
    """PSI and Jensen–Shannon distance of ``values`` against a reference ``summary``."""
    reference = np.asarray(summary["shares"], dtype=float)
    current = shares_in(summary, values)
    return {"psi": psi(reference, current), "js": jensen_shannon(reference, current),
            "reference_shares": reference.tolist(), "current_shares": current.tolist()}
