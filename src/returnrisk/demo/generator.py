"""Generate a realistic demo shop in the data contract, with its ground truth.

Usage: ``generate_demo_shop(out, seed=7, n_lines=200_000)``; see ``returnrisk demo-data``.
The shop's tables go to ``out/`` and the hidden truth (never read by the model) to
``out/truth/``:

* ``truth/lines.parquet`` — per line: true probability of a return and per reason group, the
  simulated outcome, the fit gap and the label that truly fits the customer;
* ``truth/products.csv`` — per product: planted causes and the levers they call for;
* ``truth/customers.parquet`` — per customer: true size per system, propensity, bracketing;
* ``truth/manifest.json`` — seed, period, sizes and headline rates.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from returnrisk.demo.catalogue import make_brands, make_products
from returnrisk.demo.customers import make_customers
from returnrisk.demo.orders import make_lines
from returnrisk.demo.outcomes import draw_returns, reason_hazards, refund_delays, return_delays
from returnrisk.demo.phrases import build_pool
from returnrisk.demo.plant_fixes import plant_fixes as plant_known_fixes
from returnrisk.sizes import size_label_for
from returnrisk.taxonomy import REASON_CODES, RETURN_GROUPS, group_of
from returnrisk.timeutil import DAY, to_utc

__all__ = ["DemoConfig", "generate_demo_shop", "DEMO_START", "DEMO_DAYS"]

log = logging.getLogger(__name__)

DEMO_START = pd.Timestamp("2024-10-01", tz="UTC")
DEMO_DAYS = 730
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class DemoConfig:
    n_lines: int = 200_000
    seed: int = 7
    start: pd.Timestamp = DEMO_START
    days: int = DEMO_DAYS
    file_format: str = "csv"

    @property
    def n_products(self) -> int:
        return int(np.clip(self.n_lines / 200, 150, 25_000))

    @property
    def n_customers(self) -> int:
        return max(200, int(self.n_lines / 6))

    @property
    def n_brands(self) -> int:
        return int(np.clip(self.n_products / 40, 8, 60))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.cast(pa.array(numbers), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(text, width=width, padding="0"), "")


def _size_labels(system: np.ndarray, ordinal: np.ndarray) -> pa.Array:
    key = pd.DataFrame({"s": system, "o": ordinal})
    codes, uniques = pd.MultiIndex.from_frame(key).factorize()
    labels = np.array([size_label_for(s, o) if s != "unsized" else None for s, o in uniques], dtype=object)
    return pa.array(labels[codes], type=pa.string())


def _timestamps(start: pd.Timestamp, seconds: np.ndarray) -> pa.Array:
    base = int(start.timestamp())
    values = (base + np.asarray(seconds)).astype("int64")
    return pa.array(values, type=pa.int64()).cast(pa.timestamp("s", tz="UTC"))


def _write(table: pa.Table, path_stem: Path, file_format: str) -> Path:
    path = path_stem.with_suffix(f".{file_format}")
    if file_format == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


def _recorded_reasons(rng: np.random.Generator, true_code: np.ndarray):
    """Reason code and text as a shop records them: codes on part, text on part, both, neither."""
    n = true_code.size
    mode = rng.choice(4, n, p=[0.50, 0.17, 0.25, 0.08])  # code only, both, text only, neither
    code = true_code.astype(object).copy()
    code[rng.random(n) < 0.03] = "other"
    code[(mode == 2) | (mode == 3)] = None
    texts, pool_codes, pool_langs = build_pool(rng)
    lang = np.where(rng.random(n) < 0.55, "fr", "en")
    pool_key = pd.Series(np.arange(len(texts))).groupby([pool_codes, pool_langs]).apply(np.asarray)
    text = np.empty(n, dtype=object)
    for (reason, language), indexes in pool_key.items():
        mask = (true_code == reason) & (lang == language)
        text[mask] = texts[rng.choice(indexes, mask.sum())]
    text[(mode == 0) | (mode == 3)] = None
    return code, text


def generate_demo_shop(out: str | Path, *, seed: int = 7, n_lines: int = 200_000,
                       file_format: str = "csv", overwrite: bool = True, plant_fixes: bool = False,
                       plant_drift: bool = False) -> dict:
    """Write a demo shop to ``out`` (see module docstring); returns the manifest.

    Two opt-in hooks, each leaving the default shop unchanged when off: ``plant_fixes`` plants
    fixes with known effects (:mod:`returnrisk.demo.plant_fixes`), ``plant_drift`` a product line
    whose return rate changes late in the data (:mod:`returnrisk.demo.plant_drift`).
    """
    if n_lines < 1000:
        raise ValueError(f"--lines {n_lines} is too small for a meaningful shop: use at least 1000")
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"unknown format {file_format!r}: use csv or parquet")
    config = DemoConfig(n_lines=n_lines, seed=seed, file_format=file_format)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty: choose another --out or remove it")
    rng = np.random.default_rng(seed)
    start, days = to_utc(config.start), config.days
    naive_start = start.tz_localize(None)

    brands = make_brands(rng, config.n_brands)
    products = make_products(rng, config.n_products, brands, naive_start, days)
    customers = make_customers(rng, config.n_customers, days)
    lines = make_lines(rng, n_lines, products, customers, naive_start, days)
    log.info("demo: %d products, %d customers, %d lines", len(products), len(customers), len(lines))

    hazards = reason_hazards(lines, products, customers, naive_start)
    planted = None
    if plant_fixes:   # fixes with known effects (demo/plant_fixes.py); off: nothing changes
        planted = plant_known_fixes(seed, lines, products, customers, hazards, naive_start, days)
        lines, products, hazards = planted.lines, planted.products, planted.hazards
    drift = None
    if plant_drift:   # a late change of one category's return rate (demo/plant_drift.py); off: nothing changes
        from returnrisk.demo.plant_drift import plant_drift as add_drift

        hazards, drift = add_drift(hazards, lines, products, naive_start, days)
    tables = outcome_tables(rng, lines, products, customers, hazards, start, days)
    product_table = products_table(products)
    if out.exists():
        for stale in list(out.glob("*.csv")) + list(out.glob("*.parquet")):
            stale.unlink()
        shutil.rmtree(out / "truth", ignore_errors=True)
        shutil.rmtree(out / ".returnrisk", ignore_errors=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    _write(product_table, out / "products", file_format)
    _write(tables.order_lines, out / "order_lines", file_format)
    _write(tables.returns, out / "returns", file_format)

    # ---- ground truth ------------------------------------------------------------------------
    pq.write_table(tables.truth, out / "truth" / "lines.parquet")
    _truth_products(products).to_csv(out / "truth" / "products.csv", index=False)
    truth_customers = customers.drop(columns=["activity", "arrival_day"])
    pq.write_table(pa.Table.from_pandas(truth_customers, preserve_index=False), out / "truth" / "customers.parquet")

    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_lines": len(lines),
        "n_products": len(products),
        "n_customers": len(customers),
        "n_returns": int(tables.observed.sum()),
        "start": start.isoformat(),
        "end": (start + pd.Timedelta(days=days)).isoformat(),
        "format": file_format,
        "return_rate_observed": float(tables.observed.mean()),
        "return_rate_true_mean": float(tables.p_return.mean()),
    }
    if drift is not None:
        manifest["planted_drift"] = drift
        (out / "truth" / "drift.json").write_text(json.dumps(drift, indent=2))
    (out / "truth" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if planted is not None:
        planted.write(out / "truth")
    return manifest


@dataclass
class OutcomeTables:
    """A batch of lines as the shop's files hold them, with their hidden truth."""

    order_lines: pa.Table
    returns: pa.Table
    truth: pa.Table
    observed: np.ndarray    # returned within the period
    p_return: np.ndarray    # true probability of a return


def outcome_tables(rng: np.random.Generator, lines: pd.DataFrame, products: pd.DataFrame, customers: pd.DataFrame,
                   hazards: np.ndarray, start: pd.Timestamp, days: int, *, first_line: int = 0,
                   first_order: int = 0) -> OutcomeTables:
    """Draw the outcomes of ``lines`` and write them as the contract's tables and the truth.

    Line and order ids are numbered from ``first_line + 1`` / ``first_order + 1`` (the streamed
    generator of :mod:`returnrisk.demo.parts` numbers its batches one after another). The random
    draws are made in one fixed order: the same ``rng`` state gives the same tables.
    """
    naive_start = start.tz_localize(None)
    p_return, would_return, reason_idx = draw_returns(rng, hazards)
    reason_codes = np.array(REASON_CODES, dtype=object)
    late = reason_idx == REASON_CODES.index("late_delivery")
    delay_s = (return_delays(rng, len(lines), late) * DAY).astype(np.int64)
    end_s = days * DAY
    returned_s = lines["seconds"].to_numpy() + delay_s
    observed = would_return & (returned_s < end_s)

    # ---- order lines -------------------------------------------------------------------------
    n = len(lines)
    line_ids = _ids("L", np.arange(first_line + 1, first_line + n + 1), 8)
    order_ids = _ids("O", lines["order_index"].to_numpy() + first_order + 1, 8)
    customer_ids = pa.array(customers["customer_id"].to_numpy()[lines["customer_index"].to_numpy()], type=pa.string())
    product_ids = pa.array(products["product_id"].to_numpy()[lines["product_index"].to_numpy()], type=pa.string())
    sizes = _size_labels(lines["size_system"].to_numpy(), lines["size_ordinal"].to_numpy())
    order_lines = pa.table({
        "line_id": line_ids,
        "order_id": order_ids,
        "customer_id": customer_ids,
        "product_id": product_ids,
        "size": sizes,
        "quantity": pa.array(lines["quantity"].to_numpy()),
        "unit_price": pa.array(lines["unit_price"].to_numpy()),
        "ordered_at": _timestamps(start, lines["seconds"].to_numpy()),
    })

    # ---- returns -------------------------------------------------------------------------------
    ridx = np.flatnonzero(observed)
    true_code = reason_codes[reason_idx[ridx]]
    returned_at = returned_s[ridx]
    returned_month = (naive_start + pd.to_timedelta(returned_at, unit="s")).month.to_numpy()
    refunded_s = returned_at + (refund_delays(rng, returned_month) * DAY).astype(np.int64)
    refunded = np.where(refunded_s < end_s, refunded_s, -1)
    code, text = _recorded_reasons(rng, true_code)
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

    # ---- ground truth ------------------------------------------------------------------------
    share = hazards / hazards.sum(axis=1, keepdims=True)
    group_of_code = np.array([RETURN_GROUPS.index(group_of(c)) for c in REASON_CODES])
    truth_lines = {
        "line_id": line_ids,
        "p_return": pa.array(p_return.astype(np.float32)),
    }
    for g, group in enumerate(RETURN_GROUPS):
        truth_lines[f"p_{group}"] = pa.array((p_return * share[:, group_of_code == g].sum(axis=1)).astype(np.float32))
    fitting = np.where(
        lines["size_system"].to_numpy() == "unsized", np.nan,
        lines["size_ordinal"].to_numpy() - lines["fit_gap"].to_numpy(),
    )
    truth_lines.update({
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
    return OutcomeTables(order_lines, returns, pa.table(truth_lines), observed, p_return)


def products_table(products: pd.DataFrame) -> pa.Table:
    """The catalogue as the shop's ``products`` file holds it."""
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


def _truth_products(products: pd.DataFrame) -> pd.DataFrame:
    sized = products["size_system"] != "unsized"
    truth = pd.DataFrame({
        "product_id": products["product_id"],
        "category": products["category"],
        "brand": products["brand"],
        "size_system": products["size_system"],
        "fit_offset": products["fit_offset"].round(3),
        "runs_small": sized & (products["fit_offset"] >= 0.5),
        "runs_large": sized & (products["fit_offset"] <= -0.5),
        "no_size_guide": sized & ~products["has_size_guide"].astype(bool),
        "misleading_photos": products["misleading_photos"],
        "poor_description": products["poor_description"],
        "quality_issue": products["quality_issue"],
        "packaging_issue": products["packaging_issue"],
    })
    levers = {
        "runs_small": "runs_small", "runs_large": "runs_large", "no_size_guide": "add_size_guide",
        "misleading_photos": "improve_photos", "poor_description": "improve_description",
        "quality_issue": "quality_review", "packaging_issue": "packaging_review",
    }
    truth["levers"] = [
        ";".join(lever for cause, lever in levers.items() if row[cause])
        for row in truth[list(levers)].to_dict("records")
    ]
    return truth
