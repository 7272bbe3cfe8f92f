"""Large demo shops written as Parquet parts, one slice of time after another (bounded memory).

``returnrisk demo-data --out DIR --lines N --parts K`` writes the shop of
:mod:`returnrisk.demo.generator` (same catalogue, customers, planted causes, size systems,
seasonality, outcomes and ground truth) as::

    DIR/products.parquet
    DIR/order_lines/part-00000.parquet …    one part per slice of the two years (≈ N / K lines)
    DIR/returns/part-00000.parquet …        the returns of that part's lines
    DIR/truth/lines.parquet                  appended part by part
    DIR/truth/products.csv, customers.parquet, manifest.json

Only one slice of lines is in memory at a time, so memory is bounded by the catalogue, the
customers and one part, whatever N. Each slice draws from its own seeded random stream: the same
seed and part count give the same files. The shop is not the one ``demo-data`` writes in one
piece for the same seed (its random draws are made in another order); its distributions are.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from returnrisk.demo.catalogue import make_brands, make_products
from returnrisk.demo.customers import make_customers
from returnrisk.demo.generator import GENERATOR_VERSION, DemoConfig, _truth_products, outcome_tables, products_table
from returnrisk.demo.orders import day_weights, make_lines
from returnrisk.demo.outcomes import reason_hazards
from returnrisk.timeutil import to_utc

__all__ = ["generate_demo_parts", "slices"]


def slices(weights: np.ndarray, n_lines: int, parts: int) -> list[tuple[int, int, int]]:
    """``(first_day, end_day, lines)`` of each part: days cut where the expected volume reaches
    each ``1/parts`` of the total; line counts add up to ``n_lines``."""
    cum = np.cumsum(weights) / weights.sum()
    cuts = np.searchsorted(cum, np.arange(1, parts) / parts, side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, weights.size - 1), [weights.size]]))
    share = np.array([weights[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])]) / weights.sum()
    lines = np.floor(share * n_lines).astype(int)
    lines[np.argsort(-(share * n_lines - lines), kind="stable")[: n_lines - lines.sum()]] += 1
    return [(int(a), int(b), int(n)) for a, b, n in zip(bounds[:-1], bounds[1:], lines)]


def generate_demo_parts(out: str | Path, *, seed: int = 7, n_lines: int = 200_000, parts: int = 8) -> dict:
    """Write a demo shop as Parquet parts (see the module docstring); returns the manifest."""
    if n_lines < 1000:
        raise ValueError(f"--lines {n_lines} is too small for a meaningful shop: use at least 1000")
    if not 1 <= parts <= n_lines // 500:
        raise ValueError(f"--parts {parts}: use between 1 and {n_lines // 500} parts for {n_lines:,} lines "
                         "(at least 500 lines per part)")
    config = DemoConfig(n_lines=n_lines, seed=seed, file_format="parquet")
    out = Path(out)
    rng = np.random.default_rng(seed)
    start, days = to_utc(config.start), config.days
    naive_start = start.tz_localize(None)
    brands = make_brands(rng, config.n_brands)
    products = make_products(rng, config.n_products, brands, naive_start, days)
    customers = make_customers(rng, config.n_customers, days)

    if out.exists():
        for stale in list(out.glob("*.csv")) + list(out.glob("*.parquet")):
            stale.unlink()
        for folder in ("order_lines", "returns", "truth", ".returnrisk"):
            shutil.rmtree(out / folder, ignore_errors=True)
    for folder in ("order_lines", "returns", "truth"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    pq.write_table(products_table(products), out / "products.parquet")
    truth_writer = None
    written, orders, n_returns, p_sum = 0, 0, 0, 0.0
    for j, (first, end, n_part) in enumerate(slices(day_weights(naive_start, days), n_lines, parts)):
        part_rng = np.random.default_rng([seed, j + 1])
        lines = make_lines(part_rng, n_part, products, customers, naive_start, days, day_range=(first, end))
        hazards = reason_hazards(lines, products, customers, naive_start)
        tables = outcome_tables(part_rng, lines, products, customers, hazards, start, days, first_line=written,
                                first_order=orders)
        pq.write_table(tables.order_lines, out / "order_lines" / f"part-{j:05d}.parquet")
        pq.write_table(tables.returns, out / "returns" / f"part-{j:05d}.parquet")
        if truth_writer is None:
            truth_writer = pq.ParquetWriter(out / "truth" / "lines.parquet", tables.truth.schema)
        truth_writer.write_table(tables.truth)
        written += len(lines)
        orders += int(lines["order_index"].max()) + 1
        n_returns += tables.returns.num_rows
        p_sum += float(pc.sum(tables.truth.column("p_return")).as_py())
        del lines, hazards, tables
    truth_writer.close()
    _truth_products(products).to_csv(out / "truth" / "products.csv", index=False)
    truth_customers = customers.drop(columns=["activity", "arrival_day"])
    pq.write_table(pa.Table.from_pandas(truth_customers, preserve_index=False), out / "truth" / "customers.parquet")
    manifest = {
        "generator_version": GENERATOR_VERSION, "seed": seed, "parts": parts, "n_lines": written,
        "n_products": len(products), "n_customers": len(customers), "n_returns": n_returns,
        "start": start.isoformat(), "end": (start + pd.Timedelta(days=days)).isoformat(), "format": "parquet parts",
        "return_rate_observed": n_returns / written, "return_rate_true_mean": p_sum / written,
    }
    (out / "truth" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
