"""The statistics of a measured fix effect: comparison products, their rates, the interval.

See :mod:`returnrisk.fixes.effect` for the method as a whole and ``docs/fixes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RateChange", "comparison_rates", "did_interval", "select_controls"]


@dataclass(frozen=True)
class RateChange:
    """One rate before and after, for the fixed product and its comparison, and the effect."""

    before: float
    after: float
    comparison_before: float
    comparison_after: float
    effect: float
    low: float
    high: float

    def to_dict(self, digits: int = 5) -> dict[str, float | None]:
        return {k: (round(float(v), digits) if np.isfinite(v) else None) for k, v in self.__dict__.items()}


def _shrunk_logit(k: np.ndarray, n: np.ndarray, centre: float, strength: float) -> np.ndarray:
    rate = np.clip((k + strength * centre) / (n + strength), 1e-4, 1 - 1e-4)
    return np.log(rate / (1 - rate))


def select_controls(treated_k: float, treated_n: float, k: np.ndarray, n: np.ndarray, usable: np.ndarray, *,
                    caliper: float, max_controls: int, strength: float) -> np.ndarray:
    """Indexes of the comparison products among candidates: the nearest shrunk rates.

    The fixed product's rate is its rate before the fix; a candidate's is its rate over both
    periods (``k`` returns of the lever's reasons out of ``n`` sales). Choosing candidates on
    their rate *before* alone would pick products that were high by chance and whose rate then
    falls back — a spurious improvement of the comparison. Given a steady product's returns over
    both periods, how they split between the two does not depend on the choice, so the
    comparison's change is not biased by it. Rates are shrunk towards the candidates' pooled rate
    (``strength`` sales of prior) and compared on the log-odds scale: at most ``caliper`` apart,
    the ``max_controls`` nearest.
    """
    if not usable.any():
        return np.empty(0, dtype=np.int64)
    centre = float(np.clip(k[usable].sum() / max(n[usable].sum(), 1.0), 1e-3, 1 - 1e-3))
    target = _shrunk_logit(np.array([treated_k]), np.array([treated_n]), centre, strength)[0]
    distance = np.abs(_shrunk_logit(k, n, centre, strength) - target)
    distance[~usable] = np.inf
    inside = np.flatnonzero(distance <= caliper)
    return inside[np.argsort(distance[inside], kind="stable")][:max_controls]


def comparison_rates(k_before: np.ndarray, n_before: np.ndarray, k_after: np.ndarray,
                     n_after: np.ndarray, scale: float) -> tuple[float, float, float, float, float]:
    """``(rate before, its standard error, rate after, its standard error, dispersion)`` of the
    comparison.

    A weighted mean of the comparison products' rates with the same weights in both periods (a
    change of mix is not a change of rate): each product weighs ``1 / (1/n_before + 1/n_after)``,
    the precision of its change. Sampling variances use Jeffreys-smoothed rates, so a product
    without returns still counts as noise.

    ``dispersion`` (≥ 1) is how much more the comparison products' changes vary among themselves
    than sampling alone explains (the mean of ``(change - mean change)² / variance``): rates
    also move with the customers who happen to buy, and with trends that differ a little from
    product to product. It widens the standard errors here and the fixed product's in
    :func:`did_interval`. ``scale`` multiplies the rates (returns without a reason).
    """
    weight = n_before * n_after / (n_before + n_after)
    weight = weight / weight.sum()
    rates, variances = [], []
    for k, n in ((k_before, n_before), (k_after, n_after)):
        smooth = np.minimum((k + 0.5) / (n + 1.0) * scale, 1.0)
        rates.append(k / n * scale)
        variances.append(smooth * (1 - smooth) / n)
    change, variance = rates[1] - rates[0], variances[0] + variances[1]
    dispersion = 1.0
    if change.size > 2:
        centred = change - (weight * change).sum()
        dispersion = float(np.clip((centred ** 2 / variance).sum() / (change.size - 1), 1.0, 25.0))
    return (float((weight * rates[0]).sum()), float(np.sqrt(dispersion * (weight ** 2 * variances[0]).sum())),
            float((weight * rates[1]).sum()), float(np.sqrt(dispersion * (weight ** 2 * variances[1]).sum())),
            dispersion)


def did_interval(treated: tuple[float, float, float, float], comparison: tuple[np.ndarray, ...], scale: float, *,
                 level: float, draws: int, rng: np.random.Generator) -> RateChange:
    """Difference in differences of one rate, with its credible interval.

    ``treated`` is ``(k_before, n_before, k_after, n_after)`` of the fixed product, ``comparison``
    the same four arrays over its comparison products. The product's two rates get Jeffreys
    posteriors ``Beta(k + 1/2, n - k + 1/2)`` (sound with a handful of returns, asymmetric near
    0) plus normal noise for the comparison's extra dispersion, the comparison's two weighted
    rates normal ones (:func:`comparison_rates`); the interval is the central ``level``
    quantiles of ``draws`` joint draws.
    """
    kb, nb, ka, na = treated
    cb, cb_se, ca, ca_se, dispersion = comparison_rates(*comparison, scale)
    pb = rng.beta(kb + 0.5, nb - kb + 0.5, draws) * scale
    pa = rng.beta(ka + 0.5, na - ka + 0.5, draws) * scale
    own = pa - pb
    if dispersion > 1.0:
        own = own + np.sqrt((dispersion - 1.0) * (pa.var() + pb.var())) * rng.standard_normal(draws)
    change = (ca + ca_se * rng.standard_normal(draws)) - (cb + cb_se * rng.standard_normal(draws))
    tail = (1 - level) / 2
    low, high = np.quantile(own - change, [tail, 1 - tail])
    before, after = kb / nb * scale, ka / na * scale
    return RateChange(float(before), float(after), cb, ca, float((after - before) - (ca - cb)), float(low),
                      float(high))
