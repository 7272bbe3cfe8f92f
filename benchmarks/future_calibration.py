"""Calibration on the future: ECE on the 8 weeks after the as-of date, on a shop the project never saw.

    .venv/bin/python benchmarks/future_calibration.py [--seed 21] [--lines 500000] \
        [--as-of 2025-12-15 2026-02-01 2026-04-01 2026-07-01] [--weeks 8] [--default-shop] [--params FILE]

For each as-of date T: `returnrisk train --as-of T` (the real pipeline, its own MLflow store) on a
demo shop generated with a seed other than the default one; then the lines ordered in the
``--weeks`` weeks after T are scored exactly as `returnrisk predict` scores them (the registered
model and its snapshot frozen at T, each line with its product's page attributes), and compared
with their outcomes once matured (every such line is matured by the end of the data). Printed per
date: the validation slice's AUC and ECE (what `train` reports) beside the future weeks' AUC and
ECE, mean predicted vs observed, and the ECE of the generator's true probabilities on the same
future lines — the metric's noise floor on that many lines (a perfect model would score it).

``--default-shop`` also trains on the `make demo` shop (seed 7, 200,000 lines, default as-of) and
prints its validation AUC and ECE (the figures of docs/benchmarks.md's training-quality table).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def future_scores(folder: Path, bundle, as_of: pd.Timestamp, weeks: int):
    """(y, p, p_truth) of the lines ordered in the ``weeks`` weeks after ``as_of``."""
    from returnrisk.data.loader import load_shop
    from returnrisk.scoring.batch import score_frame

    shop = load_shop(folder, quarantine_dir=Path(tempfile.mkdtemp()))   # outcomes only: no reasons needed
    lines = shop.order_lines
    chosen = lines[((lines["ordered_at"] >= as_of) & (lines["ordered_at"] < as_of + pd.Timedelta(weeks=weeks))).to_numpy()]
    chosen = chosen.reset_index(drop=True)
    end = max(lines["ordered_at"].max(), shop.returns["returned_at"].max())
    if chosen["ordered_at"].max() >= end - pd.Timedelta(days=30):
        raise SystemExit(f"as-of {as_of:%Y-%m-%d}: the {weeks} weeks after it are not all matured by the end of the "
                         f"data ({end:%Y-%m-%d}); pick an earlier date")
    products = shop.products.set_index("product_id")
    for column in ("category", "brand", "price", "has_size_guide", "n_photos", "description", "created_at"):
        chosen[column] = products[column].reindex(chosen["product_id"]).to_numpy()
    p = score_frame(bundle, chosen)["p_return"].to_numpy()
    y = chosen["line_id"].isin(shop.returns["line_id"]).to_numpy().astype(int)
    truth = pq.read_table(folder / "truth" / "lines.parquet", columns=["line_id", "p_return"]).to_pandas()
    p_truth = truth.set_index("line_id")["p_return"].reindex(chosen["line_id"]).to_numpy()
    return y, p, p_truth


def main() -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--as-of", nargs="+", default=["2025-12-15", "2026-02-01", "2026-04-01", "2026-07-01"])
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--default-shop", action="store_true")
    parser.add_argument("--params", type=Path, default=None, help="parameters override file (default: the packaged defaults)")
    parser.add_argument("--work", type=Path, default=None, help="keep the shops and stores here")
    args = parser.parse_args()

    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.model.evaluation import expected_calibration_error, safe_auc
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    filler = default_reason_filler()   # as `returnrisk train` does: text-only returns get their reason
    sys.path.insert(0, str(Path(__file__).parent))
    from _measure import machine

    work = args.work or Path(tempfile.mkdtemp(prefix="rr-future-cal-"))
    print(f"machine: {machine()}")
    params = load_params(args.params)
    print(f"calibration: {params.model.calibration}")
    folder = work / f"shop-seed{args.seed}-{args.lines}"
    if not (folder / "truth" / "manifest.json").is_file():
        generate_demo_shop(folder, seed=args.seed, n_lines=args.lines)
    rows = []
    print(f"shop: seed {args.seed}, {args.lines:,} lines; future = the {args.weeks} weeks after each as-of date")
    print(f"{'as-of':>10} {'val AUC':>8} {'val ECE':>8} | {'fut AUC':>8} {'fut ECE':>8} {'pred':>6} {'obs':>6} "
          f"{'lines':>7} {'truth ECE':>9} {'secs':>5}")
    for when in args.as_of:
        as_of = pd.Timestamp(when, tz="UTC")
        started = time.perf_counter()
        tracker = Tracker(f"sqlite:///{work}/mlruns-{when}/mlflow.db")
        result = run_training(folder, params=params, tracker=tracker, as_of=as_of, reason_filler=filler)
        bundle, _ = tracker.load_bundle(f"models:/returnrisk/{result.model_version}")
        y, p, p_truth = future_scores(folder, bundle, as_of, args.weeks)
        row = {"as_of": when, "val_auc": result.metrics["val_auc"], "val_ece": result.metrics["val_ece"],
               "future_auc": safe_auc(y, p), "future_ece": expected_calibration_error(y, p),
               "mean_predicted": float(p.mean()), "observed": float(y.mean()), "lines": int(y.size),
               "truth_ece": expected_calibration_error(y, p_truth), "seconds": time.perf_counter() - started}
        rows.append(row)
        print(f"{when:>10} {row['val_auc']:>8.4f} {row['val_ece']:>8.4f} | {row['future_auc']:>8.4f} "
              f"{row['future_ece']:>8.4f} {row['mean_predicted']:>6.3f} {row['observed']:>6.3f} {row['lines']:>7,} "
              f"{row['truth_ece']:>9.4f} {row['seconds']:>5.0f}", flush=True)
    table = pd.DataFrame(rows)
    print(f"{'mean':>10} {table['val_auc'].mean():>8.4f} {table['val_ece'].mean():>8.4f} | "
          f"{table['future_auc'].mean():>8.4f} {table['future_ece'].mean():>8.4f} {'':>6} {'':>6} {'':>7} "
          f"{table['truth_ece'].mean():>9.4f}")
    print(f"worst future ECE: {table['future_ece'].max():.4f} (as-of {table.loc[table['future_ece'].idxmax(), 'as_of']})")

    if args.default_shop:
        default = work / "make-demo-shop"
        if not (default / "truth" / "manifest.json").is_file():
            generate_demo_shop(default, seed=7, n_lines=200_000)
        result = run_training(default, params=params, tracker=Tracker(f"sqlite:///{work}/mlruns-default/mlflow.db"),
                              reason_filler=filler)
        m = result.metrics
        print(f"\nmake-demo shop (seed 7, 200,000 lines, as-of {result.as_of:%Y-%m-%d}): validation AUC "
              f"{m['val_auc']:.4f}, ECE {m['val_ece']:.4f}, log-loss {m['val_log_loss']:.4f}, "
              f"ceiling share {m.get('ceiling_share', float('nan')):.1%}, mean predicted {m['val_mean_predicted']:.3f} "
              f"vs observed {m['val_return_rate']:.3f}")
    if args.work is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
