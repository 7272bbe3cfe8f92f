"""Backtesting the returns forecast: what actually arrived, the naive baseline, the errors.

``actual_daily_returns(shop, as_of, days)`` counts the returns that arrived in each forecast day
(the same days as :func:`~returnrisk.operations.forecast.forecast_returns`), from the *full*
history; ``naive_daily_forecast`` is the baseline the forecast must beat: the average daily
arrivals of the last 14 days before ``as_of``, repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.operations.forecast import ReturnsForecast
from returnrisk.timeutil import DAY, epoch_seconds, next_midnight, to_utc

__all__ = ["actual_daily_returns", "naive_daily_forecast", "mape", "BacktestScore", "score_backtest"]


def actual_daily_returns(shop: Shop, as_of: pd.Timestamp, days: int) -> np.ndarray:
    """Returns registered in each of the ``days`` UTC days from the first midnight at/after ``as_of``."""
    first = float(epoch_seconds(next_midnight(to_utc(as_of))))
    position = np.floor((epoch_seconds(shop.returns["returned_at"]) - first) / DAY)
    inside = (position >= 0) & (position < days)
    return np.bincount(position[inside].astype(int), minlength=days)[:days].astype(float)


def naive_daily_forecast(shop: Shop, as_of: pd.Timestamp, days: int, *, lookback_days: int = 14) -> np.ndarray:
    """The baseline: mean returns per day over the ``lookback_days`` before ``as_of``, for every day."""
    as_of = to_utc(as_of)
    seen = shop.returns["returned_at"]
    n = int(((seen < as_of) & (seen >= as_of - pd.Timedelta(days=lookback_days))).sum())
    return np.full(days, n / lookback_days)


def mape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error over the days with at least one actual return."""
    forecast, actual = np.asarray(forecast, float), np.asarray(actual, float)
    ok = actual > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(forecast[ok] - actual[ok]) / actual[ok]))


@dataclass(frozen=True)
class BacktestScore:
    as_of: pd.Timestamp
    days: int
    actual_total: float
    forecast_total: float
    naive_total: float
    daily_mape: float
    total_ape: float
    naive_daily_mape: float
    naive_total_ape: float
    daily_coverage: float      # share of days whose actual count is inside [low, high]
    total_covered: bool

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(), "days": self.days, "actual_total": self.actual_total,
            "forecast_total": round(self.forecast_total, 1), "naive_total": round(self.naive_total, 1),
            "daily_mape": round(self.daily_mape, 4), "total_ape": round(self.total_ape, 4),
            "naive_daily_mape": round(self.naive_daily_mape, 4), "naive_total_ape": round(self.naive_total_ape, 4),
            "daily_coverage": round(self.daily_coverage, 3), "total_covered": self.total_covered,
        }


def score_backtest(full_shop: Shop, forecast: ReturnsForecast) -> BacktestScore:
    """Compare a forecast with what the full history says arrived, and with the naive baseline."""
    days = len(forecast.days)
    actual = actual_daily_returns(full_shop, forecast.as_of, days)
    naive = naive_daily_forecast(full_shop, forecast.as_of, days)
    expected = forecast.expected
    low = np.array([d.low for d in forecast.days])
    high = np.array([d.high for d in forecast.days])
    total = actual.sum()
    return BacktestScore(
        forecast.as_of, days, float(total), float(expected.sum()), float(naive.sum()),
        mape(expected, actual), abs(expected.sum() - total) / total if total else float("nan"),
        mape(naive, actual), abs(naive.sum() - total) / total if total else float("nan"),
        float(np.mean((actual >= low) & (actual <= high))),
        bool(forecast.total_low <= total <= forecast.total_high),
    )
