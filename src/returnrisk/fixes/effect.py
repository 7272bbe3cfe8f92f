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

Vectorised: one as-of counter over the shop's lines; the windows of every fix and of its
candidate products are binary searches made in batches; only choosing the comparison and the
Monte Carlo interval loop over fixes.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import positions
from returnrisk.config import DEFAULT_ECONOMICS
from returnrisk.data.loader import Shop
from returnrisk.fixes.effect_inputs import EffectInputs, prepare_inputs
from returnrisk.fixes.effect_stats import RateChange, did_interval, select_controls
from returnrisk.fixes.ids import fix_ids
from returnrisk.timeutil import DAY, default_as_of, to_utc

__all__ = ["EFFECT_STATUSES", "VERDICTS", "EffectParams", "FixEffect", "RateChange", "effects_frame",
           "measure_effects"]

log = logging.getLogger(__name__)

EFFECT_STATUSES: tuple[str, ...] = ("too_early", "measured", "not_measurable")
VERDICTS: tuple[str, ...] = ("reduced", "no_clear_change", "increased")


@dataclass(frozen=True)
class EffectParams:
    """How effects are measured (defaults and their reasons in ``docs/fixes.md``)."""

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
    draws: int = 2000
    seed: int = 0
    recent_days: int = 90
    return_cost_per_unit: float = DEFAULT_ECONOMICS.return_cost_per_return   # one return (a parcel), as FixParams
    margin_loss_rate: float = DEFAULT_ECONOMICS.margin_loss_rate

    def __post_init__(self):
        if not 0.5 < self.level < 1:
            raise ValueError(f"level {self.level} must be in (0.5, 1)")
        if min(self.window_days, self.before_days, self.min_controls, self.draws, self.recent_days) < 1:
            raise ValueError("window_days, before_days, min_controls, draws and recent_days must be positive")


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


# ---- measuring ------------------------------------------------------------------------------------
def measure_effects(shop: Shop, fixes: pd.DataFrame, params: EffectParams | None = None, *,
                    as_of: pd.Timestamp | None = None) -> list[FixEffect]:
    """The effect of each done fix in ``fixes`` (one row per fix, results in the same order).

    ``fixes`` columns: ``product_id``, ``size`` (optional; null: the whole product), ``lever``,
    ``live_at`` (date or timestamp; lines ordered from then on saw the fix), and optionally
    ``fix_id``, ``expected_returns_avoided_per_month`` and ``expected_savings_per_month`` (what
    the suggestion estimated, reported next to the measurement). Every product in ``fixes`` is
    left out of the comparisons. ``shop`` should have its reasons filled
    (:func:`returnrisk.fixes.load_fix_shop`).
    """
    params = params or EffectParams()
    as_of = default_as_of(shop) if as_of is None else to_utc(as_of)
    fixes = _normalise(fixes)
    inputs = prepare_inputs(shop, fixes, as_of, params.window_days)
    n = len(fixes)
    keys = inputs.keys_of(fixes["product_id"], fixes["size"])
    codes = positions(fixes["product_id"], inputs.product_ids)
    t0 = (fixes["live_at"].astype("datetime64[s, UTC]").astype("int64")).to_numpy()
    times = np.stack([t0 - params.before_days * DAY, t0, np.full(n, inputs.mature_end)], axis=1)
    width = 2 + len(inputs.lever_column)
    before, after = np.zeros((n, width)), np.zeros((n, width))
    for sized, counter in ((False, inputs.product_counter), (True, inputs.size_counter)):
        rows = np.flatnonzero((fixes["size"].notna().to_numpy() == sized) & (keys >= 0) & (t0 < inputs.mature_end))
        if rows.size and counter is not None:
            before[rows], after[rows] = inputs.windows(counter, keys[rows], times[rows])

    rows = list(fixes.itertuples(index=False))
    bases = [_base(fix, params) for fix in rows]
    results = [_precheck(inputs, fix, keys[i], t0[i], before[i], after[i], params, bases[i])
               for i, fix in enumerate(rows)]
    todo = [i for i in range(n) if results[i] is None]
    controls = _comparisons(inputs, todo, codes, times, before, fixes["lever"].to_numpy(), params)
    for i in todo:
        results[i] = _measured(inputs, rows[i], codes[i], int(t0[i]), before[i], after[i], controls.get(i), params,
                               bases[i])
    log.info("effects: %d fixes, %d measured", n, sum(r.status == "measured" for r in results))
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


def _base(fix, params: EffectParams) -> dict[str, Any]:
    return {"fix_id": str(fix.fix_id), "product_id": fix.product_id, "size": fix.size, "lever": fix.lever,
            "live_at": fix.live_at.strftime("%Y-%m-%d"), "level": params.level,
            "expected": {"returns_avoided_per_month": fix.expected_returns_avoided_per_month,
                         "savings_per_month": fix.expected_savings_per_month}}


def _precheck(inputs: EffectInputs, fix, key: int, t0: int, before: np.ndarray, after: np.ndarray,
              params: EffectParams, base: dict) -> FixEffect | None:
    """The answer for a fix that cannot be measured (yet); ``None`` when it can."""
    if key < 0:
        where = "" if fix.size is None else f"in size {fix.size} "
        return FixEffect(**base, status="not_measurable", reason=f"product {fix.product_id} {where}has no sales "
                         "in the history")
    if fix.lever not in inputs.lever_column:
        return FixEffect(**base, status="not_measurable", reason=f"unknown lever {fix.lever!r}")
    if inputs.known_share <= 0.05:
        return FixEffect(**base, status="not_measurable", reason="almost no return has a reason: the rate of "
                         "the lever's reasons cannot be measured")
    if t0 >= inputs.mature_end:
        return FixEffect(**base, status="too_early", reason="no sale since the live date has matured yet "
                         f"(a sale matures {params.window_days} days after it)")
    counts = {"sales_before": int(before[0]), "sales_after": int(after[0])}
    if before[0] < params.min_sales_before:
        return FixEffect(**base, **counts, status="not_measurable", reason=f"only {int(before[0])} sales in the "
                         f"{params.before_days} days before the live date (at least {params.min_sales_before})")
    if after[0] < params.min_sales_after:
        return FixEffect(**base, **counts, status="too_early", reason=f"{int(after[0])} matured sales since the "
                         f"live date: waiting for {params.min_sales_after}")
    return None


def _comparisons(inputs: EffectInputs, todo: list[int], codes: np.ndarray, times: np.ndarray,
                 before: np.ndarray, levers: np.ndarray, params: EffectParams) -> dict[int, tuple]:
    """Per fix: ``(scope, product codes, their sums before, after)`` of its comparison products.

    The same category first, the whole shop for the fixes whose category has too few; the
    candidates' windows of all fixes are queried in batches.
    """
    found: dict[int, tuple] = {}
    for scope in ("category", "shop"):
        waiting = [i for i in todo if i not in found]
        pools = [inputs.candidates(int(codes[i]), scope) for i in waiting]
        batch: list[tuple[int, np.ndarray]] = []
        size = 0
        for i, pool in zip(waiting + [None], pools + [None]):
            if i is not None and pool.size >= params.min_controls:
                batch.append((i, pool))
                size += pool.size
            if batch and (i is None or size >= 200_000):
                _choose(inputs, batch, times, before, levers, params, scope, found)
                batch, size = [], 0
    return found


def _choose(inputs: EffectInputs, batch: list[tuple[int, np.ndarray]], times: np.ndarray, before: np.ndarray,
            levers: np.ndarray, params: EffectParams, scope: str, found: dict) -> None:
    keys = np.concatenate([pool for _, pool in batch])
    spans = np.concatenate([np.repeat(times[i][None, :], pool.size, axis=0) for i, pool in batch])
    cb, ca = inputs.windows(inputs.product_counter, keys, spans)
    start = 0
    for i, pool in batch:
        part = slice(start, start + pool.size)
        start += pool.size
        col = inputs.lever_column[levers[i]]
        b, a = cb[part], ca[part]
        usable = (b[:, 0] >= params.min_control_sales) & (a[:, 0] >= params.min_control_sales)
        picked = select_controls(before[i, col], before[i, 0], b[:, col] + a[:, col], b[:, 0] + a[:, 0], usable,
                                 caliper=params.caliper, max_controls=params.max_controls,
                                 strength=params.prior_strength)
        if picked.size >= params.min_controls:
            found[i] = (scope, pool[picked], b[picked], a[picked])


def _measured(inputs: EffectInputs, fix, code: int, t0: int, before: np.ndarray, after: np.ndarray,
              control: tuple | None, params: EffectParams, base: dict) -> FixEffect:
    base = dict(base, sales_before=int(before[0]), sales_after=int(after[0]))
    if control is None:
        return FixEffect(**base, status="not_measurable", reason=f"fewer than {params.min_controls} comparable "
                         "products not fixed (similar rate before, enough sales)")
    scope, pool, cb, ca = control
    # each fix has its own draws: its interval does not depend on which other fixes are measured
    rng = np.random.default_rng([params.seed, zlib.crc32(str(fix.fix_id).encode())])
    col = inputs.lever_column[fix.lever]
    rates = []
    for column, scale in ((col, 1.0 / inputs.known_share), (1, 1.0)):
        rates.append(did_interval((before[column], before[0], after[column], after[0]),
                                  (cb[:, column], cb[:, 0], ca[:, column], ca[:, 0]), scale,
                                  level=params.level, draws=params.draws, rng=rng))
    lever_rate, return_rate = rates
    per_month, value = inputs.money(code, fix.size, t0, params.recent_days, params)
    avoided = tuple(-x * per_month for x in (lever_rate.effect, lever_rate.high, lever_rate.low))
    base.update(comparison_scope=scope, comparison_products=tuple(inputs.product_ids[pool]),
                lever_rate=lever_rate, return_rate=return_rate, sales_per_month=per_month,
                returns_avoided_per_month=avoided, savings_per_month=tuple(a * value for a in avoided))
    half = (lever_rate.high - lever_rate.low) / 2
    needed = max(params.informative_share * lever_rate.before, params.informative_floor)
    if half > needed:
        return FixEffect(**base, status="too_early", reason=f"the interval (±{half:.3f}) is still wider than "
                         f"±{needed:.3f} (half the rate before, {lever_rate.before:.3f}): waiting for more sales")
    verdict = "reduced" if lever_rate.high < 0 else "increased" if lever_rate.low > 0 else "no_clear_change"
    return FixEffect(**base, status="measured", reason="measured", verdict=verdict)


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
