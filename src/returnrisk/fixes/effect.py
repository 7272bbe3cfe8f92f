"""What a fix really changed: difference in differences against comparable products not fixed.

For a fix that went live on day ``t0`` (see ``docs/fixes.md``, "Measured effect"):

* **before** — the product's (or size's) lines ordered in the ``before_days`` before ``t0``;
  **after** — its lines ordered from ``t0`` until ``window_days`` before the as-of date: only
  *matured* lines, whose return window has passed (the maturity of ``features/build.py``), so
  the returns still on their way do not pass for an improvement;
* **comparison** — products of the same category (the whole shop when the category has too
  few) that were not fixed, with a rate of the lever's reasons before ``t0`` similar to the
  fixed product's (shrunk rates within a factor of about two in odds, the nearest
  ``max_controls``); their change over the same two periods is what would have happened anyway;
* **effect** = (after − before of the fixed product) − (after − before of the comparison), for
  the rate of the lever's reasons (returns without any reason shared like those with one) and
  for the return rate; a credible interval from the Jeffreys beta posteriors of the product's
  two rates and the normal approximation of the comparison's change (Monte Carlo, seeded);
* **too early** until at least ``min_sales_after`` matured sales and an *informative* interval:
  half-width ≤ ``informative_share`` × the product's rate before (at least ``informative_floor``)
  — narrow enough to tell a fix that removed most of the excess from one that did nothing.

Vectorised: one as-of counter over the shop's lines, binary searches per fix and candidate.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.features.asof import AsOfCounter
from returnrisk.fixes.counts import default_as_of
from returnrisk.fixes.effect_inputs import EffectInputs, prepare_inputs
from returnrisk.fixes.ids import fix_ids

__all__ = ["EFFECT_STATUSES", "VERDICTS", "EffectParams", "FixEffect", "RateChange", "effects_frame",
           "measure_effects"]

log = logging.getLogger(__name__)

EFFECT_STATUSES: tuple[str, ...] = ("too_early", "measured", "not_measurable")
VERDICTS: tuple[str, ...] = ("reduced", "no_clear_change", "increased")
DAY = 86_400


@dataclass(frozen=True)
class EffectParams:
    """How effects are measured (defaults documented in ``docs/fixes.md``)."""

    level: float = 0.95
    window_days: int = 30
    before_days: int = 182
    min_sales_before: int = 30
    min_sales_after: int = 30
    min_control_sales: int = 10
    informative_share: float = 0.5
    informative_floor: float = 0.01
    max_controls: int = 30
    min_controls: int = 5
    caliper: float = 0.7
    prior_strength: float = 20.0
    draws: int = 4000
    seed: int = 0
    recent_days: int = 90
    return_cost_per_unit: float = 12.0
    margin_loss_rate: float = 0.15

    def __post_init__(self):
        if not 0.5 < self.level < 1:
            raise ValueError(f"level {self.level} must be in (0.5, 1)")
        if min(self.window_days, self.before_days, self.min_controls, self.draws) < 1:
            raise ValueError("window_days, before_days, min_controls and draws must be positive")


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

    def to_dict(self) -> dict[str, float | None]:
        return {k: _f(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class FixEffect:
    """The measured effect of one done fix (``status``: ``too_early``, ``measured``, ``not_measurable``)."""

    fix_id: str
    product_id: str
    size: str | None
    lever: str
    live_at: str
    status: str
    reason: str
    level: float
    sales_before: int = 0
    sales_after: int = 0
    comparison_scope: str | None = None
    comparison_products: tuple[str, ...] = ()
    lever_rate: RateChange | None = None
    return_rate: RateChange | None = None
    verdict: str | None = None
    sales_per_month: float | None = None
    returns_avoided_per_month: tuple[float, float, float] | None = None   # estimate, low, high
    savings_per_month: tuple[float, float, float] | None = None
    expected: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-ready (no NaN)."""
        def triple(t):
            return None if t is None else {"estimate": _f(t[0], 3), "low": _f(t[1], 3), "high": _f(t[2], 3)}
        return {
            "fix_id": self.fix_id, "product_id": self.product_id, "size": self.size, "lever": self.lever,
            "live_at": self.live_at, "status": self.status, "reason": self.reason, "verdict": self.verdict,
            "level": self.level, "sales_before": self.sales_before, "sales_after": self.sales_after,
            "comparison": {"scope": self.comparison_scope, "products": len(self.comparison_products),
                           "product_ids": list(self.comparison_products)},
            "lever_rate": None if self.lever_rate is None else self.lever_rate.to_dict(),
            "return_rate": None if self.return_rate is None else self.return_rate.to_dict(),
            "sales_per_month": _f(self.sales_per_month, 2),
            "returns_avoided_per_month": triple(self.returns_avoided_per_month),
            "savings_per_month": triple(self.savings_per_month),
            "expected": {k: _f(v, 3) for k, v in self.expected.items()},
        }


def _f(value, digits: int = 5):
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


# ---- the comparison -------------------------------------------------------------------------------
def _shrunk_logit(k: np.ndarray, n: np.ndarray, centre: float, strength: float) -> np.ndarray:
    rate = (k + strength * centre) / (n + strength)
    rate = np.clip(rate, 1e-4, 1 - 1e-4)
    return np.log(rate / (1 - rate))


def _select_controls(treated_k: float, treated_n: float, k: np.ndarray, n: np.ndarray, usable: np.ndarray,
                     params: EffectParams) -> np.ndarray:
    """Indexes of the comparison products among candidates: the nearest shrunk rates.

    The fixed product's rate is its rate before; a candidate's is its rate over both periods
    (``k`` and ``n``). Choosing candidates on their rate *before* alone would pick products that
    were high by chance, whose rate then falls back: a spurious improvement of the comparison.
    Given its returns over both periods, how they split between the two does not depend on the
    choice (for a steady rate), so the comparison's change is not biased by it.
    """
    if not usable.any():
        return np.empty(0, dtype=np.int64)
    centre = float(k[usable].sum() / max(n[usable].sum(), 1.0))
    centre = min(max(centre, 1e-3), 1 - 1e-3)
    target = _shrunk_logit(np.array([treated_k]), np.array([treated_n]), centre, params.prior_strength)[0]
    distance = np.abs(_shrunk_logit(k, n, centre, params.prior_strength) - target)
    distance[~usable] = np.inf
    inside = np.flatnonzero(distance <= params.caliper)
    return inside[np.argsort(distance[inside], kind="stable")][: params.max_controls]


def _comparison_rates(k_before: np.ndarray, n_before: np.ndarray, k_after: np.ndarray,
                      n_after: np.ndarray, scale: float) -> tuple[float, float, float, float]:
    """``(rate before, its standard error, rate after, its standard error)`` of the comparison.

    A weighted mean of the comparison products' rates, with the same weights in both periods
    (so a change of mix is not a change of rate): each product weighs ``1 / (1/n_before +
    1/n_after)``, the precision of its change. The variances use Jeffreys-smoothed rates, so a
    product without returns still counts as noise.
    """
    weight = n_before * n_after / (n_before + n_after)
    weight = weight / weight.sum()
    out = []
    for k, n in ((k_before, n_before), (k_after, n_after)):
        smooth = np.minimum((k + 0.5) / (n + 1.0) * scale, 1.0)
        out.append(float((weight * k / n).sum() * scale))
        out.append(float(np.sqrt((weight ** 2 * smooth * (1 - smooth) / n).sum())))
    return out[0], out[1], out[2], out[3]


# ---- measuring ------------------------------------------------------------------------------------
def measure_effects(shop: Shop, fixes: pd.DataFrame, params: EffectParams | None = None, *,
                    as_of: pd.Timestamp | None = None) -> list[FixEffect]:
    """The effect of each done fix in ``fixes`` (one row per fix).

    ``fixes`` columns: ``product_id``, ``size`` (optional; null: the whole product), ``lever``,
    ``live_at`` (date or timestamp; lines ordered from then on saw the fix), and optionally
    ``fix_id``, ``expected_returns_avoided_per_month`` and ``expected_savings_per_month`` (what
    the suggestion estimated, reported next to the measurement). Every product in ``fixes`` is
    left out of the comparisons. ``shop`` should have its reasons filled
    (:func:`returnrisk.fixes.load_fix_shop`).
    """
    params = params or EffectParams()
    as_of = default_as_of(shop) if as_of is None else pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    fixes = _normalise(fixes)
    inputs = prepare_inputs(shop, fixes, as_of, params.window_days)
    results = [_measure_one(inputs, row, params) for row in fixes.itertuples(index=False)]
    log.info("effects: %d fixes, %d measured", len(results), sum(r.status == "measured" for r in results))
    return results


def _normalise(fixes: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("product_id", "lever", "live_at") if c not in fixes.columns]
    if missing:
        raise ValueError(f"fixes need the columns {', '.join(missing)} (columns found: {', '.join(fixes.columns)})")
    out = fixes.copy()
    if "size" not in out.columns:
        out["size"] = None
    out["size"] = out["size"].astype(object).where(out["size"].notna() & (out["size"].astype(str) != ""), None)
    out["product_id"] = out["product_id"].astype(str)
    live = pd.to_datetime(out["live_at"], utc=True, errors="coerce", format="mixed")
    if live.isna().any():
        bad = out.loc[live.isna(), "live_at"].iloc[0]
        raise ValueError(f"live_at {bad!r} is not a date: use YYYY-MM-DD")
    out["live_at"] = live
    if "fix_id" not in out.columns:
        out["fix_id"] = fix_ids(out["product_id"], out["size"], out["lever"])
    for column in ("expected_returns_avoided_per_month", "expected_savings_per_month"):
        if column not in out.columns:
            out[column] = np.nan
    return out.reset_index(drop=True)


def _measure_one(inputs: EffectInputs, fix, params: EffectParams) -> FixEffect:
    t0 = int(fix.live_at.timestamp())
    rng = np.random.default_rng([params.seed, zlib.crc32(str(fix.fix_id).encode())])   # one fix's interval: whatever else is measured
    base = {"fix_id": fix.fix_id, "product_id": fix.product_id, "size": fix.size, "lever": fix.lever,
            "live_at": fix.live_at.strftime("%Y-%m-%d"), "level": params.level,
            "expected": {"returns_avoided_per_month": fix.expected_returns_avoided_per_month,
                         "savings_per_month": fix.expected_savings_per_month}}
    key = inputs.key_of(fix.product_id, fix.size)
    if key < 0:
        return FixEffect(**base, status="not_measurable", reason=f"product {fix.product_id} "
                         + ("" if fix.size is None else f"in size {fix.size} ") + "has no sales in the history")
    if fix.lever not in inputs.lever_column:
        return FixEffect(**base, status="not_measurable", reason=f"unknown lever {fix.lever!r}")
    if inputs.known_share <= 0.05:
        return FixEffect(**base, status="not_measurable", reason="almost no return has a reason: the rate of "
                         "the lever's reasons cannot be measured")
    counter = inputs.size_counter if fix.size is not None else inputs.product_counter
    start, end = t0 - params.before_days * DAY, inputs.mature_end
    if t0 >= end:
        return FixEffect(**base, status="too_early", reason="no sale since the live date has matured yet "
                         f"(a sale matures {params.window_days} days after it)")
    times = np.array([start, t0, end], dtype=np.int64)
    cum = counter.query(np.full(3, key), times)
    before, after = cum[1] - cum[0], cum[2] - cum[1]
    col = inputs.lever_column[fix.lever]
    base.update(sales_before=int(before[0]), sales_after=int(after[0]))
    if before[0] < params.min_sales_before:
        return FixEffect(**base, status="not_measurable", reason=f"only {int(before[0])} sales in the "
                         f"{params.before_days} days before the live date (at least {params.min_sales_before})")
    if after[0] < params.min_sales_after:
        return FixEffect(**base, status="too_early", reason=f"{int(after[0])} matured sales since the live date: "
                         f"waiting for {params.min_sales_after}")

    # comparison: same category first, else the whole shop
    scope, chosen, cand = None, np.empty(0, dtype=np.int64), None
    for scope_name, candidates in (("category", inputs.category_candidates(fix.product_id)),
                                   ("shop", inputs.shop_candidates())):
        if candidates.size < params.min_controls:
            continue
        qk = np.repeat(candidates, 3)
        qt = np.tile(times, candidates.size)
        c = inputs.product_counter.query(qk, qt).reshape(candidates.size, 3, -1)
        cb, ca = c[:, 1] - c[:, 0], c[:, 2] - c[:, 1]
        usable = (cb[:, 0] >= params.min_control_sales) & (ca[:, 0] >= params.min_control_sales)
        picked = _select_controls(before[col], before[0], cb[:, col] + ca[:, col], cb[:, 0] + ca[:, 0], usable,
                                  params)
        if picked.size >= params.min_controls:
            scope, chosen, cand = scope_name, picked, (cb[picked], ca[picked], candidates[picked])
            break
    if scope is None:
        return FixEffect(**base, status="not_measurable", reason=f"fewer than {params.min_controls} comparable "
                         "products not fixed (similar rate before, enough sales)")
    cb, ca, ids = cand
    q = 1.0 / inputs.known_share
    lever_rate = _did(before[col], before[0], after[col], after[0], cb[:, col], cb[:, 0], ca[:, col], ca[:, 0],
                      q, params, rng)
    return_rate = _did(before[1], before[0], after[1], after[0], cb[:, 1], cb[:, 0], ca[:, 1], ca[:, 0],
                       1.0, params, rng)
    half = (lever_rate.high - lever_rate.low) / 2
    needed = max(params.informative_share * lever_rate.before, params.informative_floor)
    base.update(comparison_scope=scope, comparison_products=tuple(inputs.product_ids[ids]),
                lever_rate=lever_rate, return_rate=return_rate)
    money = inputs.money(fix.product_id, fix.size, t0, params)
    per_month, value = money
    avoided = tuple(-x * per_month for x in (lever_rate.effect, lever_rate.high, lever_rate.low))
    base.update(sales_per_month=per_month, returns_avoided_per_month=avoided,
                savings_per_month=tuple(a * value for a in avoided))
    if half > needed:
        return FixEffect(**base, status="too_early", reason=f"the interval (±{half:.3f}) is still wider than half "
                         f"the rate before ({lever_rate.before:.3f}): waiting for more sales")
    verdict = "reduced" if lever_rate.high < 0 else "increased" if lever_rate.low > 0 else "no_clear_change"
    return FixEffect(**base, status="measured", reason="measured", verdict=verdict)


def _did(kb, nb, ka, na, ckb, cnb, cka, cna, scale: float, params: EffectParams,
         rng: np.random.Generator) -> RateChange:
    """Difference in differences of one rate (its returns ``k`` out of ``n`` sales before and
    after, for the product then its comparison products), with its credible interval.

    The product's two rates get Jeffreys posteriors ``Beta(k + 1/2, n - k + 1/2)`` (sound with a
    handful of returns, asymmetric near 0), the comparison's two weighted rates normal ones; the
    interval is the central ``level`` quantiles of ``params.draws`` joint draws.
    """
    cb, cb_se, ca, ca_se = _comparison_rates(ckb, cnb, cka, cna, scale)
    draws = params.draws
    pb = rng.beta(kb + 0.5, nb - kb + 0.5, draws) * scale
    pa = rng.beta(ka + 0.5, na - ka + 0.5, draws) * scale
    comparison = (ca + ca_se * rng.standard_normal(draws)) - (cb + cb_se * rng.standard_normal(draws))
    did = (pa - pb) - comparison
    tail = (1 - params.level) / 2
    low, high = np.quantile(did, [tail, 1 - tail])
    before, after = kb / nb * scale, ka / na * scale
    return RateChange(before, after, cb, ca, (after - before) - (ca - cb), float(low), float(high))


def effects_frame(effects: list[FixEffect]) -> pd.DataFrame:
    """One row per effect, flat (for tables and the benchmark)."""
    rows = []
    for e in effects:
        row = {"fix_id": e.fix_id, "product_id": e.product_id, "size": e.size, "lever": e.lever,
               "live_at": e.live_at, "status": e.status, "verdict": e.verdict, "sales_before": e.sales_before,
               "sales_after": e.sales_after, "comparison_scope": e.comparison_scope,
               "comparison_products": len(e.comparison_products)}
        for name, rate in (("lever", e.lever_rate), ("return", e.return_rate)):
            for part in ("before", "after", "effect", "low", "high"):
                row[f"{name}_{part}"] = getattr(rate, part) if rate is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
