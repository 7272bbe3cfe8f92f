"""From a shop's history and a served model to the ranked list of fix suggestions.

:func:`compute_fixes` runs every step (see ``docs/fixes.md``):

1. point-in-time reason counts per product, every ``step_days`` over the whole history
   (:mod:`returnrisk.fixes.counts`, exposure-adjusted);
2. the levers' evidence and decisions at every cut-off (:mod:`returnrisk.fixes.detect`):
   the suggestions are the levers that pass at the as-of date, ``flagged_since`` the first
   cut-off at which each passed;
3. size-specific fit problems (product × size) (:mod:`returnrisk.fixes.candidates`);
4. impact and SHAP evidence from the served model (:mod:`returnrisk.fixes.impact`);
5. typed suggestions with their messages (:mod:`returnrisk.fixes.assemble`), ranked by
   expected savings;
6. whether the shop records return reasons (:mod:`returnrisk.fixes.reason_capture`): when it
   does not, every output says so first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop, load_shop
from returnrisk.fixes.assemble import Pricing, product_profile, size_tables, suggestion
from returnrisk.fixes.candidates import lever_candidates, size_candidates
from returnrisk.fixes.counts import ReasonHistory
from returnrisk.fixes.detect import Detection, category_typical, detect, reason_rates
from returnrisk.fixes.impact import (
    ESTIMATE_NOTE,
    counterfactual_columns,
    rescored_drops,
    sales_per_month,
    score_recent_lines,
)
from returnrisk.fixes.levers import ATTRIBUTE_LEVERS, FIT_LEVERS, LEVERS
from returnrisk.fixes.params import FixParams
from returnrisk.fixes.reason_capture import ReasonCapture, reason_capture
from returnrisk.fixes.suggestion import FIX_FIELDS, FixSuggestion, suggestions_json
from returnrisk.model.bundle import ServingBundle

__all__ = ["FIX_FIELDS", "FixReport", "compute_fixes", "load_fix_shop"]

log = logging.getLogger(__name__)


def load_fix_shop(data_dir: str | Path) -> Shop:
    """The shop as :func:`compute_fixes` needs it (missing reason codes inferred from the texts)."""
    from returnrisk.reasons.fill import default_reason_filler

    return load_shop(data_dir, reason_filler=default_reason_filler())


@dataclass
class FixReport:
    """The suggestions (sorted by expected savings) and the per-product profiles behind them.

    ``suggestions`` are the typed records; :attr:`fixes`, :meth:`select` and
    :meth:`for_product` give their JSON objects (what the files and the API return).
    """

    as_of: pd.Timestamp
    generated_at: pd.Timestamp
    model: dict
    params: FixParams
    suggestions: list[FixSuggestion]
    profiles: dict[str, dict]
    products_analysed: int
    products_flagged: int
    note: dict = field(default_factory=lambda: dict(ESTIMATE_NOTE))
    reason_capture: ReasonCapture | None = None   # how many returns have a reason (said at the top when too few)
    detection: Detection | None = field(default=None, repr=False)   # the weekly evidence (not serialised)
    reason_table: dict | None = field(default=None, repr=False)     # code -> rates of every product
    _json: list[dict] | None = field(default=None, repr=False, compare=False)
    _by_product: dict | None = field(default=None, repr=False, compare=False)

    @property
    def fixes(self) -> list[dict]:
        """The suggestions' JSON objects, in rank order (computed once)."""
        if self._json is None:
            self._json = suggestions_json(self.suggestions)
        return self._json

    def has_product(self, product_id: str) -> bool:
        return self.detection is not None and product_id in self.detection.panel.keys

    def profile(self, product_id: str) -> dict | None:
        """The product's profile: full for a product with suggestions; reason rates only otherwise."""
        if product_id in self.profiles:
            return self.profiles[product_id]
        if not self.has_product(product_id) or self.reason_table is None:
            return None
        return product_profile(product_id, self.detection, self.reason_table, None, None, [])

    def for_product(self, product_id: str) -> list[dict]:
        """The product's suggestions (JSON objects), in rank order."""
        if self._by_product is None:
            index: dict[str, list[dict]] = {}
            for fix in self.fixes:
                index.setdefault(fix["product_id"], []).append(fix)
            self._by_product = index
        return list(self._by_product.get(product_id, []))

    def select(self, *, category: str | None = None, brand: str | None = None, lever: str | None = None,
               limit: int | None = None) -> list[dict]:
        """The suggestions (JSON objects) of a category, brand and/or lever, in rank order."""
        out = [fix for fix, s in zip(self.fixes, self.suggestions)
               if (category is None or s.category == category)
               and (brand is None or s.brand == brand)
               and (lever is None or s.lever == lever)]
        return out if limit is None else out[:limit]

    def summary(self) -> dict:
        by_lever = {lever: {"suggestions": 0, "returns_avoided_per_month": 0.0, "savings_per_month": 0.0}
                    for lever in LEVERS}
        for fix in self.suggestions:
            item = by_lever[fix.lever]
            item["suggestions"] += 1
            item["returns_avoided_per_month"] += fix.expected_returns_avoided_per_month
            item["savings_per_month"] += fix.expected_savings_per_month
        for item in by_lever.values():
            item["returns_avoided_per_month"] = round(item["returns_avoided_per_month"], 2)
            item["savings_per_month"] = round(item["savings_per_month"], 2)
        return {
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "model": self.model,
            "products_analysed": self.products_analysed,
            "products_flagged": self.products_flagged,
            "suggestions": len(self.suggestions),
            "returns_avoided_per_month": round(sum(f.expected_returns_avoided_per_month for f in self.suggestions), 2),
            "savings_per_month": round(sum(f.expected_savings_per_month for f in self.suggestions), 2),
            "by_lever": by_lever,
            "flag_threshold": self.params.flag_threshold,
            "return_cost_per_unit": self.params.return_cost_per_unit,
            "margin_loss_rate": self.params.margin_loss_rate,
            "reason_capture": self.reason_capture.to_dict() if self.reason_capture is not None else None,
            "note": self.note,
        }


def compute_fixes(shop: Shop, bundle: ServingBundle, params: FixParams | None = None, *,
                  as_of: pd.Timestamp | None = None, model_info: dict | None = None) -> FixReport:
    """Fix suggestions for ``shop`` with the served ``bundle`` (see the module docstring)."""
    params = params or FixParams()
    window = int(getattr(bundle.snapshot, "window_days", params.window_days) or params.window_days)
    rh = ReasonHistory(shop, as_of, window_days=window)
    as_of = rh.as_of
    cutoffs = rh.cutoffs(params.step_days)
    panel = rh.product_panel(cutoffs)
    products = rh.attrs.copy()
    products.index = products.index.astype(str)
    products = products.reindex(panel.keys)
    typical = category_typical(products)
    det = detect(panel, products, params, kept_sd=rh.kept_distance_sd(), typical=typical)

    by_size, replaced = size_candidates(rh, det, params)
    candidates = lever_candidates(det, replaced) + by_size
    flagged_rows = sorted({c.product for c in candidates})
    flagged_ids = [str(panel.keys[r]) for r in flagged_rows]
    log.info("fixes: %d suggestions on %d of %d products", len(candidates), len(flagged_ids), len(panel.keys))

    shop_lines = _lines_with_values(rh.lines, shop.products)
    sales = sales_per_month(shop_lines, as_of, params.recent_days)
    since = as_of - pd.Timedelta(days=params.recent_days)
    scores = score_recent_lines(bundle, shop_lines, shop.products, flagged_ids, since, params.max_lines_per_product,
                                params.shap_lines_per_product)
    rates = reason_rates(panel, products, params)
    page = [c for c in candidates if c.lever in ATTRIBUTE_LEVERS]
    changes = [counterfactual_columns(c.lever, str(products["category"].iat[c.product]), products.iloc[c.product],
                                      typical) for c in page]
    drops = rescored_drops(bundle, scores, [(str(panel.keys[c.product]), ch) for c, ch in zip(page, changes)])
    pricing = Pricing(
        det=det, scores=scores, sales=sales, size_sales=_size_sales(shop_lines, as_of, params.recent_days),
        costs=_return_costs(rh, products), typical=typical,
        rescored={(c.product, c.lever): (ch, d) for c, ch, d in zip(page, changes, drops)},
        tables=size_tables(rh, det, sorted({(c.product, c.lever) for c in candidates
                                            if c.lever in FIT_LEVERS and c.size is None})),
        params=params,
    )

    fixes = [suggestion(c, pricing) for c in candidates]
    fixes.sort(key=lambda f: (-f.expected_savings_per_month, -f.expected_returns_avoided_per_month,
                              f.product_id, f.lever, f.size or ""))
    for rank, fix in enumerate(fixes, start=1):
        fix.priority_rank = rank
    by_product: dict[str, list[FixSuggestion]] = {}
    for fix in fixes:
        by_product.setdefault(fix.product_id, []).append(fix)
    profiles = {pid: product_profile(pid, det, rates, scores, sales, by_product.get(pid, [])) for pid in flagged_ids}
    info = {k: model_info.get(k) for k in ("version", "alias", "uri")} if model_info else {}
    info.setdefault("as_of", bundle.meta.get("as_of"))
    return FixReport(as_of, pd.Timestamp.now(tz="UTC"), info, params, fixes, profiles, len(panel.keys),
                     len(flagged_ids), reason_capture=reason_capture(shop, as_of), detection=det, reason_table=rates)


def _lines_with_values(lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    out = lines.copy()
    price = products.set_index(products["product_id"].astype(str))["price"]
    listed = price.reindex(out["product_id"].astype(str)).to_numpy(dtype=float)
    unit = pd.to_numeric(out["unit_price"], errors="coerce").to_numpy(dtype=float)
    out["unit_price"] = np.where(np.isfinite(unit), unit, listed)
    out["quantity"] = pd.to_numeric(out["quantity"], errors="coerce").fillna(1.0)
    return out


def _size_sales(lines: pd.DataFrame, as_of: pd.Timestamp, recent_days: int) -> pd.Series:
    """Share of each (product, size) in the product's recent lines."""
    since = as_of - pd.Timedelta(days=recent_days)
    recent = lines[(lines["ordered_at"] >= since) & lines["size"].notna()]
    counts = recent.groupby([recent["product_id"].astype(str), recent["size"].astype(str)]).size()
    totals = counts.groupby(level=0).transform("sum")
    return counts / totals


def _return_costs(rh: ReasonHistory, products: pd.DataFrame) -> dict[str, tuple[float, str]]:
    """Per product: its mean known return cost, else its category's, else the shop's (and the source)."""
    per_product = rh.product_return_costs()
    out: dict[str, tuple[float, str]] = {}
    if per_product.empty:
        return out
    category = products["category"].astype(object)
    frame = pd.DataFrame({"cost": per_product}).join(category.rename("category"))
    by_category = frame.groupby("category")["cost"].mean()
    shop_mean = float(per_product.mean())
    for pid, cat in category.items():
        if pid in per_product.index:
            out[str(pid)] = (float(per_product[pid]), "data: this product's returns")
        elif cat in by_category.index:
            out[str(pid)] = (float(by_category[cat]), "data: its category's returns")
        else:
            out[str(pid)] = (shop_mean, "data: the shop's returns")
    return out
