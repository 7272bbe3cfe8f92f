"""The model fitted on the cluster: ``lightgbm.dask`` boosters, best iteration and Platt scaling from sums.

The same :class:`~returnrisk.model.estimator.ReturnRiskModel` as one process fits, with three
differences, each because ``lightgbm.dask`` cannot do otherwise:

* **Early stopping after the fact.** ``lightgbm.dask`` has no early stopping (workers that stop
  at different rounds hang the others: LightGBM issues #3712, #6351). The booster is fitted for
  the full ``max_rounds``; the loss of every round on the calibration slice is then summed over
  the partitions (each tree's contribution predicted by partition), and the rule of
  ``lightgbm.early_stopping`` applied to that curve — the first round not beaten within
  ``early_stopping_rounds``. Boosting is sequential, so the trees kept are the trees an early
  stopped fit would have grown.
* **Platt scaling by Newton steps over partitions**: the logistic regression of the outcome on the
  margin (scikit-learn's objective with ``C = 1e6``) solved with gradients and Hessians summed
  over the calibration partitions.
* **The fit sample**: at most ``max_fit_rows`` lines, drawn in each partition in proportion to
  its fit lines (seeded per partition) instead of one draw over all lines.

The fitted boosters are ordinary LightGBM models: serving does not know where they were trained.
"""

from __future__ import annotations

import logging
import operator
import warnings

import lightgbm as lgb
import numpy as np

from returnrisk.cluster.exchange import hold
from returnrisk.features.catalog import CATEGORICAL, FEATURE_INDEX, FEATURE_NAMES
from returnrisk.model.estimator import ModelParams, ReturnRiskModel, _trimmed
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY

__all__ = ["fit_on_cluster", "Slice", "early_stopping_round", "platt_newton"]

log = logging.getLogger(__name__)
_EPS = 1e-15   # LightGBM's kEpsilon in its log-loss metrics


class Slice:
    """Which rows of a shard frame to use: fit or calibration rows for a model trained at ``end``."""

    def __init__(self, kind: str, end_s: int, window_days: int, calibration_days: int, use_validation_outcome: bool):
        self.kind, self.end_s = kind, end_s
        self.window_s, self.cal_s = window_days * DAY, calibration_days * DAY
        self.use_validation_outcome = use_validation_outcome

    def mask(self, frame) -> np.ndarray:
        outcome = frame.outcome_validation if self.use_validation_outcome else frame.outcome
        start = self.end_s - self.window_s - self.cal_s
        if self.kind == "fit":
            rows = frame.t < start
        else:
            rows = (frame.t >= start) & (frame.t < self.end_s - self.window_s)
        return rows & (outcome >= 0)

    def outcome(self, frame) -> np.ndarray:
        return frame.outcome_validation if self.use_validation_outcome else frame.outcome


def _count(frame, spec: Slice) -> int:
    return int(spec.mask(frame).sum())


def _rows(frame, spec: Slice, keep: int | None, seed: int, returned_only: bool = False):
    """``(X, outcome)`` of the slice's rows (a seeded sample of ``keep`` rows if given)."""
    mask = spec.mask(frame)
    rows = np.flatnonzero(mask)
    if keep is not None and keep < rows.size:
        rows = np.sort(np.random.default_rng([seed, frame.shard]).choice(rows, keep, replace=False))
    outcome = spec.outcome(frame)[rows]
    if returned_only:
        rows, outcome = rows[outcome > 0], outcome[outcome > 0]
    return frame.X[rows], outcome


def _quota(counts: list[int], cap: int) -> list[int | None]:
    total = sum(counts)
    if not cap or total <= cap:
        return [None] * len(counts)
    exact = np.array(counts, dtype=float) * cap / total
    out = np.floor(exact).astype(int)
    out[np.argsort(-(exact - out), kind="stable")[: cap - out.sum()]] += 1   # largest remainders
    return out.tolist()


def _dask_arrays(client, parts: list, n_features: int):
    """Dask arrays (X, label) over futures of ``(X, outcome)`` that stay where they are."""
    import dask.array as da
    from dask import delayed

    shapes = client.gather([client.submit(lambda p: p[0].shape[0], part) for part in parts])
    xs, ys = [], []
    for part, n in zip(parts, shapes):
        if n == 0:
            continue
        xs.append(da.from_delayed(delayed(operator.getitem)(part, 0), shape=(n, n_features), dtype=np.float32))
        ys.append(da.from_delayed(delayed(operator.getitem)(part, 1), shape=(n,), dtype=np.int8))
    return da.concatenate(xs), da.concatenate(ys), int(sum(shapes))


def _labels(outcome: np.ndarray, kind: str) -> np.ndarray:
    return (outcome > 0).astype(np.float32) if kind == "return" else (outcome - 1).astype(np.float32)


def _fit_booster(client, parts: list, kind: str, params: dict, rounds: int, seed: int) -> lgb.Booster:
    import dask.array as da

    X, outcome, n = _dask_arrays(client, parts, len(FEATURE_NAMES))
    y = da.map_blocks(_labels, outcome, kind, dtype=np.float32)
    common = {"verbose": -1, "seed": seed, "deterministic": True, "force_row_wise": True}
    model = lgb.DaskLGBMRegressor(client=client, n_estimators=rounds, **{**params, **common})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(X, y, feature_name=list(FEATURE_NAMES), categorical_feature=[FEATURE_INDEX[c] for c in CATEGORICAL])
    return model.booster_


# ---- the best round ------------------------------------------------------------------------------
def _round_losses(part, booster_text: str, kind: str) -> tuple[np.ndarray, int]:
    """Sum over the part's rows of the loss after each round (LightGBM's own log-loss metrics)."""
    X, outcome = part
    booster = lgb.Booster(model_str=booster_text)
    rounds = booster.current_iteration()
    if X.shape[0] == 0:
        return np.zeros(rounds), 0
    if kind == "return":
        y = (outcome > 0).astype(float)
        raw = np.zeros(X.shape[0]) + 0.0
    else:
        y = (outcome - 1).astype(int)
        raw = np.zeros((X.shape[0], len(RETURN_GROUPS)))
    losses = np.empty(rounds)
    for i in range(rounds):
        step = booster.predict(X, raw_score=True, start_iteration=i, num_iteration=1)
        raw += step.reshape(raw.shape)
        if kind == "return":
            p = 1.0 / (1.0 + np.exp(-raw))
            q = np.where(y > 0, p, 1.0 - p)
        else:
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            q = e[np.arange(y.size), y] / e.sum(axis=1)
        losses[i] = -np.log(np.maximum(q, _EPS)).sum()
    return losses, X.shape[0]


def early_stopping_round(losses: np.ndarray, stopping_rounds: int) -> int:
    """The number of rounds ``lightgbm.early_stopping`` keeps for this validation-loss curve."""
    best, best_i = np.inf, 0
    for i, loss in enumerate(losses):
        if loss < best:
            best, best_i = loss, i
        elif i - best_i >= stopping_rounds:
            break
    return best_i + 1


def _best_rounds(client, booster: lgb.Booster, cal_parts: list, kind: str, stopping_rounds: int) -> int:
    text = hold(client, booster.model_to_string(), f"{kind}-booster")
    results = client.gather([client.submit(_round_losses, p, text, kind) for p in cal_parts])
    total = sum(r[0] for r in results)
    n = sum(r[1] for r in results)
    if n == 0:
        return booster.current_iteration()
    return early_stopping_round(total / n, stopping_rounds)


# ---- Platt scaling ---------------------------------------------------------------------------------
def _margins(part, booster_text: str):
    X, outcome = part
    booster = lgb.Booster(model_str=booster_text)
    margin = booster.predict(X, raw_score=True) if X.shape[0] else np.empty(0)
    return margin, (outcome > 0).astype(float)


def _newton_sums(part, a: float, b: float):
    m, y = part
    p = 1.0 / (1.0 + np.exp(-(a * m + b)))
    w = p * (1 - p)
    r = p - y
    return np.array([(r * m).sum(), r.sum(), (w * m * m).sum(), (w * m).sum(), w.sum(), y.sum(), y.size])


def platt_newton(client, margin_parts: list, C: float = 1e6, iterations: int = 50) -> tuple[float, float]:
    """``(a, b)`` minimising ``Σ log-loss(y, sigmoid(a·m + b)) + a²/(2C)`` (scikit-learn's Platt fit)."""
    a, b = 1.0, 0.0
    for _ in range(iterations):
        g_a, g_b, h_aa, h_ab, h_bb, positives, n = sum(client.gather(
            [client.submit(_newton_sums, p, a, b, pure=False) for p in margin_parts]))
        if n == 0 or positives in (0, n):
            return 1.0, 0.0
        g = np.array([g_a + a / C, g_b])
        h = np.array([[h_aa + 1 / C, h_ab], [h_ab, h_bb]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def _placement(client, n: int):
    """Shard ``i``'s fit rows go to the ``i mod W``-th worker (by address): the same data on the same
    LightGBM machine from run to run, hence the same bagging samples and the same trees."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])

    def place(i: int) -> dict:
        return {"workers": [workers[i % len(workers)]], "allow_other_workers": True}

    return place


# ---- the model -----------------------------------------------------------------------------------
def fit_on_cluster(client, frames: list, fit: Slice, cal: Slice, params: ModelParams) -> ReturnRiskModel:
    """Fit the return and reason boosters on the shard frames' ``fit`` rows; stop and calibrate on ``cal``."""
    counts = client.gather([client.submit(_count, f, fit) for f in frames])
    quota = _quota(counts, params.max_fit_rows)
    if quota[0] is not None:
        log.info("fit slice subsampled to %d of %d lines (model.max_fit_rows)", sum(quota), sum(counts))
    place = _placement(client, len(frames))
    fit_parts = [client.submit(_rows, f, fit, q, params.seed, **place(i)) for i, (f, q) in enumerate(zip(frames, quota))]
    cal_parts = [client.submit(_rows, f, cal, None, params.seed) for f in frames]
    n_fit = int(sum(q if q is not None else c for q, c in zip(quota, counts)))
    positives = sum(client.gather([client.submit(lambda p: int((p[1] > 0).sum()), part) for part in fit_parts]))
    if positives in (0, n_fit):
        raise ValueError("the training slice has only one outcome (all kept or all returned): more history is needed")

    return_booster = _fit_booster(client, fit_parts, "return", params.return_model, params.max_rounds_return, params.seed)
    return_rounds = _best_rounds(client, return_booster, cal_parts, "return", params.early_stopping_rounds)
    return_booster = lgb.Booster(model_str=return_booster.model_to_string(num_iteration=return_rounds))
    text = hold(client, return_booster.model_to_string(), "return-booster")
    margins = [client.submit(_margins, p, text) for p in cal_parts]
    platt = platt_newton(client, margins)
    del margins

    r_fit = [client.submit(_rows, f, fit, q, params.seed, True, **place(i)) for i, (f, q) in enumerate(zip(frames, quota))]
    r_cal = [client.submit(_rows, f, cal, None, params.seed, True) for f in frames]
    reason_params = {**params.reason_model, "num_class": len(RETURN_GROUPS)}
    reason_booster = _fit_booster(client, r_fit, "reason", reason_params, params.max_rounds_reason, params.seed)
    reason_rounds = _best_rounds(client, reason_booster, r_cal, "reason", params.early_stopping_rounds)
    reason_booster = lgb.Booster(model_str=reason_booster.model_to_string(num_iteration=reason_rounds))
    cal_rows = sum(client.gather([client.submit(lambda p: p[0].shape[0], part) for part in cal_parts]))
    model = ReturnRiskModel(_trimmed(return_booster), _trimmed(reason_booster), platt, FEATURE_NAMES)
    model.info.update({"return_rounds": return_rounds, "reason_rounds": reason_rounds,
                       "platt_a": platt[0], "platt_b": platt[1], "fit_rows": n_fit, "calibration_rows": int(cal_rows),
                       "trained_on": "dask"})
    return model
