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
from returnrisk.demo.generator import (
    GENERATOR_VERSION,
    DemoConfig,
    _ids,
    _recorded_reasons,
    _size_labels,
    _timestamps,
    _truth_products,
)
from returnrisk.demo.orders import day_weights, make_lines
from returnrisk.demo.outcomes import draw_returns, reason_hazards, refund_delays, return_delays
from returnrisk.taxonomy import REASON_CODES, RETURN_GROUPS, group_of
from returnrisk.timeutil import DAY, to_utc

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

    pq.write_table(_product_table(products), out / "products.parquet")
    truth_writer = None
    written, orders, n_returns, p_sum = 0, 0, 0, 0.0
    for j, (first, end, n_part) in enumerate(slices(day_weights(naive_start, days), n_lines, parts)):
        part_rng = np.random.default_rng([seed, j + 1])
        lines = make_lines(part_rng, n_part, products, customers, naive_start, days, day_range=(first, end))
        order_lines, returns, truth = _part_tables(part_rng, lines, products, customers, start, days, written, orders)
        pq.write_table(order_lines, out / "order_lines" / f"part-{j:05d}.parquet")
        pq.write_table(returns, out / "returns" / f"part-{j:05d}.parquet")
        if truth_writer is None:
            truth_writer = pq.ParquetWriter(out / "truth" / "lines.parquet", truth.schema)
        truth_writer.write_table(truth)
        written += len(lines)
        orders += int(lines["order_index"].max()) + 1
        n_returns += returns.num_rows
        p_sum += float(pc.sum(truth.column("p_return")).as_py())
        del lines, order_lines, returns, truth
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


def _product_table(products: pd.DataFrame) -> pa.Table:
    return pa.table({
        "product_id": pa.array(products["product_id"], type=pa.string()),
        "category": pa.array(products["category"], type=pa.string()),
        "brand": pa.array(products["brand"], type=pa.string()),
        "price": pa.array(products["price"].to_numpy()),
        "has_size_guide": pa.array(products["has_size_guide"].to_numpy(dtype=bool)),
        "n_photos": pa.array(products["n_photos"].to_numpy(dtype=np.int64)),
        "description": pa.array(products["description"], type=pa.string()),
        "created_at": pa.array(products["created_at"]).cast(pa.timestamp("s")).cast(pa.timestamp("s", tz="UTC")),
    })


def _part_tables(rng, lines, products, customers, start, days, first_line: int, first_order: int):
    """One part's order lines, returns and ground truth (as :func:`generate_demo_shop` builds them)."""
    naive_start = start.tz_localize(None)
    hazards = reason_hazards(lines, products, customers, naive_start)
    p_return, would_return, reason_idx = draw_returns(rng, hazards)
    reason_codes = np.array(REASON_CODES, dtype=object)
    late = reason_idx == REASON_CODES.index("late_delivery")
    delay_s = (return_delays(rng, len(lines), late) * DAY).astype(np.int64)
    end_s = days * DAY
    returned_s = lines["seconds"].to_numpy() + delay_s
    observed = would_return & (returned_s < end_s)
    n = len(lines)
    line_ids = _ids("L", np.arange(first_line + 1, first_line + n + 1), 8)
    order_lines = pa.table({
        "line_id": line_ids,
        "order_id": _ids("O", lines["order_index"].to_numpy() + first_order + 1, 8),
        "customer_id": pa.array(customers["customer_id"].to_numpy()[lines["customer_index"].to_numpy()], type=pa.string()),
        "product_id": pa.array(products["product_id"].to_numpy()[lines["product_index"].to_numpy()], type=pa.string()),
        "size": _size_labels(lines["size_system"].to_numpy(), lines["size_ordinal"].to_numpy()),
        "quantity": pa.array(lines["quantity"].to_numpy()),
        "unit_price": pa.array(lines["unit_price"].to_numpy()),
        "ordered_at": _timestamps(start, lines["seconds"].to_numpy()),
    })
    ridx = np.flatnonzero(observed)
    returned_at = returned_s[ridx]
    returned_month = (naive_start + pd.to_timedelta(returned_at, unit="s")).month.to_numpy()
    refunded_s = returned_at + (refund_delays(rng, returned_month) * DAY).astype(np.int64)
    refunded = np.where(refunded_s < end_s, refunded_s, -1)
    code, text = _recorded_reasons(rng, reason_codes[reason_idx[ridx]])
    category = products["category"].to_numpy()[lines["product_index"].to_numpy()[ridx]]
    handling = np.where(np.isin(category, ["shoes", "bags"]), 3.8, 2.6)
    cost = np.round(4.9 + handling + rng.gamma(2.0, 0.6, ridx.size), 2)
    cost_known = rng.random(ridx.size) < 0.85
    refund_ts = _timestamps(start, np.maximum(refunded, 0))
    refund_ts = pc.if_else(pa.array(refunded >= 0), refund_ts, pa.scalar(None, refund_ts.type))
    returns = pa.table({
        "line_id": line_ids.take(pa.array(ridx)),
        "returned_at": _timestamps(start, returned_at),
        "reason_code": pa.array(code, type=pa.string()),
        "reason_text": pa.array(text, type=pa.string()),
        "refunded_at": refund_ts,
        "return_cost": pa.array(np.where(cost_known, cost, np.nan), from_pandas=True),
    })
    share = hazards / hazards.sum(axis=1, keepdims=True)
    group_of_code = np.array([RETURN_GROUPS.index(group_of(c)) for c in REASON_CODES])
    truth = {"line_id": line_ids, "p_return": pa.array(p_return.astype(np.float32))}
    for g, group in enumerate(RETURN_GROUPS):
        truth[f"p_{group}"] = pa.array((p_return * share[:, group_of_code == g].sum(axis=1)).astype(np.float32))
    fitting = np.where(lines["size_system"].to_numpy() == "unsized", np.nan,
                       lines["size_ordinal"].to_numpy() - lines["fit_gap"].to_numpy())
    truth.update({
        "would_return": pa.array(would_return),
        "returned": pa.array(observed),
        "true_reason": pa.array(np.where(would_return, reason_codes[reason_idx], None), type=pa.string()),
        "size_system": pa.array(lines["size_system"].to_numpy(), type=pa.string()),
        "size_ordinal": pa.array(lines["size_ordinal"].to_numpy()),
        "fit_gap": pa.array(lines["fit_gap"].to_numpy().astype(np.float32)),
        "fitting_ordinal": pa.array(fitting.astype(np.float32)),
        "bracketed": pa.array(lines["bracketed"].to_numpy()),
        "read_size_guide": pa.array(lines["reads_guide"].to_numpy()),
        "discount": pa.array(lines["discount"].to_numpy().astype(np.float32)),
    })
    return order_lines, returns, pa.table(truth)
