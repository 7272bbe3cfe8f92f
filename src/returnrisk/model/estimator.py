"""The return-risk model: P(return) and P(reason | return) from one feature matrix.

Two LightGBM boosters make one model:

* a binary booster for *returned vs kept*, recalibrated on a later time slice by Platt
  scaling of its margin (``p = sigmoid(a·margin + b)``) — an affine map of the margin, so the
  exact TreeSHAP contributions stay exact: they are multiplied by ``a``;
* a multiclass booster for the *reason group* of a return, trained on returned lines.

``P(return for reason g) = P(return) · P(g | return)``: one call gives both, and each has its
own exact explanation (log-odds of a return; raw score of each reason).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np

from returnrisk.features.catalog import CATEGORICAL, FEATURE_NAMES
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["ModelParams", "ReturnRiskModel", "Prediction", "Explanation", "fit_platt", "level_preserving_intercept",
           "CALIBRATIONS"]

#: How the return booster's margin is recalibrated on the calibration slice (see :meth:`ReturnRiskModel.fit`).
CALIBRATIONS = ("platt", "slope")

log = logging.getLogger(__name__)


@dataclass
class ModelParams:
    """LightGBM settings of the two boosters (params file → ``model``)."""

    return_model: dict = field(default_factory=lambda: {
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 100,
        "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
        "cat_smooth": 20, "max_cat_to_onehot": 8,
    })
    reason_model: dict = field(default_factory=lambda: {
        "objective": "multiclass", "learning_rate": 0.08, "num_leaves": 15, "min_data_in_leaf": 100,
        "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
        "cat_smooth": 20, "max_cat_to_onehot": 8,
    })
    max_rounds_return: int = 400
    max_rounds_reason: int = 150
    early_stopping_rounds: int = 40
    max_fit_rows: int = 2_000_000
    seed: int = 7
    num_threads: int = 0
    calibration: str = "slope"

    def __post_init__(self):
        if self.calibration not in CALIBRATIONS:
            from returnrisk.errors import InputError

            raise InputError(f"model.calibration {self.calibration!r} is not one of {', '.join(CALIBRATIONS)}: "
                             "fix it in the parameters file")

    @classmethod
    def from_dict(cls, values: dict) -> "ModelParams":
        defaults = cls()
        return cls(
            return_model={**defaults.return_model, **values.get("return_model", {})},
            reason_model={**defaults.reason_model, **values.get("reason_model", {})},
            **{k: values[k] for k in ("max_rounds_return", "max_rounds_reason", "early_stopping_rounds",
                                      "max_fit_rows", "seed", "num_threads", "calibration") if k in values},
        )


@dataclass
class Prediction:
    """``p_return`` (n,) and ``p_reasons`` (n, groups): P(return for reason g)."""

    p_return: np.ndarray
    p_reasons: np.ndarray


@dataclass
class Explanation:
    """Exact TreeSHAP contributions.

    ``return_contrib`` is ``(n, features + 1)`` in calibrated log-odds of a return (last
    column: the base value); ``reason_contrib`` is ``(n, groups, features + 1)`` in the raw
    softmax score of each reason group.
    """

    return_contrib: np.ndarray
    reason_contrib: np.ndarray


def fit_platt(margin: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Logistic regression of ``y`` on the margin: ``(a, b)`` of ``sigmoid(a·margin + b)``."""
    from sklearn.linear_model import LogisticRegression

    reg = LogisticRegression(C=1e6, solver="lbfgs", max_iter=200)
    reg.fit(margin.reshape(-1, 1), y)
    return float(reg.coef_[0, 0]), float(reg.intercept_[0])


def level_preserving_intercept(margin: np.ndarray, slope: float) -> float:
    """The intercept ``b`` with which ``sigmoid(slope·margin + b)`` keeps the booster's own mean
    prediction on these lines: Platt's slope corrects the spread, the level stays the booster's."""
    from scipy.optimize import brentq
    from scipy.special import expit

    target = float(expit(margin).mean())
    reach = abs(slope) * float(np.abs(margin).max(initial=0.0)) + 40.0   # the mean goes from ~0 to ~1 in it
    return float(brentq(lambda b: float(expit(slope * margin + b).mean()) - target, -reach, reach))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class ReturnRiskModel:
    """The two boosters, the calibration and the feature schema they were trained on."""

    def __init__(self, return_booster: lgb.Booster, reason_booster: lgb.Booster,
                 platt: tuple[float, float], feature_names: tuple[str, ...] = FEATURE_NAMES,
                 info: dict | None = None):
        self.return_booster = return_booster
        self.reason_booster = reason_booster
        self.platt = platt
        self.feature_names = tuple(feature_names)
        self.info = info or {}

    # ---- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X_fit: np.ndarray, outcome_fit: np.ndarray, X_cal: np.ndarray, outcome_cal: np.ndarray,
            params: ModelParams, progress=None, *, feature_names: tuple[str, ...] = FEATURE_NAMES,
            categorical: tuple[str, ...] = CATEGORICAL) -> "ReturnRiskModel":
        """Fit on one time slice; early-stop and calibrate on the later slice ``*_cal``.

        ``outcome`` is 0 for kept lines and ``1 + group`` for returns (see
        :mod:`returnrisk.features.build`); immature lines must not be passed. ``feature_names``
        and ``categorical`` describe the columns of ``X`` (default: the shop features; a
        benchmark may append columns of its own).
        """
        if (outcome_fit < 0).any() or (outcome_cal < 0).any():
            raise ValueError("immature lines (outcome -1) cannot be used for fitting")
        index = {name: i for i, name in enumerate(feature_names)}
        categorical = [index[c] for c in categorical]
        names = list(feature_names)
        common = {"verbose": -1, "seed": params.seed, "num_threads": params.num_threads,
                  "deterministic": True, "force_row_wise": True}
        y_fit, y_cal = (outcome_fit > 0).astype(np.float32), (outcome_cal > 0).astype(np.float32)
        if y_fit.min() == y_fit.max():
            raise ValueError("the training slice has only one outcome (all kept or all returned): "
                             "more history is needed")
        train = lgb.Dataset(X_fit, y_fit, feature_name=names, categorical_feature=categorical,
                            free_raw_data=True)
        valid = lgb.Dataset(X_cal, y_cal, reference=train)
        callbacks = [lgb.early_stopping(params.early_stopping_rounds, verbose=False)]
        if progress is not None:
            callbacks.append(progress)
        return_booster = lgb.train({**params.return_model, **common}, train, params.max_rounds_return,
                                   valid_sets=[valid], callbacks=callbacks)
        margin = return_booster.predict(X_cal, raw_score=True, num_iteration=return_booster.best_iteration)
        platt = fit_platt(margin, y_cal) if y_cal.min() != y_cal.max() else (1.0, 0.0)
        if params.calibration == "slope" and y_cal.min() != y_cal.max():
            # the calibration slice is one season: its level would be carried to every later week
            # (a December slice raised February's predictions); the booster's own level was learnt
            # on the whole fit slice, every month of it (see docs/training.md, "Calibration")
            platt = (platt[0], level_preserving_intercept(margin, platt[0]))

        returned_fit, returned_cal = outcome_fit > 0, outcome_cal > 0
        n_groups = len(RETURN_GROUPS)
        r_train = lgb.Dataset(X_fit[returned_fit], outcome_fit[returned_fit] - 1, feature_name=names,
                              categorical_feature=categorical)
        r_valid = lgb.Dataset(X_cal[returned_cal], outcome_cal[returned_cal] - 1, reference=r_train)
        reason_booster = lgb.train(
            {**params.reason_model, **common, "num_class": n_groups}, r_train, params.max_rounds_reason,
            valid_sets=[r_valid], callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
        )
        model = cls(_trimmed(return_booster), _trimmed(reason_booster), platt, tuple(feature_names))
        model.info.update({
            "return_rounds": return_booster.best_iteration or return_booster.current_iteration(),
            "reason_rounds": reason_booster.best_iteration or reason_booster.current_iteration(),
            "platt_a": platt[0], "platt_b": platt[1], "calibration": params.calibration,
        })
        return model

    # ---- predicting ---------------------------------------------------------------------------
    def margin(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        raw = self.return_booster.predict(X, raw_score=True, num_threads=num_threads)
        return self.platt[0] * raw + self.platt[1]

    def predict(self, X: np.ndarray, num_threads: int = 0) -> Prediction:
        p_return = _sigmoid(self.margin(X, num_threads))
        given = self.reason_booster.predict(X, num_threads=num_threads).reshape(len(X), -1)
        return Prediction(p_return, p_return[:, None] * given)

    def explain(self, X: np.ndarray, num_threads: int = 0) -> Explanation:
        """Exact TreeSHAP (LightGBM ``pred_contrib``), in the model's calibrated log-odds."""
        a, b = self.platt
        contrib = self.return_booster.predict(X, pred_contrib=True, num_threads=num_threads)
        contrib = contrib * a
        contrib[:, -1] += b
        k = len(RETURN_GROUPS)
        reason = self.reason_booster.predict(X, pred_contrib=True, num_threads=num_threads)
        reason = np.asarray(reason).reshape(len(X), k, -1)
        return Explanation(contrib, reason)

    # ---- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": "returnrisk-model/1",
            "feature_names": list(self.feature_names),
            "groups": list(RETURN_GROUPS),
            "platt": list(self.platt),
            "info": self.info,
            "return_booster": self.return_booster.model_to_string(),
            "reason_booster": self.reason_booster.model_to_string(),
        }

    @classmethod
    def from_dict(cls, payload: dict) -> "ReturnRiskModel":
        if payload.get("format") != "returnrisk-model/1":
            raise ValueError(f"unsupported model format {payload.get('format')!r}")
        return cls(
            lgb.Booster(model_str=payload["return_booster"]),
            lgb.Booster(model_str=payload["reason_booster"]),
            tuple(payload["platt"]),
            tuple(payload["feature_names"]),
            payload.get("info", {}),
        )

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle)

    @classmethod
    def load(cls, path) -> "ReturnRiskModel":
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))


def _trimmed(booster: lgb.Booster) -> lgb.Booster:
    """A booster holding only the trees up to its best iteration."""
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
