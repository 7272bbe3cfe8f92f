"""CPU cost of one storefront answer, in-process (no HTTP): what issue 15's speed targets rest on.

    .venv/bin/python benchmarks/storefront_scoring_benchmark.py --tracking-uri sqlite:///mlruns/mlflow.db [--calls 2000]

Per call, in microseconds of this process's CPU time (``time.process_time``: far less disturbed by
other processes than wall time on a shared machine), median of 5 repeats:
  known-customer risk without / with explanation (``ExplainedScorer.for_customer``),
  known-customer size advice (every size of the product, ``size_advice``),
  a 20-line basket without / with explanations (``score_lines``),
  and, for comparison, LightGBM's own ``Booster.predict`` of one row (``num_threads=1``) on both boosters.
The HTTP figures (throughput, p99) come from benchmarks/serving_benchmark.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np


def per_call_us(fn, calls: int, repeats: int = 5) -> float:
    runs = []
    for _ in range(repeats):
        start = time.process_time()
        for i in range(calls):
            fn(i)
        runs.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    from returnrisk.scoring import ExplainedScorer
    from returnrisk.scoring.basket import BasketLine
    from returnrisk.scoring.size_advice import size_advice
    from returnrisk.tracking import Tracker

    bundle, ref = Tracker(args.tracking_uri).load_bundle("models:/returnrisk@champion")
    scorer = ExplainedScorer(bundle, ref.version)
    rng = random.Random(0)
    pairs = [(p, s) for (p, s) in scorer.pairs.index if s]
    rng.shuffle(pairs)
    pairs = pairs[:500]
    customers = list(dict.fromkeys(bundle.snapshot.profiles.index.str.split("\x1f").str[0]))[:2000]
    products = list(dict.fromkeys(p for p, _ in pairs))
    basket = [BasketLine(product_id=p, size=s, customer_id=customers[i], order_id="bench", line_id=str(i))
              for i, (p, s) in enumerate(pairs[:20])]
    n = args.calls

    def customer(i):
        p, s = pairs[i % len(pairs)]
        return customers[i % len(customers)], p, s

    figures = {
        "known-customer risk, no explanation": per_call_us(
            lambda i: scorer.for_customer(customer(i)[1], customer(i)[2], customer(i)[0], "en"), n),
        "known-customer risk, explain=true": per_call_us(
            lambda i: scorer.for_customer(customer(i)[1], customer(i)[2], customer(i)[0], "en", explain=True), n // 4),
        "known-customer size advice": per_call_us(
            lambda i: size_advice(scorer, products[i % len(products)], customers[i % len(customers)], "en"), n // 2),
        "20-line basket, no explanation": per_call_us(lambda i: scorer.score_lines(basket, "en"), max(n // 20, 20)),
        "20-line basket, explain=true": per_call_us(lambda i: scorer.score_lines(basket, "en", explain=True),
                                                    max(n // 100, 10)),
    }
    X = scorer.pairs.X[:1].astype(np.float64)
    figures["LightGBM Booster.predict, one row, both boosters"] = per_call_us(
        lambda i: (bundle.model.return_booster.predict(X, num_threads=1),
                   bundle.model.reason_booster.predict(X, num_threads=1)), n // 2)
    print(f"model version {ref.version}: {len(scorer.pairs.index)} (product, size) pairs, {len(customers)} customers")
    for name, us in figures.items():
        print(f"{name:<52} {us:>10.0f} µs CPU per call")
    print(f"{'20-line basket, explain=true, per line':<52} {figures['20-line basket, explain=true'] / 20:>10.0f} µs")


if __name__ == "__main__":
    main()
