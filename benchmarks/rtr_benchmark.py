"""Size-fit prediction on real data: RentTheRunway, through returnrisk's own modelling code.

    .venv/bin/python benchmarks/rtr_benchmark.py [--data ../shared/data/renttherunway] [--seed 42]

192,544 real rentals with the customer's verdict small / fit / large (read the data folder's
README). The data is mapped onto the data contract — customer = user, product = item, an order
line per rental, a ``too_small`` / ``too_large`` return for a small / large verdict, ``fit`` = kept,
body measurements as optional customer attributes — and goes through the project's code: the
loader, the entity states and ``derive_features`` (shrunk rates per item, item × size, user; the
user's size profile; the item's fit offset), and ``ReturnRiskModel`` (P(return) × P(reason |
return)): P(small) = P(too-small return), P(large) = P(too-large return), P(fit) = 1 − P(return).

Two protocols, reported as the mean one-vs-rest AUC over small / fit / large:

* random 80/10/10 split (seed 42; test = last 10 % of the permutation), as in the published table
  (Misra et al., RecSys 2018: best 0.719, baselines 0.61–0.681). Target statistics are computed
  out of fold on the training part only (``returnrisk.features.crossfit``, 10 folds); validation
  and test rows only see the training part; the validation part early-stops and calibrates.
* time split (what a shop faces): fit on rentals before 2017-07-15, early-stop/calibrate on
  [2017-07-15, 2017-09-15), test from 2017-09-15 (13.4 % of rows), with the point-in-time
  features of ``returnrisk.features.history`` — (a) refreshed daily (each rental sees every
  verdict before its day) and (b) frozen at 2017-09-15 (the serving snapshot of a model trained
  then, never refreshed).

Skips with a clear message when the data folder is absent. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "renttherunway"
VERDICT = {"small": 1, "fit": 0, "large": 2}   # the outcome convention: 0 kept, 1 + reason group
EXTRA_NUMERIC = ["height_in", "weight_lbs", "bust_size_num", "age", "bmi", "user_size_mean", "user_size_sd",
                 "size_minus_user", "item_size_mean", "item_size_sd", "size_minus_item", "user_rentals",
                 "item_rentals"]
EXTRA_CATEGORICAL = ["bust_size_letter", "body_type", "rented_for"]
MODEL = {  # a larger, more regularised fit than the shop default: 150k rows, noisy verdicts
    "return_model": {"learning_rate": 0.03, "num_leaves": 31, "min_data_in_leaf": 200, "feature_fraction": 0.7,
                     "lambda_l2": 10.0, "cat_smooth": 50, "cat_l2": 10.0},
    "reason_model": {"learning_rate": 0.03, "num_leaves": 31, "min_data_in_leaf": 200, "feature_fraction": 0.7,
                     "lambda_l2": 10.0, "cat_smooth": 50, "cat_l2": 10.0},
    "max_rounds_return": 1500, "max_rounds_reason": 1500, "early_stopping_rounds": 100, "seed": 1,
}


def load(folder: Path) -> pd.DataFrame:
    df = pd.read_parquet(folder / "rtr_clean.parquet").drop_duplicates().reset_index(drop=True)
    df["age"] = df["age"].where(df["age"].between(15, 90))
    df["bmi"] = df["weight_lbs"] / df["height_in"] ** 2
    df["outcome"] = df["fit"].astype(str).map(VERDICT).astype(np.int8)
    df["line_id"] = "R" + df.index.astype(str)
    return df


def write_shop(df: pd.DataFrame, folder: Path) -> None:
    """The rentals as a shop in the data contract (a return one hour after a small/large rental)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = df.groupby("item_id")["category"].agg(lambda s: s.value_counts().index[0]).reset_index()
    pd.DataFrame({"product_id": items["item_id"].astype(str), "category": items["category"],
                  "price": 0.0}).to_csv(folder / "products.csv", index=False)
    ordered = df["review_date"].dt.tz_localize("UTC")
    pd.DataFrame({"line_id": df["line_id"], "order_id": df["line_id"], "customer_id": df["user_id"].astype(str),
                  "product_id": df["item_id"].astype(str), "size": df["size"].astype(str),
                  "ordered_at": ordered}).to_csv(folder / "order_lines.csv", index=False)
    returned = df[df["outcome"] > 0]
    pd.DataFrame({"line_id": returned["line_id"], "returned_at": ordered[returned.index] + pd.Timedelta(hours=1),
                  "reason_code": np.where(returned["outcome"] == 1, "too_small", "too_large")}).to_csv(
        folder / "returns.csv", index=False)


def extra_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Customer attributes and order-size features; sizes are orders, not verdicts (no label used)."""
    out = df[["height_in", "weight_lbs", "bust_size_num", "age", "bmi"]].astype(float).copy()

    def others(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = df.groupby(key)["size"]
        n = g.transform("size").to_numpy(dtype=float) - 1
        s = g.transform("sum").to_numpy(dtype=float) - df["size"].to_numpy()
        s2 = g.transform(lambda v: (v.astype(float) ** 2).sum()).to_numpy() - df["size"].to_numpy(dtype=float) ** 2
        mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
        sd = np.where(n > 1, np.sqrt(np.maximum(s2 / np.maximum(n, 1) - mean ** 2, 0)), np.nan)
        return n, mean, sd

    n, mean, sd = others("user_id")
    out["user_rentals"], out["user_size_mean"], out["user_size_sd"] = n, mean, sd
    out["size_minus_user"] = df["size"] - mean
    n, mean, sd = others("item_id")
    out["item_rentals"], out["item_size_mean"], out["item_size_sd"] = n, mean, sd
    out["size_minus_item"] = df["size"] - mean
    for column in EXTRA_CATEGORICAL:
        out[column] = pd.Categorical(df[column].astype(object)).codes.astype(float)
        out.loc[out[column] < 0, column] = np.nan
    return out[EXTRA_NUMERIC + EXTRA_CATEGORICAL]


def aucs(outcome: np.ndarray, p_return: np.ndarray, p_reasons: np.ndarray) -> dict[str, float]:
    scores = {"small": p_reasons[:, 0], "fit": 1.0 - p_return, "large": p_reasons[:, 1]}
    out = {name: roc_auc_score(outcome == VERDICT[name], score) for name, score in scores.items()}
    out["average"] = float(np.mean(list(out.values())))
    return out


def fit_and_score(X, outcome, fit, cal, test, names, categorical):
    from returnrisk.model.estimator import ModelParams, ReturnRiskModel

    model = ReturnRiskModel.fit(X[fit], outcome[fit], X[cal], outcome[cal], ModelParams.from_dict(MODEL),
                                feature_names=names, categorical=categorical)
    prediction = model.predict(X[test])
    return aucs(outcome[test], prediction.p_return, prediction.p_reasons), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args()
    if not (args.data / "rtr_clean.parquet").is_file():
        print(f"skipped: the RentTheRunway data is not in {args.data} (expected rtr_clean.parquet there; "
              "pass --data FOLDER)")
        return

    from returnrisk.data.loader import load_shop
    from returnrisk.features.build import build_training_frame
    from returnrisk.features.catalog import CATEGORICAL, FEATURE_NAMES
    from returnrisk.features.crossfit import crossfit_history
    from returnrisk.features.derive import Smoothing, derive_features
    from returnrisk.features.lines import line_inputs
    from returnrisk.features.snapshot import Snapshot

    started = time.perf_counter()
    print(f"machine: {machine()}")
    df = load(args.data)
    smoothing = Smoothing(category=100.0, brand=100.0, product=10.0, size=10.0, customer=3.0)
    with tempfile.TemporaryDirectory(prefix="rr-rtr-") as tmp:
        write_shop(df, Path(tmp) / "shop")
        shop = load_shop(Path(tmp) / "shop", quarantine_dir=Path(tmp) / "q", strict=True)
        as_of = shop.order_lines["ordered_at"].max() + pd.Timedelta(days=1)
        frame = build_training_frame(shop, as_of, window_days=1, knots_days=(0.1, 0.5), kept_after_days=0.5,
                                     smoothing=smoothing)
    order = pd.Index(df["line_id"]).get_indexer(frame.lines["line_id"])
    rows = df.iloc[order].reset_index(drop=True)
    outcome = rows["outcome"].to_numpy()
    extras = extra_columns(rows).to_numpy(dtype=np.float32)
    names = tuple(FEATURE_NAMES) + tuple(EXTRA_NUMERIC) + tuple(EXTRA_CATEGORICAL)
    categorical = tuple(CATEGORICAL) + tuple(EXTRA_CATEGORICAL)
    print(f"{len(df):,} rentals after removing exact duplicates; mapped to {len(shop.products):,} products, "
          f"{shop.order_lines['customer_id'].nunique():,} customers ({time.perf_counter() - started:.0f} s)")

    # ---- random 80/10/10 split, out-of-fold target statistics ---------------------------------
    perm = np.random.default_rng(args.seed).permutation(len(rows))
    part = np.empty(len(rows), dtype=np.int8)
    a, b = int(0.8 * len(rows)), int(0.9 * len(rows))
    part[perm[:a]], part[perm[a:b]], part[perm[b:]] = 0, 1, 2
    train = part == 0
    folds = np.random.default_rng(7).integers(0, args.folds, len(rows))
    history = frame.history
    system_codes = history.system_code(frame.lines["size_system"])
    oof = crossfit_history(history.line_codes, outcome, frame.lines["size_ordinal"].to_numpy(dtype=float),
                           system_codes, train, folds)
    product_rows = frame.attrs.reindex(frame.lines["product_id"].astype(object)).reset_index(drop=True)
    product_rows["size_system"] = frame.lines["size_system"].to_numpy()
    inputs = line_inputs(frame.lines, product_rows, frame.vocabulary, frame.lines["cutoff"].to_numpy())
    X = np.hstack([derive_features(oof, inputs, smoothing), extras])
    random_auc, _ = fit_and_score(X, outcome, train, part == 1, part == 2, names, categorical)

    # ---- time split with point-in-time features -------------------------------------------------
    t = frame.lines["ordered_at"]
    val_start, test_start = pd.Timestamp("2017-07-15", tz="UTC"), pd.Timestamp("2017-09-15", tz="UTC")
    fit_rows = (t < val_start).to_numpy()
    cal_rows = ((t >= val_start) & (t < test_start)).to_numpy()
    test_rows = (t >= test_start).to_numpy()
    X_time = np.hstack([frame.X, extras])
    daily_auc, model = fit_and_score(X_time, outcome, fit_rows, cal_rows, test_rows, names, categorical)
    # frozen: features of the test rentals from the snapshot at the test start (model trained then)
    with tempfile.TemporaryDirectory(prefix="rr-rtr-") as tmp:
        write_shop(df, Path(tmp) / "shop")
        shop = load_shop(Path(tmp) / "shop", quarantine_dir=Path(tmp) / "q", strict=True)
        at_start = build_training_frame(shop, test_start, window_days=1, knots_days=(0.1, 0.5),
                                        kept_after_days=0.5, smoothing=smoothing)
    snapshot = Snapshot.from_history(at_start.history, at_start.attrs, at_start.vocabulary, smoothing, 1)
    test_lines = frame.lines[test_rows].reset_index(drop=True)
    X_frozen = np.hstack([snapshot.features(test_lines, now=test_start), extras[test_rows]])
    prediction = model.predict(X_frozen)
    frozen_auc = aucs(outcome[test_rows], prediction.p_return, prediction.p_reasons)

    print(f"\n{'protocol':<52} {'small':>7} {'fit':>7} {'large':>7} {'average':>8}")
    for label, result in (
        (f"random 80/10/10 (seed {args.seed}), out-of-fold statistics", random_auc),
        ("time split, point-in-time features refreshed daily", daily_auc),
        ("time split, features frozen at the test start", frozen_auc),
    ):
        print(f"{label:<52} {result['small']:>7.4f} {result['fit']:>7.4f} {result['large']:>7.4f} "
              f"{result['average']:>8.4f}")
    print("\npublished (Misra et al. 2018, random split): best 0.719 (K-LF-ML), baselines 0.61–0.681")
    print(f"rows: train {train.sum():,} / val {(part == 1).sum():,} / test {(part == 2).sum():,} (random); "
          f"fit {fit_rows.sum():,} / calibration {cal_rows.sum():,} / test {test_rows.sum():,} (time); "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
