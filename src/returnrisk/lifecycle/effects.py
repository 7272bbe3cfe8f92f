"""The measured effect of done fixes, as the fix list, the API and the alerts use it.

:func:`measure_done` runs :func:`returnrisk.fixes.effect.measure_effects` on the done fixes of
the trail (their live date, and what their suggestion had estimated); :func:`effect_summary` is
the short form a list shows; :func:`weekly_comparison` the before/after chart's data (the rate
of the lever's reasons by order week, the fixed product against its comparison products).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from returnrisk.config import Economics
from returnrisk.data.loader import Shop
from returnrisk.fixes.effect import EffectParams, FixEffect, measure_effects
from returnrisk.fixes.levers import LEVER_REASONS
from returnrisk.lifecycle.statuses import StoredStatus
from returnrisk.timeutil import default_as_of, to_utc

__all__ = ["WeeklyComparison", "effect_params", "effect_summary", "measure_done", "weekly_comparison"]


def effect_params(economics: Economics) -> EffectParams:
    """The measurement's defaults, priced with the shop's economics (as the suggestions are)."""
    return EffectParams(return_cost_per_unit=float(economics.return_cost_per_return),
                        margin_loss_rate=float(economics.margin_loss_rate))


def _expected(stored: StoredStatus, key: str) -> float:
    value = (stored.suggestion or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else np.nan


def measure_done(shop: Shop, done: list[StoredStatus], params: EffectParams, *,
                 as_of: pd.Timestamp | None = None) -> dict[str, FixEffect]:
    """The effect of each done fix (stored status ``done`` with its live date), by fix id."""
    done = [s for s in done if s.status.status == "done" and s.status.live_at is not None]
    if not done:
        return {}
    frame = pd.DataFrame({
        "fix_id": [s.fix_id for s in done], "product_id": [s.product_id for s in done],
        "size": [s.size for s in done], "lever": [s.lever for s in done],
        "live_at": [pd.Timestamp(s.status.live_at, tz="UTC") for s in done],
        "expected_returns_avoided_per_month": [_expected(s, "expected_returns_avoided_per_month") for s in done],
        "expected_savings_per_month": [_expected(s, "expected_savings_per_month") for s in done],
    })
    effects = measure_effects(shop, frame, params, as_of=as_of)
    return {e.fix_id: e for e in effects}


def effect_summary(effect: FixEffect | None) -> dict[str, Any] | None:
    """What a list shows of an effect: status, verdict, the change of the lever's rate with its
    interval, returns avoided and money saved per month (estimate, low, high)."""
    if effect is None:
        return None
    data = effect.to_dict()
    lever = data["lever_rate"]
    return {"status": effect.status, "verdict": effect.verdict, "reason": effect.reason, "level": effect.level,
            "live_at": effect.live_at, "sales_after": effect.sales_after,
            "effect": None if lever is None else lever["effect"],
            "low": None if lever is None else lever["low"], "high": None if lever is None else lever["high"],
            "rate_before": None if lever is None else lever["before"],
            "rate_after": None if lever is None else lever["after"],
            "comparison_before": None if lever is None else lever["comparison_before"],
            "comparison_after": None if lever is None else lever["comparison_after"],
            "returns_avoided_per_month": data["returns_avoided_per_month"],
            "savings_per_month": data["savings_per_month"], "expected": data["expected"]}


@dataclass(frozen=True)
class WeeklyComparison:
    weeks: list[str]                  # Monday of each order week, ISO date
    product: list[float | None]       # the fixed product's (or size's) rate of the lever's reasons
    comparison: list[float | None]    # its comparison products' pooled rate
    live_index: int                   # index of the week the fix went live in


def weekly_comparison(shop: Shop, effect: FixEffect, *, weeks_before: int = 26, window_days: int = 30,
                      as_of: pd.Timestamp | None = None) -> WeeklyComparison | None:
    """Rate of the lever's reasons by order week, the fixed product vs its comparison products.

    Matured weeks only (lines ordered at least ``window_days`` before the as-of date), from
    ``weeks_before`` weeks before the live date. ``None`` when the effect has no comparison.
    """
    if not effect.comparison_products or effect.lever not in LEVER_REASONS:
        return None
    as_of = default_as_of(shop) if as_of is None else to_utc(as_of)
    live = pd.Timestamp(effect.live_at, tz="UTC")
    start = live - pd.Timedelta(weeks=weeks_before)
    end = as_of - pd.Timedelta(days=window_days)
    lines = shop.order_lines
    ordered = pd.to_datetime(lines["ordered_at"], utc=True)
    pid = lines["product_id"].astype(str)
    comparison = set(effect.comparison_products)
    mine = pid.eq(effect.product_id)
    if effect.size is not None:
        mine &= lines["size"].astype(str).eq(effect.size)
    keep = (ordered >= start) & (ordered < end) & (mine | pid.isin(comparison))
    if not keep.any():
        return None
    chosen = pd.DataFrame({"line_id": lines.loc[keep, "line_id"].astype(str), "ordered_at": ordered[keep],
                           "mine": mine[keep]})
    returns = shop.returns
    lever_returns = returns.loc[returns["reason_code"].isin(LEVER_REASONS[effect.lever]), "line_id"].astype(str)
    chosen["lever"] = chosen["line_id"].isin(set(lever_returns)).astype(float)
    chosen["week"] = chosen["ordered_at"].dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    rates = chosen.groupby(["week", "mine"])["lever"].mean().unstack("mine")
    weeks = pd.date_range(start.tz_localize(None).to_period("W-SUN").start_time,
                          end.tz_localize(None).to_period("W-SUN").start_time, freq="7D")
    rates = rates.reindex(weeks)

    def series(flag: bool) -> list[float | None]:
        if flag not in rates.columns:
            return [None] * len(weeks)
        return [None if pd.isna(v) else round(float(v), 5) for v in rates[flag]]

    live_week = live.tz_localize(None).to_period("W-SUN").start_time
    return WeeklyComparison([w.strftime("%Y-%m-%d") for w in weeks], series(True), series(False),
                            int(np.searchsorted(weeks, live_week)))
