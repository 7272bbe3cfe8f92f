"""Time the importers' non-merchandise decision (``importers.merchandise.non_merchandise``, i.e.
``data.merchandise.non_merchandise_lines``) on generated order lines.

    nice -n 15 .venv/bin/python benchmarks/merchandise_lines_benchmark.py --lines 1000000

Lines: a quarter shipping lines, 1 % gift cards, 1 % not shipped, items of 2,000 products.
Prints the best of three wall times and the reasons found.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from returnrisk.importers.merchandise import non_merchandise


def lines(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    kind = np.where(rng.random(n) < 0.25, "shipping", "item")
    product = rng.integers(0, 2000, n).astype(str)
    return pd.DataFrame({
        "kind": pd.Series(kind, dtype="string"),
        "gift_card": pd.Series(rng.random(n) < 0.01, dtype="boolean"),
        "shipped": pd.Series(rng.random(n) > 0.01, dtype="boolean"),
        "product_id": pd.Series(np.where(kind == "item", product, None), dtype="string"),
        "title": pd.Series(np.where(kind == "item", np.char.add("Product ", product), "Colissimo"), dtype="string"),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    frame = lines(parser.parse_args().lines)
    best, found = float("inf"), None
    for _ in range(3):
        started = time.perf_counter()
        found = non_merchandise(frame)
        best = min(best, time.perf_counter() - started)
    print(f"{len(frame):,} lines: {best:.2f} s (best of 3); reasons {found.value_counts().to_dict()}")


if __name__ == "__main__":
    main()
