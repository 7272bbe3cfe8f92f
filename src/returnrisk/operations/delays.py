"""How long after the order a return arrives: the shop's empirical delay distribution.

The distribution is learnt from the returns of a *matured cohort* — lines ordered between
``lookback_days`` and ``window_days`` before ``as_of`` — so that every return of these lines
within the window has had time to arrive; learning from recent lines instead would favour
short delays (the slow returns of last week's orders have not arrived yet). The CDF is kept at
hourly resolution and interpolated linearly in between.

Used by the forecast (``P(arrive in day d | not returned by now)``) and by the KPIs
(projected final rate of periods whose window is still open).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.timeutil import days_between, to_utc

__all__ = ["DelayDistribution", "DEFAULT_LOOKBACK_DAYS", "MIN_RETURNS"]

log = logging.getLogger(__name__)

#: Lines ordered at most this many days before ``as_of`` (and matured) teach the delays.
DEFAULT_LOOKBACK_DAYS = 180

#: Fewer returns than this in the matured cohort: widen to all returns known at ``as_of``.
MIN_RETURNS = 200

#: Fewer returns than this in total: there is nothing to learn delays from.
MIN_RETURNS_ABSOLUTE = 20

_STEPS_PER_DAY = 24


@dataclass(frozen=True)
class DelayDistribution:
    """Empirical distribution of the days from order to return.

    ``grid`` holds days at hourly steps from 0 to the longest delay seen; ``cdf[i]`` is the
    share of returns that arrived within ``grid[i]`` days (``cdf[-1] == 1``).
    """

    grid: np.ndarray
    cdf: np.ndarray
    n_returns: int
    source: str

    def cdf_at(self, days) -> np.ndarray:
        """``F(days)``: share of returns arriving within ``days`` of the order (0 below 0, 1 past the end)."""
        return np.interp(np.asarray(days, dtype=float), self.grid, self.cdf, left=0.0, right=1.0)

    def quantile(self, q: float) -> float:
        """Days within which a share ``q`` of returns arrive."""
        position = int(np.searchsorted(self.cdf, q, side="left"))
        return float(self.grid[min(position, len(self.grid) - 1)])

    @property
    def max_days(self) -> float:
        """The longest delay seen: a line older than this will not come back any more."""
        return float(self.grid[-1])

    @classmethod
    def from_delays(cls, delays: np.ndarray, source: str = "given delays") -> "DelayDistribution":
        delays = np.sort(np.clip(np.asarray(delays, dtype=float), 0.0, None))
        delays = delays[np.isfinite(delays)]
        if delays.size == 0:
            raise ValueError("no return delays to learn from")
        steps = int(np.ceil(delays[-1] * _STEPS_PER_DAY)) + 1
        grid = np.arange(steps + 1) / _STEPS_PER_DAY
        cdf = np.searchsorted(delays, grid, side="right") / delays.size
        return cls(grid, cdf, int(delays.size), source)

    @classmethod
    def learn(
        cls,
        order_lines: pd.DataFrame,
        returns: pd.DataFrame,
        as_of: pd.Timestamp,
        window_days: int,
        *,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    ) -> "DelayDistribution":
        """Learn the delays known at ``as_of`` (only orders and returns before it are read)."""
        as_of = to_utc(as_of)
        lines = order_lines.loc[order_lines["ordered_at"] < as_of, ["line_id", "ordered_at"]]
        known = returns.loc[returns["returned_at"] < as_of, ["line_id", "returned_at"]]
        joined = known.merge(lines, on="line_id", how="inner")
        if len(joined) < MIN_RETURNS_ABSOLUTE:
            raise ValueError(
                f"only {len(joined)} returns before {as_of:%Y-%m-%d}: at least {MIN_RETURNS_ABSOLUTE} "
                "are needed to learn how long returns take to arrive")
        delays = days_between(joined["ordered_at"], joined["returned_at"])
        ordered_age = days_between(joined["ordered_at"], as_of)
        matured = ordered_age >= window_days
        cohort = matured & (ordered_age < window_days + lookback_days)
        if cohort.sum() >= MIN_RETURNS:
            chosen = cohort
            source = (f"{int(cohort.sum())} returns of lines ordered {window_days}–"
                      f"{window_days + lookback_days} days before {as_of:%Y-%m-%d}")
        elif matured.sum() >= MIN_RETURNS:
            chosen = matured
            source = f"{int(matured.sum())} returns of lines ordered ≥ {window_days} days before {as_of:%Y-%m-%d}"
        else:
            chosen = np.ones(len(joined), dtype=bool)
            source = f"all {len(joined)} returns before {as_of:%Y-%m-%d} (few matured lines: delays may be short)"
            log.warning("few returns of matured lines before %s: learning delays from all %d returns, "
                        "which favours short delays", as_of.date(), len(joined))
        return cls.from_delays(delays[chosen], source)
