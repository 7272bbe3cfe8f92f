"""Size advice on the demo shop: is the recommended size the one that truly fits?

    .venv/bin/python benchmarks/size_advice_demo.py [--lines 200000] [--seed 7] [--cutoff 2026-07-01]

Generates a demo shop, trains a model as of the cut-off (so the advice never sees the future),
then for (customer, product) pairs ordered in the 60 days after it — customers with a known size
profile — compares the recommended size with the size that truly fits (ground truth: the
customer's latent size plus the product's planted offset), against the naive advice "take your
usual size" (the size they ordered most often before), overall and for products that run small
or large.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cutoff", default="2026-07-01")
    parser.add_argument("--pairs", type=int, default=3000)
    args = parser.parse_args()

    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.scoring import ExplainedScorer
    from returnrisk.scoring.size_evaluation import evaluate_size_advice
    from returnrisk.tracking import Tracker

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="rr-size-bench-") as tmp:
        demo = Path(tmp) / "shop"
        generate_demo_shop(demo, seed=args.seed, n_lines=args.lines)
        cutoff = pd.Timestamp(args.cutoff, tz="UTC")
        tracker = Tracker(f"sqlite:///{tmp}/mlflow.db")
        result = run_training(demo, params=load_params(), tracker=tracker, as_of=cutoff,
                              reason_filler=default_reason_filler())
        bundle, ref = tracker.load_bundle("models:/returnrisk@champion")
        evaluation = evaluate_size_advice(ExplainedScorer(bundle, ref.version), demo, start=cutoff,
                                          max_pairs=args.pairs)
    print(f"demo shop: {args.lines:,} lines, seed {args.seed}; model trained as of {cutoff:%Y-%m-%d} "
          f"(val AUC {result.metrics['val_auc']:.3f}); pairs ordered in the next 60 days by known customers")
    print(evaluation.summary.to_string(float_format=lambda v: f"{v:.1%}"))


if __name__ == "__main__":
    main()
