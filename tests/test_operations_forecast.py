"""The returns forecast: delay distribution, the conditional arrival formula, no look-ahead, intervals,
staffing, and a backtest on the demo shop."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import returnrisk.operations.forecast as forecast_module
from returnrisk.data.loader import Shop, load_shop
from returnrisk.operations.backtest import actual_daily_returns, mape, naive_daily_forecast, score_backtest
from returnrisk.operations.delays import DelayDistribution
from returnrisk.operations.forecast import (
    arrival_weekday_factors,
    forecast_returns,
    return_clustering,
    yearly_order_factors,
)
from returnrisk.reasons.fill import default_reason_filler

AS_OF = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday, midnight


def synthetic_shop(open_ages=(5.0,), n_old=400, p_old_return=1.0, extra_lines=None, extra_returns=None) -> Shop:
    """``n_old`` lines ordered 40–200 days before AS_OF, returned after delays spread evenly over 0–10 days,
    plus open lines ordered ``open_ages`` days before AS_OF and not returned."""
    rng = np.random.default_rng(0)
    old_age = np.linspace(40, 200, n_old)
    ordered = list(AS_OF - pd.to_timedelta(old_age, unit="D")) + list(AS_OF - pd.to_timedelta(open_ages, unit="D"))
    n = len(ordered)
    lines = pd.DataFrame({
        "line_id": [f"L{i}" for i in range(n)], "order_id": [f"O{i}" for i in range(n)],
        "customer_id": [f"C{i % 50}" for i in range(n)], "product_id": "P1", "size": "M",
        "quantity": 1, "unit_price": 50.0, "ordered_at": pd.to_datetime(ordered, utc=True)})
    returned = rng.permutation(n_old)[: int(round(p_old_return * n_old))]
    delays = 10.0 * (np.arange(len(returned)) + 0.5) / len(returned)
    returns = pd.DataFrame({
        "line_id": lines["line_id"].to_numpy()[returned],
        "returned_at": lines["ordered_at"].iloc[returned].reset_index(drop=True) + pd.to_timedelta(delays, unit="D"),
        "reason_code": "too_small", "reason_text": None, "refunded_at": pd.NaT, "return_cost": np.nan})
    returns["returned_at"] = pd.to_datetime(returns["returned_at"], utc=True)
    returns["refunded_at"] = pd.to_datetime(returns["refunded_at"], utc=True)
    if extra_lines is not None:
        lines = pd.concat([lines, extra_lines], ignore_index=True)
    if extra_returns is not None:
        returns = pd.concat([returns, extra_returns], ignore_index=True)
    products = pd.DataFrame({"product_id": ["P1"], "category": ["dresses"], "brand": ["Lune"], "price": [50.0]})
    return Shop(products, lines, returns, {})


@pytest.fixture
def constant_model(monkeypatch):
    """A model that gives every line P(return) = 0.5 (the forecast's arithmetic, without LightGBM)."""
    def score(bundle, lines, now=None):
        return pd.DataFrame({"line_id": lines["line_id"].to_numpy(), "p_return": np.full(len(lines), 0.5)})

    monkeypatch.setattr(forecast_module, "score_frame", score)
    return SimpleNamespace(snapshot=SimpleNamespace(window_days=30), meta={"as_of": AS_OF.isoformat()})


def test_delay_distribution_from_delays():
    d = DelayDistribution.from_delays(np.array([1.0, 2.0, 3.0, 4.0]))
    assert d.cdf_at([0.0, 1.0, 2.0, 2.5, 4.0, 10.0]).tolist() == [0.0, 0.25, 0.5, 0.5, 1.0, 1.0]
    assert d.quantile(0.5) == 2.0 and d.quantile(0.9) == 4.0
    assert d.max_days == pytest.approx(97 / 24)
    with pytest.raises(ValueError, match="no return delays"):
        DelayDistribution.from_delays(np.array([]))


def test_delays_are_learnt_from_matured_lines_only():
    """Lines still in their window have only their fast returns in: they must not shorten the delays."""
    recent = pd.DataFrame({"line_id": [f"R{i}" for i in range(300)], "order_id": "O", "customer_id": "C",
                           "product_id": "P1", "size": "M", "quantity": 1, "unit_price": 50.0,
                           "ordered_at": AS_OF - pd.Timedelta(days=3)})
    fast = pd.DataFrame({"line_id": recent["line_id"], "returned_at": AS_OF - pd.Timedelta(days=2),
                         "reason_code": "too_small", "reason_text": None, "refunded_at": pd.NaT,
                         "return_cost": np.nan})
    fast["refunded_at"] = pd.to_datetime(fast["refunded_at"], utc=True)
    shop = synthetic_shop(extra_lines=recent, extra_returns=fast)
    d = DelayDistribution.learn(shop.order_lines, shop.returns, AS_OF, 30)
    assert d.n_returns == 400 and "ordered 30–210 days before 2026-03-02" in d.source
    assert d.quantile(0.5) == pytest.approx(5.0, abs=0.05) and d.cdf_at(1.0) == pytest.approx(0.1, abs=0.01)


def test_open_lines_arrive_with_the_conditional_probability(constant_model):
    """One line ordered 5 days ago, not returned, p = 0.5, delays uniform on 0–10 days:
    P(arrive in day k | not back yet) = 0.5 × 0.1 / (1 − 0.5 × F(5)) = 0.0667 for k = 0..4, then 0."""
    shop = synthetic_shop(open_ages=(5.0,))
    result = forecast_returns(shop, constant_model, as_of=AS_OF, days=7, weekday_arrivals=False)
    from_open = np.array([d.from_open_lines for d in result.days])
    np.testing.assert_allclose(from_open, [0.05 / 0.75] * 5 + [0.0, 0.0], atol=2e-3)
    assert result.details["open_lines"] == 1
    assert result.details["from_open_lines"] == pytest.approx(0.25 / 0.75, abs=3e-3)
    assert [f"{d.date:%Y-%m-%d}" for d in result.days][:2] == ["2026-03-02", "2026-03-03"]
    for day in result.days:
        assert day.expected == pytest.approx(day.from_open_lines + day.from_new_orders)
        assert 0.0 <= day.low <= day.expected <= day.high


def test_new_orders_come_from_the_recent_rate_and_the_mean_probability(constant_model):
    """Two lines a day over the last 28 days: orders keep coming at 2 a day, half come back,
    uniformly within 10 days — so on day 12 (all of its 10-day spread inside the horizon) ≈ 2 × 0.5 = 1."""
    recent_age = np.arange(28) + 0.5
    shop = synthetic_shop(open_ages=tuple(np.repeat(recent_age, 2)))
    result = forecast_returns(shop, constant_model, as_of=AS_OF, days=14, weekday_arrivals=False)
    assert result.details["orders_per_day"] == pytest.approx(2.0)
    assert result.details["mean_p_new_orders"] == pytest.approx(0.5)
    assert result.days[12].from_new_orders == pytest.approx(1.0, abs=0.02)
    assert result.days[0].from_new_orders == pytest.approx(2 * 0.5 * 0.05, abs=0.01)  # half a day's delays


def test_nothing_after_as_of_is_used(constant_model):
    base = forecast_returns(synthetic_shop(open_ages=(5.0, 12.0, 20.0)), constant_model, as_of=AS_OF, days=7)
    future_lines = pd.DataFrame({"line_id": ["F1", "F2"], "order_id": "OF", "customer_id": "C1", "product_id": "P1",
                                 "size": "M", "quantity": 1, "unit_price": 50.0,
                                 "ordered_at": pd.to_datetime(["2026-03-03", "2026-03-05"], utc=True)})
    # the future: new orders, and the return of an open line (L400 ordered 5 days before AS_OF) tomorrow
    future_returns = pd.DataFrame({"line_id": ["F1", "L400"], "returned_at": pd.to_datetime(
        ["2026-03-04", "2026-03-03"], utc=True), "reason_code": "too_small", "reason_text": None,
        "refunded_at": pd.to_datetime([pd.NaT, pd.NaT], utc=True), "return_cost": np.nan})
    later = synthetic_shop(open_ages=(5.0, 12.0, 20.0), extra_lines=future_lines, extra_returns=future_returns)
    assert forecast_returns(later, constant_model, as_of=AS_OF, days=7).to_dict() == base.to_dict()


def test_payload_staffing_and_bad_requests(constant_model):
    shop = synthetic_shop(open_ages=tuple(np.arange(28) + 0.5))
    result = forecast_returns(shop, constant_model, as_of=AS_OF, days=3, handling_minutes_per_return=30)
    payload = result.to_dict()
    assert list(payload) == ["as_of", "days", "total", "staff_hours"]
    assert payload["as_of"] == "2026-03-02T00:00:00Z"
    assert [list(d) for d in payload["days"]] == [["date", "expected", "low", "high"]] * 3
    assert payload["staff_hours"][1] == {"date": "2026-03-03", "hours": round(result.days[1].expected / 2, 2),
                                         "low": round(result.days[1].low / 2, 2),
                                         "high": round(result.days[1].high / 2, 2)}
    assert payload["total"]["expected"] == pytest.approx(sum(d.expected for d in result.days), abs=0.01)
    with pytest.raises(ValueError, match="days 0 is out of range"):
        forecast_returns(shop, constant_model, as_of=AS_OF, days=0)
    with pytest.raises(ValueError, match="no order before 2020-01-01"):
        forecast_returns(shop, constant_model, as_of=pd.Timestamp("2020-01-01", tz="UTC"))
    with pytest.raises(ValueError, match="level 1.5 must be between 0 and 1"):
        forecast_returns(shop, constant_model, as_of=AS_OF, level=1.5)


def test_an_as_of_within_the_day_forecasts_from_the_next_midnight(constant_model):
    shop = synthetic_shop(open_ages=(5.0,))
    result = forecast_returns(shop, constant_model, as_of=AS_OF + pd.Timedelta(hours=15), days=2)
    assert [f"{d.date:%Y-%m-%d}" for d in result.days] == ["2026-03-03", "2026-03-04"]


def test_a_model_trained_after_as_of_is_flagged(constant_model, caplog):
    constant_model.meta["as_of"] = "2026-04-01T00:00:00+00:00"
    result = forecast_returns(synthetic_shop(), constant_model, as_of=AS_OF, days=2)
    assert result.details["model_saw_future"] is True
    assert "it has seen the future" in caplog.text


def test_weekday_arrival_pattern_is_learnt_and_noise_is_shrunk_away():
    days = pd.date_range(AS_OF - pd.Timedelta(days=70), AS_OF - pd.Timedelta(days=1), freq="D")
    closed_sunday = np.repeat(days, np.where(days.dayofweek == 6, 0, 60))
    factors = arrival_weekday_factors(pd.Series(closed_sunday + pd.Timedelta(hours=10)), AS_OF)
    assert factors[6] == pytest.approx(0.0, abs=0.05)
    assert factors[:6] == pytest.approx(np.full(6, 7 / 6), abs=0.05)
    rng = np.random.default_rng(1)
    flat = np.repeat(days, rng.poisson(60, len(days)))
    noise = arrival_weekday_factors(pd.Series(flat + pd.Timedelta(hours=10)), AS_OF)
    assert noise.tolist() == [1.0] * 7


def test_returns_of_one_order_on_the_same_day_widen_the_interval():
    lines = pd.DataFrame({"line_id": ["A1", "A2", "B1"], "order_id": ["A", "A", "B"]})
    returns = pd.DataFrame({"line_id": ["A1", "A2", "B1"], "returned_at": pd.to_datetime(
        ["2026-03-01T10:00Z", "2026-03-01T16:00Z", "2026-03-01T10:00Z"], utc=True)})
    assert return_clustering(returns, lines, AS_OF) == pytest.approx((4 + 1) / 3)  # parcels of 2 and 1


def test_backtest_helpers():
    assert mape(np.array([110.0, 90.0, 5.0]), np.array([100.0, 100.0, 0.0])) == pytest.approx(0.1)
    shop = synthetic_shop()
    actual = actual_daily_returns(shop, pd.Timestamp("2025-09-01", tz="UTC"), 3)
    returned = shop.returns["returned_at"]
    for i in range(3):
        start = pd.Timestamp("2025-09-01", tz="UTC") + pd.Timedelta(days=i)
        assert actual[i] == ((returned >= start) & (returned < start + pd.Timedelta(days=1))).sum()
    naive = naive_daily_forecast(shop, pd.Timestamp("2025-09-01", tz="UTC"), 3)
    since = pd.Timestamp("2025-08-18", tz="UTC")
    assert naive.tolist() == [((returned >= since) & (returned < since + pd.Timedelta(days=14))).sum() / 14] * 3


def test_backtest_on_the_demo_shop(trained):
    """The session model forecasting the last three weeks of demo_train (it was trained on them, so this
    checks the arithmetic end to end, not the honest accuracy: see benchmarks/forecast_backtest.py)."""
    bundle = trained.bundle()
    shop = load_shop(trained.data, quarantine_dir=trained.data / ".q-forecast", reason_filler=default_reason_filler())
    as_of = pd.Timestamp("2026-09-10", tz="UTC")
    result = forecast_returns(shop, bundle, as_of=as_of, days=14)
    score = score_backtest(shop, result)
    assert result.details["model_saw_future"] is True
    assert 300 < score.actual_total < 600
    assert score.total_ape < 0.10
    assert score.daily_mape < 0.30
    assert score.daily_coverage >= 0.7
    assert result.details["from_new_orders"] > 0 and result.details["from_open_lines"] > result.details["from_new_orders"]


def test_last_years_sale_is_expected_again_and_noise_is_not():
    """Two years of 100 orders a day, with a 3-day sale at ×2 last year 10–12 days after the
    matching date: the same days this year get factors ≈ 2, the others exactly 1."""
    days = pd.date_range(AS_OF - pd.Timedelta(days=400), AS_OF - pd.Timedelta(days=1), freq="D")
    sale = (days >= AS_OF - pd.Timedelta(days=364 - 10)) & (days < AS_OF - pd.Timedelta(days=364 - 13))
    rng = np.random.default_rng(3)
    counts = rng.poisson(np.where(sale, 200, 100))
    ordered = pd.Series(np.repeat(days, counts) + pd.Timedelta(hours=12))
    future = AS_OF + pd.to_timedelta(np.arange(16), unit="D")
    factors = yearly_order_factors(ordered, AS_OF, future, np.ones(7))
    assert factors[11] == pytest.approx(2.0, abs=0.15)                       # the middle day of the sale
    assert factors[10] > 1.4 and factors[12] > 1.4                           # its edges, averaged with neighbours
    assert np.abs(factors[[0, 1, 2, 3, 4, 5, 6, 14, 15]] - 1).max() < 0.06   # ordinary days: within noise
    too_short = ordered[ordered >= AS_OF - pd.Timedelta(days=300)]
    assert yearly_order_factors(too_short, AS_OF, future, np.ones(7)).tolist() == [1.0] * 16
