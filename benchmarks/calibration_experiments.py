"""Research harness: which calibration holds on the weeks after the as-of date?

    .venv/bin/python benchmarks/calibration_experiments.py --seed 21 --lines 200000 \
        --as-of 2026-01-15 2026-04-01 2026-06-15 [--variants baseline recency_180 ...]

For each shop and as-of date T: the training frame at T (exactly what ``returnrisk train
--as-of T`` builds), the serving snapshot at T, and the lines ordered in the 8 weeks after T
(scored with the snapshot frozen at T, as a served champion scores them; labels known once
they matured). Each variant fits the return booster and its calibration the way it proposes,
twice like the pipeline: the validation model (at T_val, evaluated on the validation slice)
and the served model (at T, evaluated on the future weeks). Prints, per variant: validation
ECE / AUC, future ECE / AUC, mean predicted vs observed on the future weeks; and the ECE of the
generator's true probabilities on the same future rows (the metric's noise floor).

Only the return booster is fitted (the reason booster does not change P(return)).
"""

from __future__ import annotations

import argparse
import sys
import warnings
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from returnrisk.data.loader import clean_shop, read_shop_tables
from returnrisk.features.build import frame_from_history, index_shop, outcomes_at
from returnrisk.features.catalog import CATEGORICAL, FEATURE_INDEX, FEATURE_NAMES
from returnrisk.timeutil import DAY
from returnrisk.features.snapshot import Snapshot
from returnrisk.model.estimator import fit_platt
from returnrisk.model.evaluation import expected_calibration_error, safe_auc
from returnrisk.pipeline.params import load_params
from returnrisk.pipeline.train import time_split

FUTURE_DAYS = 56


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Fitted:
    booster: lgb.Booster
    calibrate: object   # margin, X -> probability

    def predict(self, X):
        return self.calibrate(self.booster.predict(X, raw_score=True), X)


def _booster(X, y, Xc, yc, params, weight=None):
    p = params.model
    common = {"verbose": -1, "seed": p.seed, "num_threads": p.num_threads, "deterministic": True,
              "force_row_wise": True}
    names = list(FEATURE_NAMES)
    cats = [FEATURE_INDEX[c] for c in CATEGORICAL]
    train = lgb.Dataset(X, y, weight=weight, feature_name=names, categorical_feature=cats)
    valid = lgb.Dataset(Xc, yc, reference=train)
    booster = lgb.train({**p.return_model, **common}, train, p.max_rounds_return, valid_sets=[valid],
                        callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)])
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))


def _delay_cdf(frame, end_s, window_s):
    """Empirical share of returns arriving within a days (from returns of lines matured at end)."""
    h = frame.history
    known = h.ret_t < end_s
    lines = h.ret_line[known]
    matured = h.t[lines] < end_s - window_s
    delay = (h.ret_t[known][matured] - h.t[lines][matured]).astype(float)
    delay = np.sort(delay)

    def cdf(age_s):
        return np.searchsorted(delay, age_s, side="right") / max(delay.size, 1)
    return cdf


def fit_variant(name, frame, split, end, params):
    outcome = outcomes_at(frame, end)
    t = frame.history.t
    cal_days = params.calibration_days
    end_s = int(pd.Timestamp(end).timestamp())
    window_s = params.window_days * DAY
    if name.startswith("cal"):   # calXX: a calibration slice of XX days
        cal_days = int(name[3:].split("_")[0])
    fit = (t < end_s - window_s - cal_days * DAY) & (outcome >= 0)
    cal = (t >= end_s - window_s - cal_days * DAY) & (t < end_s - window_s) & (outcome >= 0)
    X = frame.X
    y = (outcome > 0).astype(np.float32)
    weight = None
    if name.startswith("recency_"):
        half_life = float(name.split("_")[1])
        weight = np.power(0.5, (end_s - t[fit]) / (half_life * DAY)).astype(np.float32)
    Xf = X[fit]
    if name == "no_month":
        Xf = Xf.copy()
        Xf[:, FEATURE_INDEX["month"]] = np.nan
    booster = _booster(Xf, y[fit], X[cal], y[cal], params, weight)
    margin_cal = booster.predict(X[cal], raw_score=True)
    a, b = fit_platt(margin_cal, y[cal])

    def platt(m, _X):
        return _sigmoid(a * m + b)

    if name in ("baseline", "no_month") or name.startswith("recency_") or (name.startswith("cal") and "_" not in name):
        return Fitted(booster, platt)
    if name == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(margin_cal, y[cal])
        return Fitted(booster, lambda m, _X: iso.predict(m))
    if name == "raw":
        return Fitted(booster, lambda m, _X: _sigmoid(m))
    if name == "platt_slope":
        # Platt's slope (the spread), but the booster's own level: the intercept is moved so that
        # the mean prediction on the calibration slice stays the booster's
        from scipy.optimize import brentq

        target = _sigmoid(margin_cal).mean()
        b2 = brentq(lambda c: _sigmoid(a * margin_cal + c).mean() - target, -10, 10)
        return Fitted(booster, lambda m, _X: _sigmoid(a * m + b2))
    if "immature" in name:
        # shift the intercept so that the partially observed lines of [end-W, end) fit too:
        # P(returned by end | age a) = p · F(a)
        cdf = _delay_cdf(frame, end_s, window_s)
        recent = (t >= end_s - window_s) & (t < end_s)
        returned_by_end = np.zeros(len(t), bool)
        h = frame.history
        known = h.ret_t < end_s
        returned_by_end[h.ret_line[known]] = True
        age = (end_s - t[recent]).astype(float)
        F = cdf(age)
        m_recent = a * booster.predict(X[recent], raw_score=True) + b
        y_recent = returned_by_end[recent].astype(float)
        m_cal = a * margin_cal + b
        use_cal = name.startswith("cal") or name == "platt_immature_cal"
        from scipy.optimize import minimize_scalar

        def nll(delta):
            p = np.clip(_sigmoid(m_recent + delta) * F, 1e-9, 1 - 1e-9)
            out = -np.sum(y_recent * np.log(p) + (1 - y_recent) * np.log(1 - p))
            if use_cal:
                pc = np.clip(_sigmoid(m_cal + delta), 1e-9, 1 - 1e-9)
                out -= np.sum(y[cal] * np.log(pc) + (1 - y[cal]) * np.log(1 - pc))
            return out
        delta = minimize_scalar(nll, bounds=(-2, 2), method="bounded").x
        return Fitted(booster, lambda m, _X: _sigmoid(a * m + b + delta))
    raise ValueError(name)


def true_calibration_error(p_truth, p, bins=10):
    """ECE against the generator's true probabilities instead of the 0/1 outcomes (no label noise)."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(p_truth[mask].mean() - p[mask].mean())
    return total / len(p)


def future_lines(shop, as_of, days):
    lines = shop.order_lines
    t = lines["ordered_at"]
    mask = (t >= as_of) & (t < as_of + pd.Timedelta(days=days))
    out = lines[mask.to_numpy()].reset_index(drop=True)
    products = shop.products.set_index("product_id")
    for column in ("category", "brand", "price", "has_size_guide", "n_photos", "description", "created_at"):
        out[column] = products[column].reindex(out["product_id"]).to_numpy()
    returned = out["line_id"].isin(shop.returns["line_id"]).to_numpy()
    return out, returned.astype(int)


def run(folder, as_ofs, variants, params):
    shop = clean_shop(read_shop_tables(folder), folder, quarantine_dir=Path(tempfile.mkdtemp()))
    truth = pq.read_table(Path(folder) / "truth" / "lines.parquet", columns=["line_id", "p_return"]).to_pandas()
    truth = truth.set_index("line_id")["p_return"]
    rows = []
    for T in as_ofs:
        T = pd.Timestamp(T, tz="UTC")
        started = time.perf_counter()
        history, vocabulary = index_shop(shop, T, window_days=params.window_days, smoothing=params.smoothing)
        frame = frame_from_history(history, vocabulary, params.smoothing)
        snapshot = Snapshot.from_history(frame.history, frame.attrs, frame.vocabulary, params.smoothing,
                                         params.window_days)
        lines, y_future = future_lines(shop, T, FUTURE_DAYS)
        X_future = snapshot.features(lines)
        split = time_split(T, params)
        val = split.validation_mask(frame.history.t) & (frame.outcome >= 0)
        y_val = (frame.outcome[val] > 0).astype(int)
        p_truth = truth.reindex(lines["line_id"]).to_numpy()
        floor = expected_calibration_error(y_future, p_truth)
        print(f"\n{folder.name} as-of {T:%Y-%m-%d}: {len(lines):,} future lines (rate {y_future.mean():.3f}), "
              f"{val.sum():,} validation lines; truth ECE on the future rows {floor:.4f} "
              f"(AUC {safe_auc(y_future, p_truth):.4f}); frame {time.perf_counter() - started:.0f} s", flush=True)
        for name in variants:
            v_model = fit_variant(name, frame, split, split.validation_start, params)
            p_val = v_model.predict(frame.X[val])
            s_model = fit_variant(name, frame, split, T, params)
            p_fut = s_model.predict(X_future)
            row = {
                "shop": folder.name, "as_of": f"{T:%Y-%m-%d}", "variant": name,
                "val_ece": expected_calibration_error(y_val, p_val), "val_auc": safe_auc(y_val, p_val),
                "future_ece": expected_calibration_error(y_future, p_fut), "future_auc": safe_auc(y_future, p_fut),
                "future_mean_pred": float(p_fut.mean()), "future_rate": float(y_future.mean()),
                "truth_ece": floor, "future_tce": true_calibration_error(p_truth, p_fut),
                "val_tce": true_calibration_error(truth.reindex(frame.lines["line_id"][val]).to_numpy(), p_val),
            }
            rows.append(row)
            print(f"  {name:>22}: val ECE {row['val_ece']:.4f} AUC {row['val_auc']:.4f} | future ECE "
                  f"{row['future_ece']:.4f} AUC {row['future_auc']:.4f} mean {row['future_mean_pred']:.4f} "
                  f"vs {row['future_rate']:.4f} | true-p CE val {row['val_tce']:.4f} "
                  f"future {row['future_tce']:.4f}", flush=True)
    return rows


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[21])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--as-of", nargs="+", default=["2026-01-15", "2026-04-01", "2026-06-15"])
    parser.add_argument("--variants", nargs="+", default=["baseline"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rr-calib")
    parser.add_argument("--params", type=Path, default=None)
    args = parser.parse_args()
    from returnrisk.demo.generator import generate_demo_shop

    params = load_params(args.params)
    all_rows = []
    for seed in args.seed:
        folder = args.work / f"seed{seed}-{args.lines}"
        if not (folder / "truth" / "manifest.json").is_file():
            generate_demo_shop(folder, seed=seed, n_lines=args.lines)
        all_rows += run(folder, args.as_of, args.variants, params)
    table = pd.DataFrame(all_rows)
    summary = table.groupby("variant", sort=False)[["val_ece", "val_auc", "future_ece", "future_auc",
                                                      "val_tce", "future_tce"]].mean()
    summary["future_ece_max"] = table.groupby("variant", sort=False)["future_ece"].max()
    print("\nmean over shops and as-of dates:")
    print(summary.round(4).to_string())
    print(f"truth ECE on the future rows (noise floor), mean: {table['truth_ece'].mean():.4f}")
    table.to_csv(args.work / "calibration_experiments.csv", index=False)


if __name__ == "__main__":
    sys.exit(main())
