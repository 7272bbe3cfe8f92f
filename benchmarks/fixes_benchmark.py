"""Benchmark of the fix suggestions against the demo shop's planted causes.

Run from the repository root::

    .venv/bin/python benchmarks/fixes_benchmark.py                       # 3 seeds + 3 cause mixes, 200k lines
    .venv/bin/python benchmarks/fixes_benchmark.py --seeds 7 --mixes as-is --lines 100000   # one quick shop

For every scenario it generates a demo shop (``generate_demo_shop``), optionally changes its
mix of causes by post-processing (below), trains a model on it (``run_training``, the
default training parameters unless ``--params``; MLflow in a temporary store), then runs
:func:`returnrisk.fixes.compute_fixes` exactly as ``returnrisk fixes`` does and compares:

1. **levers** — for the products with at least ``--min-sales`` sales, the suggested levers
   (a size-level suggestion counts for its product) against ``truth/products.csv``
   ``levers``: TP, FP, FN, precision and recall per lever and over all levers;
2. **early warning** — over the weekly as-of evaluations of the whole history: for products
   truly needing a lever, how many were flagged and the median sales at their first flag; for
   the others, how many were ever flagged (false flags), at what sales, and how many are still
   flagged at the end.

Cause mixes (post-processing of a generated shop — the generator is not changed): a mix drops
some products with all their lines and returns (and their truth rows), which changes the
share of each cause in the catalogue and hence the category baselines:

``as-is``   the shop as generated;
``heavy``   60 % of the products with no planted cause are dropped: about twice the share of
            defective products, so the category baselines are inflated by them;
``fit``     75 % of the products with a photo, description, quality or packaging cause (and no
            fit cause) are dropped: a shop whose problems are mostly about size;
``page``    75 % of the products that run small or large are dropped: problems are mostly
            pages and quality.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pandas as pd

from returnrisk.demo.generator import generate_demo_shop
from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop
from returnrisk.fixes.evaluation import early_warning, lever_scores, planted, read_truth
from returnrisk.fixes.levers import LEVERS

MIXES = ("as-is", "heavy", "fit", "page")
_PAGE_CAUSES = ("improve_photos", "improve_description", "quality_review", "packaging_review")
_FIT_CAUSES = ("runs_small", "runs_large")


def apply_mix(src: Path, dst: Path, mix: str, seed: int) -> dict:
    """Copy the demo shop ``src`` to ``dst`` without the products ``mix`` drops (see module doc)."""
    rng = np.random.default_rng(seed)
    truth = read_truth(src)
    flags = planted(truth)
    if mix == "heavy":
        pool = flags.index[~flags.any(axis=1)]
        share = 0.60
    elif mix == "fit":
        pool = flags.index[flags[list(_PAGE_CAUSES)].any(axis=1) & ~flags[list(_FIT_CAUSES)].any(axis=1)]
        share = 0.75
    elif mix == "page":
        pool = flags.index[flags[list(_FIT_CAUSES)].any(axis=1)]
        share = 0.75
    else:
        raise ValueError(f"unknown mix {mix!r}: use one of {', '.join(MIXES)}")
    drop = set(rng.choice(np.asarray(pool), round(share * len(pool)), replace=False))
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "truth").mkdir(parents=True)
    products = pd.read_csv(src / "products.csv", dtype=str, keep_default_na=False)
    lines = pd.read_csv(src / "order_lines.csv", dtype=str, keep_default_na=False)
    returns = pd.read_csv(src / "returns.csv", dtype=str, keep_default_na=False)
    keep_lines = ~lines["product_id"].isin(drop)
    products[~products["product_id"].isin(drop)].to_csv(dst / "products.csv", index=False)
    lines[keep_lines].to_csv(dst / "order_lines.csv", index=False)
    returns[returns["line_id"].isin(set(lines.loc[keep_lines, "line_id"]))].to_csv(dst / "returns.csv", index=False)
    truth_products = pd.read_csv(src / "truth" / "products.csv", dtype=str, keep_default_na=False)
    truth_products[~truth_products["product_id"].isin(drop)].to_csv(dst / "truth" / "products.csv", index=False)
    truth_lines = pd.read_parquet(src / "truth" / "lines.parquet")
    truth_lines[truth_lines["line_id"].isin(set(lines.loc[keep_lines, "line_id"]))].to_parquet(
        dst / "truth" / "lines.parquet", index=False)
    manifest = json.loads((src / "truth" / "manifest.json").read_text())
    manifest.update({"mix": mix, "products_dropped": len(drop), "n_lines": int(keep_lines.sum())})
    (dst / "truth" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def train(folder: Path, store: Path, params_file: Path | None):
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    tracker = Tracker(f"sqlite:///{store}/mlflow.db")
    result = run_training(folder, params=load_params(params_file), tracker=tracker,
                          reason_filler=default_reason_filler())
    bundle, ref = tracker.load_bundle("models:/returnrisk@champion")
    return bundle, ref, result


def run_scenario(name: str, folder: Path, store: Path, args) -> dict:
    started = time.perf_counter()
    bundle, ref, result = train(folder, store, args.params)
    trained_s = time.perf_counter() - started
    started = time.perf_counter()
    shop = load_fix_shop(folder)
    report = compute_fixes(shop, bundle, FixParams(flag_threshold=args.threshold),
                           model_info={"version": ref.version})
    fixes_s = time.perf_counter() - started
    truth = read_truth(folder)
    panel = report.detection.panel
    sales = pd.Series(panel.n[:, -1], index=panel.keys)
    scores = lever_scores(report.fixes, truth, sales, min_sales=args.min_sales)
    warning = early_warning(report.detection, truth)
    size_rows = sum(1 for f in report.fixes if f["size"] is not None)
    return {"name": name, "scores": scores, "warning": warning, "products": scores.attrs["products"],
            "catalogue": len(panel.keys), "suggestions": len(report.fixes), "size_rows": size_rows,
            "savings": report.summary()["savings_per_month"], "train_s": trained_s, "fixes_s": fixes_s,
            "val_auc": result.metrics.get("val_auc")}


def _print_table(title: str, frame: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(frame.to_string(float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="order lines per demo shop")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23], help="demo shop seeds (as-is mix)")
    parser.add_argument("--mixes", nargs="+", default=list(MIXES), choices=MIXES,
                        help="cause mixes, applied to the first seed's shop")
    parser.add_argument("--min-sales", type=int, default=50, help="products scored: at least this many sales")
    parser.add_argument("--threshold", type=float, default=0.95, help="flag threshold")
    parser.add_argument("--params", type=Path, default=None, help="training parameters YAML")
    parser.add_argument("--workdir", type=Path, default=None, help="keep shops and models here")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of every figure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="returnrisk-fixes-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"fix suggestions benchmark — {args.lines:,} lines per shop, seeds {args.seeds}, mixes {args.mixes}, "
          f"products with ≥ {args.min_sales} sales, threshold {args.threshold}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores; python {platform.python_version()}")
    scenarios: list[tuple[str, Path]] = []
    for seed in args.seeds:
        folder = work / f"shop-{seed}"
        generate_demo_shop(folder, seed=seed, n_lines=args.lines)
        if "as-is" in args.mixes:
            scenarios.append((f"seed {seed}", folder))
    base = work / f"shop-{args.seeds[0]}"
    for mix in args.mixes:
        if mix == "as-is":
            continue
        folder = work / f"shop-{args.seeds[0]}-{mix}"
        manifest = apply_mix(base, folder, mix, seed=args.seeds[0])
        print(f"mix {mix}: dropped {manifest['products_dropped']} products, {manifest['n_lines']:,} lines left")
        scenarios.append((f"seed {args.seeds[0]} {mix}", folder))

    results = []
    for name, folder in scenarios:
        store = work / f"mlruns-{folder.name}"
        if store.exists():
            shutil.rmtree(store)
        store.mkdir()
        result = run_scenario(name, folder, store, args)
        results.append(result)
        _print_table(f"== {name}: levers on {result['products']} products with ≥ {args.min_sales} sales "
                     f"({result['suggestions']} suggestions, {result['size_rows']} at size level; "
                     f"train {result['train_s']:.0f} s, fixes {result['fixes_s']:.0f} s)", result["scores"])
        _print_table(f"== {name}: early warning (weekly as-of evaluations, whole catalogue of "
                     f"{result['catalogue']} products)", result["warning"])

    summary = pd.DataFrame([{
        "scenario": r["name"], "products≥min": r["products"], "precision": r["scores"].loc["all", "precision"],
        "recall": r["scores"].loc["all", "recall"],
        "min lever precision": r["scores"].loc[list(LEVERS), "precision"].min(),
        "min lever recall": r["scores"].loc[list(LEVERS), "recall"].min(),
        "defective: median sales at flag": r["warning"].loc["any", "median_sales_at_flag"],
        "defective flagged": f"{r['warning'].loc['any', 'flagged']}/{r['warning'].loc['any', 'true']}",
        "clean: false flags ever": f"{r['warning'].loc['any', 'false_flags_ever']}/{r['warning'].loc['any', 'not_true']}",
        "clean: median sales at false flag": r["warning"].loc["any", "median_sales_at_false_flag"],
        "clean: still flagged": r["warning"].loc["any", "false_flags_now"],
        "fixes s": r["fixes_s"],
    } for r in results]).set_index("scenario")
    _print_table("== summary", summary)
    pooled = sum(r["scores"][["truth", "suggested", "tp", "fp", "fn"]] for r in results)
    pooled["precision"] = pooled["tp"] / (pooled["tp"] + pooled["fp"])
    pooled["recall"] = pooled["tp"] / (pooled["tp"] + pooled["fn"])
    _print_table("== pooled over all scenarios", pooled)
    warning = sum(r["warning"][["true", "flagged", "not_true", "false_flags_ever", "false_flags_now"]]
                  for r in results)
    warning["median of scenario medians: sales at flag"] = pd.concat(
        [r["warning"]["median_sales_at_flag"] for r in results], axis=1).median(axis=1)
    _print_table("== early warning pooled over all scenarios", warning)
    if args.json:
        print(json.dumps({
            "lines": args.lines, "min_sales": args.min_sales, "threshold": args.threshold,
            "scenarios": [{"name": r["name"], "products": r["products"], "fixes_seconds": round(r["fixes_s"], 1),
                           "levers": r["scores"].reset_index().to_dict("records"),
                           "early_warning": r["warning"].reset_index().to_dict("records")} for r in results],
        }, default=float))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
