"""Bayesian evidence that an entity's rate really is above its reference (not noise).

A product's rate of some return reason is given a beta prior centred on the reference rate
(its category's) with a strength in line-equivalents; with ``k`` returns out of ``n``
(exposure) the posterior is ``Beta(k + s·r, n - k + s·(1 - r))``. A product with three sales
keeps a wide posterior and is not flagged on noise.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

__all__ = ["posterior", "excess_probability", "credible_interval"]


def posterior(k, n, reference, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of the beta posterior of a rate (arrays broadcast)."""
    k = np.asarray(k, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), k)
    r = np.clip(np.asarray(reference, dtype=float), 1e-4, 1 - 1e-4)
    return k + strength * r, n - k + strength * (1 - r)


def excess_probability(k, n, reference, strength: float = 20.0) -> np.ndarray:
    """P(true rate > reference | k events out of n), under the posterior above."""
    a, b = posterior(k, n, reference, strength)
    return beta.sf(np.clip(np.asarray(reference, dtype=float), 1e-4, 1 - 1e-4), a, b)


def credible_interval(k, n, reference, strength: float = 20.0, level: float = 0.9):
    """Central credible interval ``(low, high)`` of the rate."""
    a, b = posterior(k, n, reference, strength)
    tail = (1 - level) / 2
    return beta.ppf(tail, a, b), beta.ppf(1 - tail, a, b)
