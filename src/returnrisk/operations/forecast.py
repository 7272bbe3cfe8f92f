"""Forecast of the returns arriving in the next days, with an interval and the staffing it implies.

Everything is computed as of a time ``as_of``: the shop is truncated there (orders, returns and
refunds after it are ignored), so a backtest is the same call with an earlier ``as_of`` — and a
model trained with the same ``as_of``.

The forecast covers the ``days`` whole UTC days starting at the first midnight at or after
``as_of``. Expected returns arriving on day ``d`` come from two sources:

Lines already ordered
    Every line ordered before ``as_of``, not returned yet and younger than the longest delay
    seen, with the model's ``p`` = P(return) (:func:`~returnrisk.scoring.batch.score_frame`)
    and the delay CDF ``F`` learnt from history before ``as_of``
    (:class:`~returnrisk.operations.delays.DelayDistribution`). A line ordered ``e`` days ago
    that has not come back arrives in ``[t0, t1)`` days after its order with probability
    ``p·(F(t1) − F(t0)) / (1 − p·F(e))`` — the model's probability conditioned on the days
    already elapsed without a return.
Orders not placed yet
    From ``as_of`` to the end of the horizon, orders arrive at the recent rate (lines per day
    over the last ``order_lookback_days``) times the day-of-week pattern of the last weeks —
    and, with a year of history, times last year's departure from its own recent rate on the
    same days (:func:`yearly_order_factors`: a sale or Black Friday that happened then) — at the
    usual hours of the day; each comes back with the mean P(return) of the recent lines, spread
    over the same delay distribution.

A weekday pattern of *arrivals* (e.g. a warehouse that registers no returns on Sundays) is
learnt from the last weeks' arrivals relative to their centred 7-day average and applied to
the days, if it is significant (a shop without such a pattern — like the demo — gets factors of
1) and shrunk towards "no pattern" as far as it could be noise.

Interval
--------
The count of day ``d`` is treated as normal with variance

* ``φ · Σ q_i(1 − q_i)`` for the lines already ordered (Poisson-binomial; ``φ`` ≥ 1 is the
  measured clustering of returns — lines of one order sent back together on the same day),
* ``φ · λ_d + (cv · λ_d)²`` for the orders not placed yet (Poisson count plus the uncertainty
  of the order volume, ``cv`` measured on the last weeks' volumes against the rate the
  forecast would have used),
* ``(model_rel_sd · expected_d)²`` for the model's systematic error (the mean of P(return) over
  a period is off by a few percent even when calibrated).

The 14-day total uses the variance of the sum: a line arrives at most once (``Q_i(1 − Q_i)``
with ``Q_i`` its probability to arrive within the horizon), and the volume and model errors
are shared by all days. Bounds are ``expected ± z·sd`` (``z`` for ``level``, 90 % by default),
at least 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd
from dateutil.easter import easter

from returnrisk.config import DEFAULT_ECONOMICS
from returnrisk.data.loader import Shop
from returnrisk.data.parsing import TIMESTAMP_MIN
from returnrisk.model.bundle import ServingBundle
from returnrisk.operations.delays import DelayDistribution
from returnrisk.scoring.batch import score_frame
from returnrisk.timeutil import DAY, data_end, default_as_of, epoch_seconds, iso, next_midnight, to_utc

__all__ = [
    "ForecastDay",
    "ReturnsForecast",
    "OrderRate",
    "forecast_returns",
    "arrival_weekday_factors",
    "closures_seen",
    "holiday_closures",
    "yearly_order_factors",
    "return_clustering",
    "DEFAULT_MODEL_REL_SD",
    "MAX_FORECAST_DAYS",
]

log = logging.getLogger(__name__)

#: Relative standard deviation of the model's systematic error on a period's expected returns.
DEFAULT_MODEL_REL_SD = 0.03

#: 99th percentile of the chi-square distribution with 6 degrees of freedom (weekday pattern test).
_CHI2_6_99 = 16.81

#: Arrivals expected on a day (or a weekday over the window) for "none arrived" to mean "closed".
MIN_EXPECTED_CLOSED = 5.0

#: Days after Easter Sunday of the movable public holidays a closure may recur on (Maundy
#: Thursday, Good Friday, Easter Monday, Ascension, Whit Monday, Corpus Christi).
EASTER_OFFSETS = (-3, -2, 1, 39, 50, 60)

#: The longest forecast accepted (beyond, the orders not placed yet dominate and the model adds little).
MAX_FORECAST_DAYS = 90


@dataclass(frozen=True)
class ForecastDay:
    date: pd.Timestamp
    expected: float
    low: float
    high: float
    from_open_lines: float
    from_new_orders: float


@dataclass
class ReturnsForecast:
    """The forecast; :meth:`to_dict` is the payload of ``--json`` and ``GET /v1/forecast``."""

    as_of: pd.Timestamp
    level: float
    days: list[ForecastDay]
    total_expected: float
    total_low: float
    total_high: float
    handling_minutes_per_return: float
    details: dict = field(default_factory=dict)

    def staff_hours(self) -> list[dict]:
        rate = self.handling_minutes_per_return / 60.0
        return [{"date": f"{d.date:%Y-%m-%d}", "hours": round(d.expected * rate, 2),
                 "low": round(d.low * rate, 2), "high": round(d.high * rate, 2)} for d in self.days]

    def to_dict(self) -> dict:
        return {
            "as_of": iso(self.as_of),
            "days": [{"date": f"{d.date:%Y-%m-%d}", "expected": round(d.expected, 2), "low": round(d.low, 2),
                      "high": round(d.high, 2)} for d in self.days],
            "total": {"expected": round(self.total_expected, 2), "low": round(self.total_low, 2),
                      "high": round(self.total_high, 2)},
            "staff_hours": self.staff_hours(),
        }

    @property
    def expected(self) -> np.ndarray:
        return np.array([d.expected for d in self.days])


@dataclass(frozen=True)
class OrderRate:
    """Recent order volume: lines per day, weekday factors, hour-of-day shares, volume uncertainty."""

    per_day: float
    weekday: np.ndarray   # 7 factors (Monday first), mean 1
    hours: np.ndarray     # 24 shares, sum 1
    cv: float             # relative error of the per-day rate as a one-week-ahead prediction

    @classmethod
    def learn(cls, ordered_at: pd.Series, as_of: pd.Timestamp, *, lookback_days: int = 28,
              weekday_weeks: int = 8, cv_weeks: int = 26) -> "OrderRate":
        as_of = to_utc(as_of)
        t = epoch_seconds(ordered_at)
        a = float(epoch_seconds(as_of))
        age = (a - t) / DAY
        recent = (age > 0) & (age <= lookback_days)
        per_day = float(recent.sum()) / lookback_days
        # whole days before as_of, most recent last
        horizon = max(weekday_weeks * 7, cv_weeks * 7)
        day_index = np.floor(age[(age > 0) & (age <= horizon)]).astype(int)  # 0 = the last 24 h
        counts = np.bincount(day_index, minlength=horizon)[:horizon][::-1].astype(float)
        day_starts = as_of - pd.to_timedelta(np.arange(horizon, 0, -1), unit="D")
        weekdays = day_starts.dayofweek.to_numpy()
        last = counts[-weekday_weeks * 7:]
        by_day = np.bincount(weekdays[-weekday_weeks * 7:], weights=last, minlength=7)
        weekday = by_day / by_day.mean() if by_day.sum() > 0 else np.ones(7)
        hour_of_day = pd.Series(ordered_at[recent]).dt.hour.to_numpy() if recent.any() else np.array([], int)
        hours = np.bincount(hour_of_day, minlength=24).astype(float)
        hours = (hours + 0.5) / (hours + 0.5).sum()
        weeks = counts.reshape(-1, 7).sum(axis=1)
        ratios = []
        for i in range(4, len(weeks)):
            base = weeks[i - 4:i].mean()
            if base > 0 and weeks[i] > 0:
                ratios.append(np.log(weeks[i] / base))
        cv = float(np.std(ratios)) if len(ratios) >= 6 else 0.15
        return cls(per_day, weekday, hours, max(cv, 0.02))


def yearly_order_factors(ordered_at: pd.Series, as_of: pd.Timestamp, day_starts: pd.DatetimeIndex,
                         weekday: np.ndarray, *, lookback_days: int = 28, min_per_day: float = 20.0) -> np.ndarray:
    """Last year's order volume on the same days, relative to its level at the same point of the year.

    For a future day ``D``, last year's day is ``D − 364`` (the same weekday). Its orders (with its
    two neighbours, to average out noise, and divided by their weekday factors) over the mean
    daily orders of the ``lookback_days`` before ``as_of − 364`` give the factor by which day
    ``D`` departs from the recent rate: a sale or Black Friday that happened last year at this
    time. Each factor is shrunk towards 1 by its Poisson noise (a departure within the noise is
    dropped). All 1 without a year of history or with fewer than ``min_per_day`` orders a day.
    """
    as_of = to_utc(as_of)
    ones = np.ones(len(day_starts))
    if len(ordered_at) == 0 or ordered_at.min() > as_of - pd.Timedelta(days=364 + lookback_days):
        return ones
    year = 364 * DAY
    t = np.sort(epoch_seconds(ordered_at))
    a = float(epoch_seconds(as_of))
    base = (np.searchsorted(t, a - year) - np.searchsorted(t, a - year - lookback_days * DAY)) / lookback_days
    if base < min_per_day:
        return ones
    starts = epoch_seconds(pd.Series(day_starts)) - year
    counts = np.searchsorted(t, starts + 2 * DAY) - np.searchsorted(t, starts - DAY)
    days = day_starts.dayofweek.to_numpy()
    weights = weekday[(days - 1) % 7] + weekday[days] + weekday[(days + 1) % 7]
    raw = counts / (base * weights)
    noise = 1.0 / np.maximum(counts, 1.0)                    # relative variance of a Poisson count
    gap = (raw - 1.0) ** 2
    keep = np.where(gap > 0, np.clip(1.0 - noise / np.where(gap > 0, gap, 1.0), 0.0, 1.0), 0.0)
    return 1.0 + keep * (raw - 1.0)


def _daily_counts(returned_at: pd.Series, as_of: pd.Timestamp, span: int) -> np.ndarray:
    """Arrivals in each of the ``span`` whole days before ``as_of``, oldest first."""
    a = float(epoch_seconds(as_of))
    age = (a - epoch_seconds(returned_at)) / DAY
    day_index = np.floor(age[(age > 0) & (age <= span)]).astype(int)
    return np.bincount(day_index, minlength=span)[:span][::-1].astype(float)


def arrival_weekday_factors(returned_at: pd.Series, as_of: pd.Timestamp, *, weeks: int = 8) -> np.ndarray:
    """Weekday factors of return *arrivals* (Monday first, mean 1), shrunk towards 1 by their noise.

    Each day's arrivals are divided by the centred 7-day mean around it (which removes trends and
    volume swings); the mean ratio per weekday is the raw factor. Its Poisson noise is estimated
    from the counts: unless the factors spread more than noise would make them at the 1 % level
    (chi-square test, 6 degrees of freedom) there is no pattern and all factors are 1; otherwise
    they are pulled towards 1 by the share of their spread that noise explains.

    A weekday on which nothing arrived in the whole window although at least
    :data:`MIN_EXPECTED_CLOSED` arrivals were to be expected on it is **closed**: its factor is
    exactly 0 (a return desk that never registers returns on Saturdays gets none forecast there)
    and the open weekdays share its volume.
    """
    as_of = to_utc(as_of)
    span = weeks * 7 + 6
    counts = _daily_counts(returned_at, as_of, span)
    if counts.sum() < 10 * 7:
        return np.ones(7)
    day_starts = as_of - pd.to_timedelta(np.arange(span, 0, -1), unit="D")
    all_weekdays = day_starts.dayofweek.to_numpy()
    per_weekday = np.bincount(all_weekdays, weights=counts, minlength=7)
    n_days = np.bincount(all_weekdays, minlength=7)
    closed = (per_weekday == 0) & (counts.mean() * n_days >= MIN_EXPECTED_CLOSED)
    centred = np.convolve(counts, np.ones(7) / 7, mode="valid")   # mean of days i-3..i+3
    inner = counts[3:-3]
    ok = centred > 0
    ratio = np.where(ok, inner / np.where(ok, centred, 1), np.nan)
    weekday = all_weekdays[3:-3]
    raw = np.array([np.nanmean(ratio[weekday == w]) if np.any(weekday == w) else 1.0 for w in range(7)])
    raw = np.where(np.isfinite(raw), raw, 1.0)
    raw = raw / raw.mean()
    n_per = np.array([max(np.sum(weekday == w), 1) for w in range(7)])
    noise = float(np.mean(1.0 / max(float(centred[ok].mean()), 1e-9) / n_per))  # variance of one raw factor
    spread = float(np.sum((raw - 1.0) ** 2))
    if spread / noise < _CHI2_6_99 and not closed.any():  # no weekday pattern beyond what noise makes
        return np.ones(7)
    weight = max(0.0, 1.0 - 6.0 * noise / spread) if spread > 0 else 0.0
    factors = 1.0 + weight * (raw - 1.0)
    if closed.any():
        factors[closed] = 0.0
        factors = factors * 7.0 / factors.sum()
    return factors


def closures_seen(returned_at: pd.Series, as_of: pd.Timestamp, weekday: np.ndarray, *,
                  history_days: int = 800) -> list[pd.Timestamp]:
    """Days before ``as_of`` on which the return desk was closed although it is open on that weekday.

    A day with no arrival is a closure when its expected arrivals — the mean of the open days of the
    two weeks around it, scaled by the weekday factors — are at least :data:`MIN_EXPECTED_CLOSED`
    (a quiet day of a small shop is not a holiday).
    """
    as_of = to_utc(as_of)
    counts = _daily_counts(returned_at, as_of, history_days)
    day_starts = as_of.floor("D") - pd.to_timedelta(np.arange(history_days, 0, -1), unit="D")
    if as_of != as_of.floor("D"):
        day_starts = day_starts + pd.Timedelta(days=1)
    first_seen = np.flatnonzero(counts > 0)
    if first_seen.size == 0:
        return []
    f = weekday[day_starts.dayofweek.to_numpy()]
    open_day = f > 0
    level = np.where(open_day, counts / np.where(open_day, f, 1.0), 0.0)
    kernel = np.ones(15)
    kernel[7] = 0.0  # the day itself is left out
    total = np.convolve(level, kernel, mode="same")
    n_open = np.convolve(open_day.astype(float), kernel, mode="same")
    expected = np.where(n_open > 0, total / np.maximum(n_open, 1.0), 0.0) * f
    closed = open_day & (counts == 0) & (expected >= MIN_EXPECTED_CLOSED) & (np.arange(history_days) > first_seen[0])
    return list(day_starts[closed])


def holiday_closures(seen: list[pd.Timestamp], days: pd.DatetimeIndex) -> np.ndarray:
    """Which of ``days`` the desk will be closed on, from the closures ``seen`` in the history.

    A closure recurs on the same calendar date (1 January, 14 July, 25 December…) or, for the
    movable feasts, at the same distance from Easter Sunday (:data:`EASTER_OFFSETS`: Good Friday,
    Easter Monday, Ascension, Whit Monday…): a closure at such a distance is taken for the movable
    feast unless the same date was closed in another year too.
    """
    if not seen or len(days) == 0:
        return np.zeros(len(days), dtype=bool)
    years_closed: dict[tuple[int, int], set[int]] = {}
    for d in seen:
        years_closed.setdefault((d.month, d.day), set()).add(d.year)
    fixed, offsets = set(), set()
    for d in seen:
        k = (d.normalize().tz_localize(None) - pd.Timestamp(easter(d.year))).days
        if k in EASTER_OFFSETS and len(years_closed[(d.month, d.day)]) == 1:
            offsets.add(k)   # a movable feast (closed once on this date): it moves with Easter
        else:
            fixed.add((d.month, d.day))
    out = np.zeros(len(days), dtype=bool)
    for i, day in enumerate(days):
        if (day.month, day.day) in fixed:
            out[i] = True
        elif offsets and (day.normalize().tz_localize(None) - pd.Timestamp(easter(day.year))).days in offsets:
            out[i] = True
    return out


#: How far after the end of the data a forecast may start.
MAX_DAYS_AFTER_DATA = 366


def _as_of_within_reach(shop: Shop, as_of) -> pd.Timestamp:
    """``as_of`` in UTC, or a plain :class:`ValueError` when it is too far after the data (e.g. 9999-01-01)."""
    as_of = to_utc(as_of)
    end = data_end(shop)
    if not (TIMESTAMP_MIN < as_of < end + pd.Timedelta(days=MAX_DAYS_AFTER_DATA)):
        raise ValueError(f"as-of {as_of.date().isoformat()} is {'too far after' if as_of > end else 'long before'} the "
                         f"data (orders and returns up to {end:%Y-%m-%d}): forecast from a time between the first "
                         f"order and {MAX_DAYS_AFTER_DATA} days after the end of the data")
    return as_of


def _move_to_next_open(values: np.ndarray, closed: np.ndarray, open_weekday: np.ndarray) -> np.ndarray:
    """Move the values of closed days to the next open day (beyond the horizon: they leave it)."""
    out = values.astype(float).copy()
    for i in np.flatnonzero(closed):
        amount, out[i] = out[i], 0.0
        later = np.flatnonzero(open_weekday[i + 1:] & ~closed[i + 1:])
        if later.size:
            out[i + 1 + later[0]] += amount
    return out


def return_clustering(returns: pd.DataFrame, order_lines: pd.DataFrame, as_of: pd.Timestamp,
                      *, days: int = 90) -> float:
    """``φ = E[K²] / E[K]`` for K the returns of one order arriving the same day (1 = independent)."""
    as_of = to_utc(as_of)
    recent = returns[(returns["returned_at"] < as_of)
                     & (returns["returned_at"] >= as_of - pd.Timedelta(days=days))]
    if recent.empty:
        return 1.0
    orders = recent[["line_id", "returned_at"]].merge(order_lines[["line_id", "order_id"]], on="line_id")
    if orders.empty:
        return 1.0
    k = orders.groupby([orders["order_id"].astype(str), orders["returned_at"].dt.floor("D")]).size().to_numpy()
    return float(max(1.0, (k.astype(float) ** 2).mean() / k.mean()))


def _arrivals(delays: DelayDistribution, ordered_s: np.ndarray, edges_s: np.ndarray) -> np.ndarray:
    """``F(edge_{k+1} − t) − F(edge_k − t)`` for every order time ``t`` (rows) and day ``k`` (columns)."""
    cdf = delays.cdf_at((edges_s[None, :] - ordered_s[:, None]) / DAY)
    return np.diff(cdf, axis=1)


def forecast_returns(
    shop: Shop,
    bundle: ServingBundle,
    *,
    as_of: pd.Timestamp | None = None,
    days: int = 14,
    level: float = 0.9,
    handling_minutes_per_return: float = DEFAULT_ECONOMICS.handling_minutes_per_return,
    order_lookback_days: int = 28,
    model_rel_sd: float = DEFAULT_MODEL_REL_SD,
    weekday_arrivals: bool = True,
    seasonal: bool = True,
) -> ReturnsForecast:
    """Expected returns arriving per day for ``days`` days after ``as_of`` (see the module docstring).

    ``as_of`` defaults to :func:`~returnrisk.timeutil.default_as_of` (the data's now); everything
    after it is ignored. Raises
    :class:`ValueError` with a readable message for impossible requests (no history before
    ``as_of``, ``days`` out of range, too few returns to learn the delays).
    """
    if not 1 <= int(days) <= MAX_FORECAST_DAYS:
        raise ValueError(f"days {days} is out of range: forecast between 1 and {MAX_FORECAST_DAYS} days")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level {level} must be between 0 and 1, e.g. 0.9 for a 90 % interval")
    days = int(days)
    as_of = default_as_of(shop) if as_of is None else _as_of_within_reach(shop, as_of)
    known = shop.truncated(as_of)
    lines = known.order_lines.reset_index(drop=True)
    if lines.empty:
        first = shop.order_lines["ordered_at"].min()
        raise ValueError(f"no order before {as_of:%Y-%m-%d %H:%M} (the first order is {first:%Y-%m-%d}): "
                         "choose a later as-of")
    window = int(bundle.snapshot.window_days)
    delays = DelayDistribution.learn(lines, known.returns, as_of, window)

    a = float(epoch_seconds(as_of))
    first = next_midnight(as_of)
    edges = float(epoch_seconds(first)) + DAY * np.arange(days + 1)
    ordered_s = epoch_seconds(lines["ordered_at"])
    age = (a - ordered_s) / DAY
    scored_mask = age <= max(delays.max_days, order_lookback_days)
    scored_lines = lines[scored_mask].reset_index(drop=True)
    p_all = np.zeros(len(lines))
    if len(scored_lines):
        p_all[scored_mask] = score_frame(bundle, scored_lines)["p_return"].to_numpy(dtype=float)
    returned = lines["line_id"].isin(known.returns["line_id"]).to_numpy()

    # ---- lines already ordered --------------------------------------------------------------
    is_open = scored_mask & ~returned & (age < delays.max_days)
    p = p_all[is_open]
    elapsed = delays.cdf_at(age[is_open])
    denominator = np.clip(1.0 - p * elapsed, 1e-9, None)
    q = p[:, None] * _arrivals(delays, ordered_s[is_open], edges) / denominator[:, None]
    open_expected = q.sum(axis=0)
    open_var = (q * (1.0 - q)).sum(axis=0)
    Q = q.sum(axis=1)
    open_var_total = float((Q * (1.0 - Q)).sum())

    # ---- orders not placed yet ----------------------------------------------------------------
    rate = OrderRate.learn(lines["ordered_at"], as_of, lookback_days=order_lookback_days)
    recent = scored_mask & (age <= order_lookback_days)
    p_new = float(p_all[recent].mean()) if recent.any() else float(p_all[scored_mask].mean() if scored_mask.any()
                                                                    else 0.0)
    start_day = as_of.floor("D")
    n_order_days = int((first - start_day) / pd.Timedelta(days=1)) + days
    slot_days = start_day + pd.to_timedelta(np.repeat(np.arange(n_order_days), 24), unit="D")
    slot_s = epoch_seconds(pd.Series(slot_days)) + (np.tile(np.arange(24), n_order_days) + 0.5) * 3600.0
    order_days = start_day + pd.to_timedelta(np.arange(n_order_days), unit="D")
    yearly = (yearly_order_factors(lines["ordered_at"], as_of, order_days, rate.weekday,
                                   lookback_days=order_lookback_days) if seasonal else np.ones(n_order_days))
    slot_lines = (rate.per_day * rate.weekday[slot_days.dayofweek.to_numpy()] * np.repeat(yearly, 24)
                  * np.tile(rate.hours, n_order_days))
    slot_lines = np.where(slot_s >= a, slot_lines, 0.0)
    new_expected = p_new * (slot_lines[:, None] * _arrivals(delays, slot_s, edges)).sum(axis=0)

    # ---- weekday pattern of arrivals, clustering, interval --------------------------------------
    day_dates = first + pd.to_timedelta(np.arange(days), unit="D")
    factors = arrival_weekday_factors(known.returns["returned_at"], as_of) if weekday_arrivals else np.ones(7)
    f = factors[day_dates.dayofweek.to_numpy()]
    open_var = open_var * f ** 2
    open_expected, new_expected = open_expected * f, new_expected * f
    seen = closures_seen(known.returns["returned_at"], as_of, factors) if weekday_arrivals else []
    closed = holiday_closures(seen, day_dates)
    if closed.any():  # what would arrive on a holiday is registered on the next open day
        open_day = f > 0
        open_expected = _move_to_next_open(open_expected, closed, open_day)
        new_expected = _move_to_next_open(new_expected, closed, open_day)
        open_var = _move_to_next_open(open_var, closed, open_day)
    expected = open_expected + new_expected
    phi = return_clustering(known.returns, lines, as_of)
    var = (phi * open_var + phi * new_expected + (rate.cv * new_expected) ** 2
           + (model_rel_sd * expected) ** 2)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    sd = np.sqrt(var)
    total = float(expected.sum())
    total_var = (phi * open_var_total + phi * float(new_expected.sum()) + (rate.cv * float(new_expected.sum())) ** 2
                 + (model_rel_sd * total) ** 2)
    total_sd = float(np.sqrt(total_var))

    out_days = [
        ForecastDay(d, float(e), float(max(0.0, e - z * s)), float(e + z * s), float(o), float(n))
        for d, e, s, o, n in zip(day_dates, expected, sd, open_expected, new_expected)
    ]
    details = {
        "window_days": window,
        "open_lines": int(is_open.sum()),
        "mean_p_open": float(p.mean()) if p.size else None,
        "orders_per_day": rate.per_day,
        "order_weekday_factors": [round(float(x), 3) for x in rate.weekday],
        "order_volume_cv": rate.cv,
        "yearly_order_factors": [round(float(x), 3) for x in yearly],
        "mean_p_new_orders": p_new,
        "arrival_weekday_factors": [round(float(x), 3) for x in factors],
        "closed_weekdays": [int(w) for w in np.flatnonzero(factors == 0)],
        "closures_seen": len(seen),
        "holiday_closures": [f"{d:%Y-%m-%d}" for d in day_dates[closed]],
        "clustering": phi,
        "delay_median_days": delays.quantile(0.5),
        "delay_p90_days": delays.quantile(0.9),
        "delay_source": delays.source,
        "model_as_of": bundle.meta.get("as_of"),
        "from_open_lines": float(open_expected.sum()),
        "from_new_orders": float(new_expected.sum()),
    }
    model_as_of = bundle.meta.get("as_of")
    if model_as_of and to_utc(model_as_of) > as_of + pd.Timedelta(seconds=1):
        log.warning("the model was trained on data up to %s, after as-of %s: it has seen the future; for a "
                    "backtest, train with --as-of %s", model_as_of, iso(as_of), iso(as_of))
        details["model_saw_future"] = True
    log.info("forecast as of %s: %.0f returns expected in %d days (%.0f from %d open lines, %.0f from new orders)",
             iso(as_of), total, days, details["from_open_lines"], details["open_lines"], details["from_new_orders"])
    return ReturnsForecast(as_of, level, out_days, total, max(0.0, total - z * total_sd), total + z * total_sd,
                           handling_minutes_per_return, details)
