"""The shop's history indexed for effect measurement (:mod:`returnrisk.fixes.effect`).

One :class:`~returnrisk.features.asof.AsOfCounter` over the *matured* lines (ordered at least
``window_days`` before the as-of date), keyed by product (and one by product × size when a fix
is about a size), summing per line: 1 (a sale), whether it was returned (a return registered
before the as-of date), and whether it was returned for each measured lever's reasons. The sales
and returns of any product between two order dates are then two binary searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.features.asof import AsOfCounter
from returnrisk.features.history import to_seconds
from returnrisk.fixes.levers import LEVER_REASONS

__all__ = ["EffectInputs", "prepare_inputs"]

DAY = 86_400
MONTH_DAYS = 30.4375


@dataclass
class EffectInputs:
    """Counters and lookups shared by every fix measured on one shop."""

    product_ids: np.ndarray            # product code -> id
    categories: np.ndarray             # product code -> category
    fixed: np.ndarray                  # product code -> left out of comparisons
    product_counter: AsOfCounter       # values: sale, returned, returned for each lever's reasons
    size_counter: AsOfCounter | None
    size_labels: pd.Index
    lever_column: dict[str, int]
    known_share: float                 # share of returns with a reason (given or inferred)
    mature_end: int                    # seconds: lines ordered before are matured
    as_of: int
    lines: pd.DataFrame                # product code, size, seconds, value (lines before as_of, by product)
    bounds: np.ndarray                 # product code -> its rows in ``lines``: bounds[code]:bounds[code + 1]
    cost_of: dict[str, float]          # product id -> mean known return cost
    category_cost: dict[str, float]
    shop_cost: float

    def key_of(self, product_id: str, size: str | None) -> int:
        """The fix's key in its counter (-1: the product, or size, has no sale)."""
        code = int(np.searchsorted(self.product_ids, product_id))
        if code >= self.product_ids.size or self.product_ids[code] != product_id:
            return -1
        if size is None:
            return code
        label = self.size_labels.get_indexer([size])[0]
        return -1 if label < 0 else code * len(self.size_labels) + int(label)

    def category_candidates(self, product_id: str) -> np.ndarray:
        code = int(np.searchsorted(self.product_ids, product_id))
        return np.flatnonzero((self.categories == self.categories[code]) & ~self.fixed)

    def shop_candidates(self) -> np.ndarray:
        return np.flatnonzero(~self.fixed)

    def money(self, product_id: str, size: str | None, t0: int, params) -> tuple[float, float]:
        """``(current sales per month, value of one return)`` of the fix's product (or size).

        Current sales: the lines of the last ``params.recent_days`` before the as-of date (since
        the live date when it is more recent), per month — the suggestions' "current sales".
        """
        code = int(np.searchsorted(self.product_ids, product_id))
        everything = self.lines.iloc[self.bounds[code]:self.bounds[code + 1]]
        t0 = max(t0, self.as_of - int(params.recent_days * DAY))
        mine = everything[everything["seconds"].to_numpy() >= t0]
        if size is not None:
            mine = mine[mine["size"].to_numpy() == size]
        months = max(self.as_of - t0, DAY) / DAY / MONTH_DAYS
        per_month = len(mine) / months
        value = float(mine["value"].mean()) if len(mine) else float(everything["value"].mean())
        cost = self.cost_of.get(product_id)
        if cost is None:
            cost = self.category_cost.get(str(self.categories[code]), self.shop_cost)
        if cost is None or not np.isfinite(cost):
            cost = params.return_cost_per_unit
        loss = params.margin_loss_rate * value if np.isfinite(value) else 0.0
        return per_month, float(cost) + loss


def prepare_inputs(shop: Shop, fixes: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> EffectInputs:
    """Index ``shop`` for the levers and sizes of ``fixes`` (normalised: ``live_at`` timestamps)."""
    as_of_s = int(as_of.timestamp())
    mature_end = as_of_s - int(window_days * DAY)
    catalogue = (shop.products.assign(product_id=shop.products["product_id"].astype(str))
                 .drop_duplicates("product_id").set_index("product_id"))
    product_ids = np.sort(catalogue.index.to_numpy(dtype=object).astype(str))
    categories = catalogue["category"].astype(str).reindex(product_ids).to_numpy()
    fixed = np.isin(product_ids, fixes["product_id"].astype(str).unique())

    lines = shop.order_lines
    seconds = to_seconds(lines["ordered_at"])
    keep = seconds < as_of_s
    lines, seconds = lines.loc[keep], seconds[keep]
    product = np.searchsorted(product_ids, lines["product_id"].astype(str).to_numpy())
    product = np.minimum(product, product_ids.size - 1)
    known = product_ids[product] == lines["product_id"].astype(str).to_numpy()
    lines, seconds, product = lines.loc[known], seconds[known], product[known]

    returns = shop.returns[to_seconds(shop.returns["returned_at"]) < as_of_s]
    returns = returns.drop_duplicates("line_id")
    position = pd.Index(lines["line_id"]).get_indexer(returns["line_id"])
    returns, position = returns.loc[position >= 0], position[position >= 0]
    code = returns["reason_code"].astype(object)
    has_reason = code.notna().to_numpy()

    levers = [lever for lever in LEVER_REASONS if lever in set(fixes["lever"])]
    values = np.zeros((len(lines), 2 + len(levers)))
    values[:, 0] = 1.0
    values[position, 1] = 1.0
    for j, lever in enumerate(levers):
        values[position, 2 + j] = code.isin(LEVER_REASONS[lever]).to_numpy()
    matured = seconds < mature_end
    on_matured = matured[position]
    known_share = float(has_reason[on_matured].mean()) if on_matured.any() else 0.0
    product_counter = AsOfCounter(product[matured], seconds[matured], values[matured])

    sizes = lines["size"].astype(object).where(lines["size"].notna(), None)
    size_labels = pd.Index(pd.unique(sizes.dropna().astype(str)))
    size_counter = None
    if fixes["size"].notna().any() and len(size_labels):
        label = size_labels.get_indexer(sizes.astype(str).where(sizes.notna(), "\x00"))
        sized = matured & (label >= 0)
        size_counter = AsOfCounter(product[sized] * len(size_labels) + label[sized], seconds[sized], values[sized])

    price = catalogue["price"].reindex(product_ids).to_numpy(dtype=float)[product]
    unit = pd.to_numeric(lines["unit_price"], errors="coerce").to_numpy(dtype=float)
    quantity = pd.to_numeric(lines["quantity"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
    value = np.where(np.isfinite(unit), unit, price) * quantity
    table = pd.DataFrame({"product": product, "size": sizes.to_numpy(), "seconds": seconds, "value": value})
    table = table.sort_values(["product", "seconds"], kind="stable").reset_index(drop=True)
    bounds = np.searchsorted(table["product"].to_numpy(), np.arange(product_ids.size + 1))

    cost = pd.to_numeric(returns.get("return_cost"), errors="coerce") if "return_cost" in returns.columns \
        else pd.Series(np.nan, index=returns.index)
    cost_frame = pd.DataFrame({"product": product_ids[product[position]], "cost": cost.to_numpy(dtype=float)})
    cost_frame["category"] = categories[product[position]]
    cost_frame = cost_frame.dropna(subset=["cost"])
    return EffectInputs(
        product_ids=product_ids, categories=categories, fixed=fixed, product_counter=product_counter,
        size_counter=size_counter, size_labels=size_labels,
        lever_column={lever: 2 + j for j, lever in enumerate(levers)}, known_share=known_share,
        mature_end=mature_end, as_of=as_of_s, lines=table, bounds=bounds,
        cost_of=cost_frame.groupby("product")["cost"].mean().to_dict(),
        category_cost=cost_frame.groupby("category")["cost"].mean().to_dict(),
        shop_cost=float(cost_frame["cost"].mean()) if len(cost_frame) else float("nan"),
    )
