"""The shop's history indexed for effect measurement (:mod:`returnrisk.fixes.effect`).

One :class:`~returnrisk.features.asof.AsOfCounter` over the *matured* lines (ordered at least
``window_days`` before the as-of date), keyed by product (and one by product × size when a fix
is about a size), summing per line: 1 (a sale), whether it was returned (a return registered
before the as-of date), and whether it was returned for each measured lever's reasons. The sales
and returns of any products between any order dates are then binary searches, for many products
and periods at once (:meth:`EffectInputs.windows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import first_seen, positions
from returnrisk.data.loader import Shop
from returnrisk.features.asof import AsOfCounter
from returnrisk.fixes.levers import LEVER_REASONS
from returnrisk.taxonomy import NO_REASON
from returnrisk.timeutil import DAY, epoch_seconds

__all__ = ["EffectInputs", "prepare_inputs"]

MONTH_DAYS = 30.4375
_CHUNK = 100_000   # (product, period) windows queried at once: bounds the memory of a query


@dataclass
class EffectInputs:
    """Counters and lookups shared by every fix measured on one shop."""

    product_ids: pd.Index              # product code -> id (the catalogue's order)
    categories: np.ndarray             # product code -> category
    fixed: np.ndarray                  # product code -> left out of comparisons (it has a done fix)
    product_counter: AsOfCounter       # values: sale, returned, returned for each lever's reasons
    size_counter: AsOfCounter | None   # the same keyed by product code × len(size_labels) + size code
    size_labels: pd.Index
    lever_column: dict[str, int]
    known_share: float                 # share of returns with a reason (given or inferred)
    mature_end: int                    # seconds: lines ordered before are matured
    as_of: int
    line_seconds: np.ndarray           # lines before as_of, grouped by product (see ``bounds``)
    line_size: np.ndarray              # size code (-1: none)
    line_value: np.ndarray             # unit price (else list price) × quantity
    bounds: np.ndarray                 # product code -> its lines: bounds[code]:bounds[code + 1]
    product_cost: np.ndarray           # product code -> mean known return cost (nan: none)
    category_cost: dict[str, float]
    shop_cost: float

    def keys_of(self, product_ids: pd.Series, sizes: pd.Series) -> np.ndarray:
        """Each fix's key in its counter (``-1``: the product, or the size, has no sale)."""
        product = positions(product_ids, self.product_ids)
        size = positions(sizes, self.size_labels) if len(self.size_labels) else np.full(len(sizes), -1)
        sized = sizes.notna().to_numpy()
        return np.where(sized, np.where((product >= 0) & (size >= 0), product * len(self.size_labels) + size, -1),
                        product).astype(np.int64)

    def windows(self, counter: AsOfCounter, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of each key's lines ordered in ``[times[:, 0], times[:, 1])`` and ``[times[:, 1],
        times[:, 2])``: two ``(len(keys), values)`` arrays."""
        before, after = [], []
        for start in range(0, len(keys), _CHUNK):
            k, t = keys[start:start + _CHUNK], times[start:start + _CHUNK]
            cum = counter.query(np.repeat(k, 3), t.ravel()).reshape(len(k), 3, -1)
            before.append(cum[:, 1] - cum[:, 0])
            after.append(cum[:, 2] - cum[:, 1])
        width = 2 + len(self.lever_column)
        if not before:
            return np.zeros((0, width)), np.zeros((0, width))
        return np.concatenate(before), np.concatenate(after)

    def candidates(self, code: int, scope: str) -> np.ndarray:
        """Products that may serve as comparison: not fixed, in the same category (or the shop)."""
        if scope == "category":
            return np.flatnonzero((self.categories == self.categories[code]) & ~self.fixed)
        return np.flatnonzero(~self.fixed)

    def money(self, code: int, size: str | None, t0: int, recent_days: int, params) -> tuple[float, float]:
        """``(current sales per month, value of one return)`` of a fixed product (or size).

        Current sales: its lines of the last ``recent_days`` before the as-of date (since the
        live date when more recent), per month — the suggestions' "current sales". Value: the
        mean known return cost (the product's, else its category's, else the shop's, else the
        setting) plus the lost margin on the mean line value.
        """
        rows = slice(self.bounds[code], self.bounds[code + 1])
        since = max(t0, self.as_of - int(recent_days * DAY))
        mine = self.line_seconds[rows] >= since
        if size is not None:
            label = self.size_labels.get_indexer([size])[0]
            mine &= self.line_size[rows] == label
        months = max(self.as_of - since, DAY) / DAY / MONTH_DAYS
        values = self.line_value[rows][mine] if mine.any() else self.line_value[rows]
        value = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        cost = self.product_cost[code]
        if not np.isfinite(cost):
            cost = self.category_cost.get(str(self.categories[code]), self.shop_cost)
        if not np.isfinite(cost):
            cost = params.return_cost_per_unit
        loss = params.margin_loss_rate * value if np.isfinite(value) else 0.0
        return int(mine.sum()) / months, float(cost) + loss


def prepare_inputs(shop: Shop, fixes: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> EffectInputs:
    """Index ``shop`` for the levers and sizes of ``fixes`` (normalised by :mod:`effect`)."""
    as_of_s = int(as_of.timestamp())
    mature_end = as_of_s - int(window_days * DAY)
    catalogue = shop.products.drop_duplicates("product_id")
    product_ids = pd.Index(catalogue["product_id"].astype(str).to_numpy(dtype=object))
    categories = catalogue["category"].astype(str).to_numpy(dtype=object)
    fixed = np.zeros(len(product_ids), dtype=bool)
    fixed_codes = positions(fixes["product_id"], product_ids)
    fixed[fixed_codes[fixed_codes >= 0]] = True

    lines = shop.order_lines
    seconds = epoch_seconds(lines["ordered_at"], whole=True)
    product = positions(lines["product_id"], product_ids)
    keep = np.flatnonzero((seconds < as_of_s) & (product >= 0))
    seconds, product = seconds[keep], product[keep]
    line_ids = lines["line_id"].iloc[keep]

    returns = shop.returns
    registered = np.flatnonzero(epoch_seconds(returns["returned_at"], whole=True) < as_of_s)
    position = positions(returns["line_id"].iloc[registered], line_ids)
    found = position >= 0
    position, first = np.unique(position[found], return_index=True)   # one return per line
    code = returns["reason_code"].iloc[registered[found][first]].astype(object)

    levers = [lever for lever in LEVER_REASONS if lever in set(fixes["lever"])]
    values = np.zeros((keep.size, 2 + len(levers)))
    values[:, 0] = 1.0
    values[position, 1] = 1.0
    for j, lever in enumerate(levers):
        values[position, 2 + j] = code.where(code.notna(), NO_REASON).isin(LEVER_REASONS[lever]).to_numpy()
    matured = seconds < mature_end
    on_matured = matured[position]
    known_share = float(code.notna().to_numpy()[on_matured].mean()) if on_matured.any() else 0.0
    product_counter = AsOfCounter(product[matured], seconds[matured], values[matured])

    sizes = lines["size"].iloc[keep]
    size_labels = first_seen(sizes, dropna=True) if fixes["size"].notna().any() else pd.Index([], dtype=object)
    size_code = positions(sizes, size_labels) if len(size_labels) else np.full(keep.size, -1)
    size_counter = None
    if len(size_labels):
        sized = matured & (size_code >= 0)
        size_counter = AsOfCounter(product[sized] * len(size_labels) + size_code[sized], seconds[sized],
                                   values[sized])

    price = pd.to_numeric(catalogue["price"], errors="coerce").to_numpy(dtype=float)[product]
    unit = pd.to_numeric(lines["unit_price"].iloc[keep], errors="coerce").to_numpy(dtype=float)
    quantity = pd.to_numeric(lines["quantity"].iloc[keep], errors="coerce").fillna(1.0).to_numpy(dtype=float)
    value = np.where(np.isfinite(unit), unit, price) * quantity
    order = np.lexsort((seconds, product))
    bounds = np.searchsorted(product[order], np.arange(len(product_ids) + 1))

    costs = pd.Series(np.nan, index=registered[found][first])
    if "return_cost" in returns.columns:
        costs = pd.to_numeric(returns["return_cost"].iloc[registered[found][first]], errors="coerce")
    cost_frame = pd.DataFrame({"product": product[position], "cost": costs.to_numpy(dtype=float)}).dropna()
    cost_frame["category"] = categories[cost_frame["product"].to_numpy()]
    product_cost = np.full(len(product_ids), np.nan)
    by_product = cost_frame.groupby("product")["cost"].mean()
    product_cost[by_product.index.to_numpy()] = by_product.to_numpy()
    return EffectInputs(
        product_ids=product_ids, categories=categories, fixed=fixed, product_counter=product_counter,
        size_counter=size_counter, size_labels=size_labels,
        lever_column={lever: 2 + j for j, lever in enumerate(levers)}, known_share=known_share,
        mature_end=mature_end, as_of=as_of_s, line_seconds=seconds[order], line_size=size_code[order],
        line_value=value[order], bounds=bounds, product_cost=product_cost,
        category_cost=cost_frame.groupby("category")["cost"].mean().to_dict(),
        shop_cost=float(cost_frame["cost"].mean()) if len(cost_frame) else float("nan"),
    )
