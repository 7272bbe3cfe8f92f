"""Calibration of the return booster: the calibration slice's season must not leak into later weeks."""

from __future__ import annotations

import numpy as np
import pytest

from returnrisk.model.estimator import ModelParams, ReturnRiskModel, level_preserving_intercept


def _season_data(n: int, shift: float, rng: np.random.Generator):
    """Two informative features; the log-odds of a return move by ``shift`` in this period (a
    season the features do not show)."""
    X = rng.normal(size=(n, 3)).astype(np.float32)
    logit = -0.6 + 0.9 * X[:, 0] - 0.6 * X[:, 1] + shift
    returned = rng.random(n) < 1 / (1 + np.exp(-logit))
    outcome = np.where(returned, 1 + rng.integers(0, 6, n), 0).astype(np.int8)
    return X, outcome, 1 / (1 + np.exp(-logit))


def _fit(calibration: str, X_fit, o_fit, X_cal, o_cal) -> ReturnRiskModel:
    params = ModelParams(max_rounds_return=150, max_rounds_reason=10, early_stopping_rounds=20,
                         calibration=calibration, num_threads=1)
    return ReturnRiskModel.fit(X_fit, o_fit, X_cal, o_cal, params, feature_names=("a", "b", "c"), categorical=())


def test_slope_calibration_keeps_the_calibration_slices_season_out_of_the_future():
    rng = np.random.default_rng(0)
    X_fit, o_fit, _ = _season_data(30_000, 0.0, rng)      # a year: seasons average out
    X_cal, o_cal, _ = _season_data(6_000, 0.45, rng)      # the calibration month: a high season
    X_new, _, truth = _season_data(20_000, 0.0, rng)      # the weeks after the as-of date
    platt = _fit("platt", X_fit, o_fit, X_cal, o_cal)
    slope = _fit("slope", X_fit, o_fit, X_cal, o_cal)
    bias_platt = platt.predict(X_new).p_return.mean() - truth.mean()
    bias_slope = slope.predict(X_new).p_return.mean() - truth.mean()
    assert bias_platt > 0.06                             # Platt's intercept carried the high season over
    assert abs(bias_slope) < 0.015                       # the booster's own level kept
    assert slope.info["calibration"] == "slope" and platt.info["calibration"] == "platt"
    assert slope.platt[0] == pytest.approx(platt.platt[0])          # the same spread correction
    # the calibration stays affine in the margin: TreeSHAP contributions stay exact
    contributions = slope.explain(X_new[:50]).return_contrib
    np.testing.assert_allclose(contributions.sum(axis=1), slope.margin(X_new[:50]), rtol=1e-5, atol=1e-5)


def test_level_preserving_intercept_keeps_the_mean_prediction():
    margin = np.random.default_rng(1).normal(-0.5, 1.2, 5000)
    b = level_preserving_intercept(margin, 0.8)
    mean = lambda x: float(np.mean(1 / (1 + np.exp(-x))))  # noqa: E731
    assert mean(0.8 * margin + b) == pytest.approx(mean(margin), abs=1e-9)


def test_unknown_calibration_is_a_clear_error():
    from returnrisk.errors import InputError

    with pytest.raises(InputError, match="model.calibration 'isotonic' is not one of platt, slope"):
        ModelParams(calibration="isotonic")
