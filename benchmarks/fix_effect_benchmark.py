"""Measured fix effects against planted truth: interval coverage and placebo false positives.

For each seed: a demo shop with ``--plant-fixes`` (fixes with a known effect, as many placebos,
and shop-wide shifts of the fixable reasons), loaded as ``returnrisk fixes`` loads it (reasons
inferred from texts), then :func:`returnrisk.fixes.effect.measure_effects` on every planted fix
and placebo at the end of the history. Prints, over all seeds:

* coverage — share of planted fixes whose interval holds the true effect (target ≥ 0.90);
* placebo false positives — share of placebos whose interval excludes 0 (target ≤ 0.10);

over every fix with an interval, and over those whose interval is informative ("measured").

    .venv/bin/python benchmarks/fix_effect_benchmark.py                    # seeds 1-8, 100,000 lines
    .venv/bin/python benchmarks/fix_effect_benchmark.py --seeds 1 2 --lines 60000   # a quick look
    .venv/bin/python benchmarks/fix_effect_benchmark.py --scale 1000000    # speed on a large catalogue
    .venv/bin/python benchmarks/fix_effect_benchmark.py --without-comparison   # ablation

``--scale N`` times :func:`measure_effects` on one shop of N lines where every planted fix and
placebo plus ``--scale-fixes`` random products (random lever, random live date) are done.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import pandas as pd

from returnrisk.demo.generator import generate_demo_shop
from returnrisk.fixes import load_fix_shop
from returnrisk.fixes.effect import EffectParams, measure_effects
from returnrisk.fixes.effect_truth import read_planted_fixes, score_effects, summary


def run_seed(seed: int, lines: int, params: EffectParams) -> tuple[pd.DataFrame, float]:
    with tempfile.TemporaryDirectory(prefix=f"fix-effect-{seed}-") as folder:
        generate_demo_shop(folder, seed=seed, n_lines=lines, plant_fixes=True)
        shop = load_fix_shop(folder)
        truth = read_planted_fixes(folder)
        started = time.perf_counter()
        effects = measure_effects(shop, truth, params)
        elapsed = time.perf_counter() - started
    scored = score_effects(effects, truth)
    scored.insert(0, "seed", seed)
    return scored, elapsed


def run_scale(lines: int, extra: int, params: EffectParams) -> None:
    import numpy as np

    from returnrisk.fixes import LEVERS

    with tempfile.TemporaryDirectory(prefix="fix-effect-scale-") as folder:
        started = time.perf_counter()
        generate_demo_shop(folder, seed=1, n_lines=lines, plant_fixes=True)
        shop = load_fix_shop(folder)
        truth = read_planted_fixes(folder)
        print(f"{lines:,} lines, {len(shop.products):,} products: generated and loaded in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    rng = np.random.default_rng(0)
    others = shop.products.loc[~shop.products["product_id"].isin(truth["product_id"]), "product_id"]
    chosen = rng.choice(others.to_numpy(), min(extra, len(others)), replace=False)
    end = shop.order_lines["ordered_at"].max()
    days = rng.integers(60, 420, chosen.size)
    more = pd.DataFrame({"product_id": chosen, "size": None, "lever": rng.choice(LEVERS, chosen.size),
                         "live_at": [(end - pd.Timedelta(days=int(d))).strftime("%Y-%m-%d") for d in days]})
    fixes = pd.concat([truth[["product_id", "size", "lever", "live_at"]], more], ignore_index=True)
    started = time.perf_counter()
    effects = measure_effects(shop, fixes, params)
    elapsed = time.perf_counter() - started
    statuses = pd.Series([e.status for e in effects]).value_counts().to_dict()
    print(f"measure_effects: {len(fixes):,} done fixes in {elapsed:.1f} s "
          f"({1000 * elapsed / len(fixes):.1f} ms a fix); statuses {statuses}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("--scale", type=int, help="time one shop of this many lines instead")
    parser.add_argument("--without-comparison", action="store_true",
                        help="ablation: ignore what happened to comparable products (before/after of the product "
                             "alone), to see what the comparison is worth")
    parser.add_argument("--scale-fixes", type=int, default=1000, help="random done fixes added with --scale")
    args = parser.parse_args(argv)
    params = EffectParams()
    if args.scale:
        run_scale(args.scale, args.scale_fixes, params)
        return 0
    if args.without_comparison:
        from returnrisk.fixes import effect_stats

        effect_stats.comparison_rates = lambda kb, nb, ka, na, scale: (0.0, 0.0, 0.0, 0.0, 1.0)
        print("ablation: comparison ignored")
    started = time.perf_counter()
    frames, measuring = [], 0.0
    for seed in args.seeds:
        scored, elapsed = run_seed(seed, args.lines, params)
        frames.append(scored)
        measuring += elapsed
        part = summary(scored)
        if not args.json:
            print(f"seed {seed}: {part['planted']} planted, {part['placebo']} placebo; coverage "
                  f"{part['coverage']:.2f}, placebo false positives {part['placebo_false_positive_rate']:.2f}; "
                  f"measured in {elapsed:.2f} s", flush=True)
    scored = pd.concat(frames, ignore_index=True)
    result = summary(scored)
    result.update({"seeds": args.seeds, "lines": args.lines, "level": params.level,
                   "measure_seconds": round(measuring, 2), "total_seconds": round(time.perf_counter() - started, 1)})
    if args.json:
        print(json.dumps(result))
        return 0
    print()
    print(f"{result['planted']} planted fixes, {result['placebo']} placebos over {len(args.seeds)} seeds "
          f"({args.lines:,} lines each), {params.level:.0%} intervals")
    print(f"  coverage of the true effect (planted):     {result['coverage']:.3f}  "
          f"(measured only: {result['coverage_measured']:.3f} of {result['planted_measured']})")
    print(f"  intervals excluding 0 (placebo):           {result['placebo_false_positive_rate']:.3f}  "
          f"(measured only: {result['placebo_fp_measured']:.3f} of {result['placebo_measured']})")
    print(f"  return rate: coverage {result['coverage_return_rate']:.3f}, placebo false positives "
          f"{result['placebo_fp_return_rate']:.3f}")
    print(f"  mean absolute error (planted): {result['mean_abs_error']:.4f}")
    by = scored.groupby(["lever", "kind"]).agg(
        fixes=("fix_id", "size"), true=("true_effect", "mean"), measured=("effect", "mean"),
        covers=("covers", "mean"), excludes_zero=("excludes_zero", "mean"),
        informative=("status", lambda s: (s == "measured").mean()))
    print(by.round(3).to_string())
    print(f"measuring: {result['measure_seconds']:.1f} s in all; total {result['total_seconds']:.0f} s")
    ok = result["coverage"] >= 0.90 and result["placebo_false_positive_rate"] <= 0.10
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
