"""From a shop's history and a served model to the ranked list of fix suggestions.

:func:`compute_fixes` runs every step (see ``docs/fixes.md``):

1. point-in-time reason counts per product, every ``step_days`` over the whole history
   (:mod:`returnrisk.fixes.counts`, exposure-adjusted);
2. the levers' evidence and decisions at every cut-off (:mod:`returnrisk.fixes.detect`):
   the suggestions are the levers that pass at the as-of date, ``flagged_since`` the first
   cut-off at which each passed;
3. size-specific fit problems (product × size);
4. impact and SHAP evidence from the served model (:mod:`returnrisk.fixes.impact`);
5. messages, ranking by expected savings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from returnrisk.data.loader import Shop, load_shop
from returnrisk.evidence import credible_interval, excess_probability
from returnrisk.fixes.counts import CODES, ReasonHistory
from returnrisk.fixes.detect import SHARE_ODDS, Detection, category_typical, detect, reason_rates
from returnrisk.fixes.ids import fix_id
from returnrisk.fixes.impact import (
    ESTIMATE_NOTE,
    LineScores,
    counterfactual_columns,
    rescored_drops,
    sales_per_month,
    score_recent_lines,
    value_per_return,
)
from returnrisk.fixes.levers import ATTRIBUTE_LEVERS, FIT_LEVERS, LEVER_LABELS, LEVER_REASONS, LEVERS
from returnrisk.fixes.messages import message
from returnrisk.fixes.params import FixParams
from returnrisk.model.bundle import ServingBundle
from returnrisk.taxonomy import REASON_LABELS

__all__ = ["FIX_FIELDS", "FixReport", "compute_fixes", "load_fix_shop"]

log = logging.getLogger(__name__)

#: The fields of every suggestion, in order (the CSV columns; JSON adds ``evidence``, ``message``).
FIX_FIELDS = (
    "priority_rank", "product_id", "size", "category", "brand", "lever", "expected_returns_avoided_per_month",
    "expected_savings_per_month", "confidence", "flagged_since", "sales_at_flag", "sales", "sales_per_month",
)


def load_fix_shop(data_dir: str | Path) -> Shop:
    """The shop as :func:`compute_fixes` needs it (missing reason codes inferred from the texts)."""
    from returnrisk.reasons.fill import default_reason_filler

    return load_shop(data_dir, reason_filler=default_reason_filler())


@dataclass
class FixReport:
    """The suggestions (sorted by expected savings) and the per-product profiles behind them."""

    as_of: pd.Timestamp
    generated_at: pd.Timestamp
    model: dict
    params: FixParams
    fixes: list[dict]
    profiles: dict[str, dict]
    products_analysed: int
    products_flagged: int
    note: dict = field(default_factory=lambda: dict(ESTIMATE_NOTE))
    detection: Detection | None = field(default=None, repr=False)   # the weekly evidence (not serialised)
    reason_table: dict | None = field(default=None, repr=False)     # code -> rates of every product
    _by_product: dict | None = field(default=None, repr=False, compare=False)

    def has_product(self, product_id: str) -> bool:
        return self.detection is not None and product_id in self.detection.panel.keys

    def profile(self, product_id: str) -> dict | None:
        """The product's profile: full for a product with suggestions; reason rates only otherwise."""
        if product_id in self.profiles:
            return self.profiles[product_id]
        if not self.has_product(product_id) or self.reason_table is None:
            return None
        return _profile(product_id, self.detection, self.reason_table, None, None, [])

    def for_product(self, product_id: str) -> list[dict]:
        """The product's suggestions, in rank order."""
        if self._by_product is None:
            index: dict[str, list[dict]] = {}
            for fix in self.fixes:
                index.setdefault(fix["product_id"], []).append(fix)
            self._by_product = index
        return list(self._by_product.get(product_id, []))

    def select(self, *, category: str | None = None, brand: str | None = None, lever: str | None = None,
               limit: int | None = None) -> list[dict]:
        out = [fix for fix in self.fixes
               if (category is None or fix["category"] == category)
               and (brand is None or fix["brand"] == brand)
               and (lever is None or fix["lever"] == lever)]
        return out if limit is None else out[:limit]

    def summary(self) -> dict:
        by_lever = {lever: {"suggestions": 0, "returns_avoided_per_month": 0.0, "savings_per_month": 0.0}
                    for lever in LEVERS}
        for fix in self.fixes:
            item = by_lever[fix["lever"]]
            item["suggestions"] += 1
            item["returns_avoided_per_month"] += fix["expected_returns_avoided_per_month"]
            item["savings_per_month"] += fix["expected_savings_per_month"]
        for item in by_lever.values():
            item["returns_avoided_per_month"] = round(item["returns_avoided_per_month"], 2)
            item["savings_per_month"] = round(item["savings_per_month"], 2)
        return {
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "model": self.model,
            "products_analysed": self.products_analysed,
            "products_flagged": self.products_flagged,
            "suggestions": len(self.fixes),
            "returns_avoided_per_month": round(sum(f["expected_returns_avoided_per_month"] for f in self.fixes), 2),
            "savings_per_month": round(sum(f["expected_savings_per_month"] for f in self.fixes), 2),
            "by_lever": by_lever,
            "flag_threshold": self.params.flag_threshold,
            "return_cost_per_unit": self.params.return_cost_per_unit,
            "margin_loss_rate": self.params.margin_loss_rate,
            "note": self.note,
        }


# ---- helpers ------------------------------------------------------------------------------------
def _f(value, digits: int = 4):
    """A JSON-safe rounded float (None for NaN / inf)."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _date(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").strftime("%Y-%m-%d")


def _strength(ref: float, params: FixParams) -> float:
    return max(params.prior_strength, params.prior_min_returns / max(ref, 1e-4))


@dataclass
class _Candidate:
    product: int                 # row in the detection
    lever: str
    size: str | None
    k: float
    exposure: float
    sales: float
    reference: float
    p_worse: float
    confidence: float
    first: int                   # cut-off index of the first flag (-1 unknown)
    codes: dict[str, float]      # returns per reason code of the lever
    sales_at_flag: float | None = None


# ---- size-specific fit problems -----------------------------------------------------------------
def _size_rule(k_dir, k_other, e, ref_dir, ref_other, n_sizes, params: FixParams):
    """``(passes, p_worse)`` of a size: Bonferroni-corrected excess and the direction share."""
    ref_dir = np.asarray(ref_dir, dtype=float)
    valid = np.isfinite(ref_dir) & (ref_dir > 0) & np.isfinite(ref_other)
    safe = np.where(valid, ref_dir, 0.5)
    strength = np.maximum(params.prior_strength, params.prior_min_returns / np.clip(safe, 1e-4, None))
    p = np.where(valid, excess_probability(k_dir, e, safe, strength), 0.0)
    thr = 1.0 - (1.0 - params.flag_threshold) / np.maximum(n_sizes, 1)
    pi = np.clip(np.nan_to_num(safe / (safe + np.where(valid, ref_other, 0.5)), nan=0.5), 0.02, 0.98)
    pi_dir = SHARE_ODDS * pi / (SHARE_ODDS * pi + 1 - pi)
    share = beta_dist.sf(pi_dir, np.asarray(k_dir) + 1, np.asarray(k_other) + 1)
    return valid & (p >= thr) & (share >= params.flag_threshold), p


def _size_candidates(rh: ReasonHistory, det: Detection, params: FixParams) -> tuple[list[_Candidate], set]:
    """Fit problems that live in some sizes only; returns the size candidates and the
    (product row, lever) pairs they replace.

    A product flagged ``runs_small`` / ``runs_large`` whose excess sits in some of its sizes —
    each in excess with a Bonferroni-corrected threshold (``1 - (1 - threshold) / sizes``) and
    in the lever's direction, while the other sizes together — at least a quarter of its
    exposure — are not above the reference (``P(worse) < 0.5``) — gets one suggestion per such
    size instead of one for the product.
    """
    panel = det.panel
    products = det.products
    sized = products["size_system"].astype(str).ne("unsized").to_numpy()
    lines = rh.lines
    pairs = lines.loc[lines["size"].notna(), ["product_id", "size"]].astype(str).drop_duplicates()
    row_of = pd.Series(np.arange(len(panel.keys)), index=panel.keys)
    pairs = pairs[pairs["product_id"].isin(panel.keys[sized])].reset_index(drop=True)
    if pairs.empty:
        return [], set()
    last = panel.cutoffs[-1:]
    sp = rh.size_panel(pairs, last)
    rows = row_of.reindex(pairs["product_id"]).to_numpy()
    n_sizes = pairs.groupby("product_id")["size"].transform("size").to_numpy()
    small, large = det.levers["runs_small"], det.levers["runs_large"]
    ref_small, ref_large = small.reference[rows, -1], large.reference[rows, -1]
    k_small, k_large = sp.k(("too_small",))[:, 0], sp.k(("too_large",))[:, 0]
    e = sp.exposure[:, 0]
    found: list[tuple[int, str]] = []
    p_of: dict[str, np.ndarray] = {}
    for lever, k_dir, k_other, r_dir, r_other in (
        ("runs_small", k_small, k_large, ref_small, ref_large),
        ("runs_large", k_large, k_small, ref_large, ref_small),
    ):
        passes, p = _size_rule(k_dir, k_other, e, r_dir, r_other, n_sizes, params)
        p_of[lever] = p
        found.extend((i, lever) for i in np.flatnonzero(passes))
    candidates: list[_Candidate] = []
    replaced: set = set()
    by_product: dict[tuple[int, str], list[int]] = {}
    for i, lever in found:
        by_product.setdefault((int(rows[i]), lever), []).append(i)
    for (row, lever), members in by_product.items():
        ev = det.levers[lever]
        code = LEVER_REASONS[lever][0]
        if not ev.passes[row, -1]:
            # a size on its own is not enough: the sizes at the ends of a range are returned as
            # too small / too large by customers the range does not fit, with or without a problem
            continue
        # the product is flagged: size rows instead when the other sizes are not in excess
        k_rest = ev.k[row, -1] - sum((k_small if lever == "runs_small" else k_large)[m] for m in members)
        e_rest = ev.exposure[row, -1] - sum(e[m] for m in members)
        ref = ev.reference[row, -1]
        if e_rest < max(30.0, 0.25 * ev.exposure[row, -1]):
            continue  # the flagged sizes are most of the product: a product-wide problem
        p_rest = float(excess_probability(max(k_rest, 0.0), e_rest, ref, _strength(ref, params)))
        if p_rest >= 0.5:
            continue
        replaced.add((row, lever))
        for m in members:
            k_dir = (k_small if lever == "runs_small" else k_large)[m]
            candidates.append(_Candidate(
                row, lever, pairs["size"].iat[m], float(k_dir), float(e[m]), float(sp.n[m, 0]),
                float(ev.reference[row, -1]), float(p_of[lever][m]), float(p_of[lever][m]), -1,
                {code: float(k_dir)}))
    _date_size_candidates(rh, det, candidates, pairs, n_sizes, params)
    return candidates, replaced


def _date_size_candidates(rh: ReasonHistory, det: Detection, candidates: list[_Candidate], pairs: pd.DataFrame,
                          n_sizes: np.ndarray, params: FixParams) -> None:
    """``first`` of each size candidate: the size rule over the weekly cut-offs."""
    if not candidates:
        return
    panel = det.panel
    keys = pd.DataFrame({"product_id": [panel.keys[c.product] for c in candidates],
                         "size": [c.size for c in candidates]})
    sp = rh.size_panel(keys, panel.cutoffs)
    count = pairs.assign(n=n_sizes).set_index(["product_id", "size"])["n"]
    for j, c in enumerate(candidates):
        other = "runs_large" if c.lever == "runs_small" else "runs_small"
        code, other_code = LEVER_REASONS[c.lever][0], LEVER_REASONS[other][0]
        passes, _ = _size_rule(sp.k((code,))[j], sp.k((other_code,))[j], sp.exposure[j],
                               det.levers[c.lever].reference[c.product], det.levers[other].reference[c.product],
                               int(count.get((keys["product_id"][j], c.size), 1)), params)
        c.first = int(np.argmax(passes)) if passes.any() else -1
        c.sales_at_flag = float(sp.n[j, c.first]) if c.first >= 0 else None


# ---- the report ---------------------------------------------------------------------------------
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

    size_candidates, replaced = _size_candidates(rh, det, params)
    candidates: list[_Candidate] = []
    for lever, ev in det.levers.items():
        first = det.first_flag(lever)
        for row in np.flatnonzero(ev.passes[:, -1]):
            if (row, lever) in replaced:
                continue
            codes = {code: float(panel.k((code,))[row, -1]) for code in LEVER_REASONS[lever]}
            candidates.append(_Candidate(int(row), lever, None, float(ev.k[row, -1]), float(ev.exposure[row, -1]),
                                         float(panel.n[row, -1]), float(ev.reference[row, -1]),
                                         float(ev.p_worse[row, -1]), float(ev.confidence[row, -1]),
                                         int(first[row]), codes,
                                         float(panel.n[row, first[row]]) if first[row] >= 0 else None))
    candidates.extend(size_candidates)
    flagged_rows = sorted({c.product for c in candidates})
    flagged_ids = [str(panel.keys[r]) for r in flagged_rows]
    log.info("fixes: %d suggestions on %d of %d products", len(candidates), len(flagged_ids), len(panel.keys))

    shop_lines = _lines_with_values(rh.lines, shop.products)
    sales = sales_per_month(shop_lines, as_of, params.recent_days)
    size_sales = _size_sales(shop_lines, as_of, params.recent_days)
    since = as_of - pd.Timedelta(days=params.recent_days)
    scores = score_recent_lines(bundle, shop_lines, shop.products, flagged_ids, since, params.max_lines_per_product,
                                params.shap_lines_per_product)
    costs = _return_costs(rh, products)
    rates = reason_rates(panel, products, params)
    page = [c for c in candidates if c.lever in ATTRIBUTE_LEVERS]
    changes = [counterfactual_columns(c.lever, str(products["category"].iat[c.product]), products.iloc[c.product],
                                      typical) for c in page]
    drops = rescored_drops(bundle, scores, [(str(panel.keys[c.product]), ch) for c, ch in zip(page, changes)])
    rescored = {(c.product, c.lever): (ch, d) for c, ch, d in zip(page, changes, drops)}
    tables = _size_tables(rh, det, sorted({(c.product, c.lever) for c in candidates
                                           if c.lever in FIT_LEVERS and c.size is None}))

    fixes = [_record(c, det, scores, sales, size_sales, costs, typical, rescored, tables, params)
             for c in candidates]
    fixes.sort(key=lambda f: (-f["expected_savings_per_month"], -f["expected_returns_avoided_per_month"],
                              f["product_id"], f["lever"], f["size"] or ""))
    for rank, fix in enumerate(fixes, start=1):
        fix["priority_rank"] = rank
    by_product: dict[str, list[dict]] = {}
    for fix in fixes:
        by_product.setdefault(fix["product_id"], []).append(fix)
    profiles = {pid: _profile(pid, det, rates, scores, sales, by_product.get(pid, [])) for pid in flagged_ids}
    info = {k: model_info.get(k) for k in ("version", "alias", "uri")} if model_info else {}
    info.setdefault("as_of", bundle.meta.get("as_of"))
    return FixReport(as_of, pd.Timestamp.now(tz="UTC"), info, params, fixes, profiles, len(panel.keys),
                     len(flagged_ids), detection=det, reason_table=rates)


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


def _record(c: _Candidate, det: Detection, scores: LineScores, sales: pd.DataFrame, size_sales: pd.Series,
            costs: dict, typical: pd.DataFrame, rescored: dict, tables: dict, params: FixParams) -> dict:
    panel = det.panel
    pid = str(panel.keys[c.product])
    product = det.products.iloc[c.product]
    category = str(product["category"])
    ev = det.levers[c.lever]
    per_month = float(sales["sales_per_month"].get(pid, 0.0)) if pid in sales.index else 0.0
    if c.size is not None:
        per_month *= float(size_sales.get((pid, c.size), 0.0))
    line_value = float(sales["line_value"].get(pid, np.nan)) if pid in sales.index else float(product["price"])
    strength = _strength(c.reference, params)
    post = (c.k + strength * c.reference) / (max(c.exposure, c.k) + strength)
    excess = max(post - c.reference, 0.0)
    lo, hi = credible_interval(c.k, c.exposure, c.reference, strength, params.credible_level)
    impact: dict = {"excess_returns_per_sale": _f(excess)}
    if c.lever in ATTRIBUTE_LEVERS:
        columns, (page, with_history, n_lines) = rescored[(c.product, c.lever)]
        per_sale = max(page, 0.0)
        impact.update({
            "method": "model re-scoring of the product's recent lines with the page attribute set to the "
                      "category's typical value (product's own return history set aside)",
            "changed": {k: _f(v, 2) for k, v in columns.items()},
            "returns_avoided_per_sale": _f(per_sale),
            "model_drop_page_only": _f(page),
            "model_drop_with_history": _f(with_history),
            "lines_rescored": n_lines,
        })
    else:
        per_sale = excess
        impact.update({"method": "posterior-mean excess of the reason rate over its reference",
                       "returns_avoided_per_sale": _f(per_sale)})
    avoided = per_sale * per_month
    cost, source = costs.get(pid, (None, None))
    return_cost, margin_loss = value_per_return(cost, line_value, params)
    impact.update({
        "return_cost": _f(return_cost, 2),
        "return_cost_source": source or "setting: return_cost_per_unit",
        "margin_loss_per_return": _f(margin_loss, 2),
        "line_value": _f(line_value, 2),
        "note": ESTIMATE_NOTE["en"],
    })
    savings = avoided * (return_cost + margin_loss)
    reference_kind = "guided" if c.lever == "add_size_guide" else "category"
    if not bool(ev.category_scope[c.product, -1]):
        reference_kind = "shop"
    first_seconds = int(panel.cutoffs[c.first]) if c.first >= 0 else None
    sales_at_flag = c.sales_at_flag
    evidence = {
        "sales": int(c.sales),
        "exposure": _f(c.exposure, 1),
        "sales_per_month": _f(per_month, 2),
        "returns": round(c.k),
        "rate": _f(c.k / c.exposure if c.exposure > 0 else None),
        "reference_rate": _f(c.reference),
        "reference": {"guided": "category products with a size guide (and no fit problem)",
                      "category": "category (other products)", "shop": "shop (category too small)"}[reference_kind],
        "excess_rate": _f(excess),
        "credible_interval": [_f(lo), _f(hi)],
        "credible_level": params.credible_level,
        "p_worse": _f(c.p_worse),
        "reasons": [{"code": code, "label": REASON_LABELS[code], "returns": round(k),
                     "rate": _f(k / c.exposure if c.exposure > 0 else None),
                     "category_rate": _f(_code_reference(det, code, c.product))}
                    for code, k in c.codes.items()],
        "shap": scores.contributions(pid, c.lever),
        "impact": impact,
    }
    facts = {"rate": c.k / c.exposure if c.exposure > 0 else None, "reference": c.reference, "returns": c.k,
             "sales": c.sales, "category": category, "avoided": avoided, "size": c.size,
             "reference_kind": reference_kind}
    if c.lever in FIT_LEVERS:
        fit = det.fit
        shift = float(fit.offset[c.product, -1] - fit.reference[c.product, -1])
        evidence["fit"] = {
            "kept_lines": int(fit.count[c.product, -1]),
            "kept_offset": _f(fit.offset[c.product, -1], 3),
            "category_kept_offset": _f(fit.reference[c.product, -1], 3),
            "p_kept_offset_beyond_margin": _f((fit.p_small if c.lever == "runs_small" else fit.p_large)[c.product, -1]),
            "fit_margin": params.fit_margin,
        }
        if fit.count[c.product, -1] >= params.min_kept_for_fit:
            facts.update({"kept_shift": shift, "kept_lines": float(fit.count[c.product, -1]),
                          "kept_only": c.size is None and c.p_worse < params.flag_threshold})
        if c.size is None:
            evidence["sizes"] = tables.get((c.product, c.lever), [])
    if c.lever in ATTRIBUTE_LEVERS:
        page_fields = {"add_size_guide": ("has_size_guide",), "improve_photos": ("n_photos",),
                       "improve_description": ("description_length", "mentions_material", "mentions_dimensions",
                                               "mentions_fit")}[c.lever]
        evidence["page"] = {name: {"value": _f(pd.to_numeric(product.get(name), errors="coerce"), 1),
                                   "category_typical": _f(typical[name].get(category, np.nan), 1)}
                            for name in page_fields}
        facts.update({"photos": _f(product.get("n_photos"), 0),
                      "typical_photos": _f(typical["n_photos"].get(category, np.nan), 0),
                      "length": _f(product.get("description_length"), 0)})
    return {
        "priority_rank": 0,
        "fix_id": fix_id(pid, c.size, c.lever),
        "product_id": pid,
        "size": c.size,
        "category": category,
        "brand": None if pd.isna(product["brand"]) else str(product["brand"]),
        "lever": c.lever,
        "lever_label": LEVER_LABELS[c.lever],
        "expected_returns_avoided_per_month": round(avoided, 3),
        "expected_savings_per_month": round(savings, 2),
        "confidence": round(float(c.confidence), 4),
        "flagged_since": _date(first_seconds),
        "sales_at_flag": None if sales_at_flag is None else int(sales_at_flag),
        "sales": int(c.sales),
        "sales_per_month": round(per_month, 2),
        "evidence": evidence,
        "message": {"en": message(c.lever, facts, "en"), "fr": message(c.lever, facts, "fr")},
        "estimate_note": ESTIMATE_NOTE,
    }


def _code_reference(det: Detection, code: str, row: int) -> float | None:
    for lever, codes in LEVER_REASONS.items():
        if codes == (code,) and lever != "add_size_guide":
            return float(det.levers[lever].reference[row, -1])
    return None


def _size_tables(rh: ReasonHistory, det: Detection, wanted: list[tuple[int, str]]) -> dict:
    """Per (product row, fit lever): each size's sales, rate of the lever's reason and P(worse)."""
    if not wanted:
        return {}
    panel = det.panel
    lines = rh.lines
    sized = lines[lines["size"].notna()]
    pairs = (pd.DataFrame({"product_id": sized["product_id"].astype(str).to_numpy(),
                           "size": sized["size"].astype(str).to_numpy(),
                           "ordinal": sized["size_ordinal"].to_numpy(dtype=float)})
             .drop_duplicates(["product_id", "size"]))
    rows = sorted({row for row, _ in wanted})
    pairs = pairs[pairs["product_id"].isin(panel.keys[rows])]
    pairs = pairs.assign(order=pairs["ordinal"].fillna(1e9)).sort_values(["product_id", "order", "size"])
    pairs = pairs.reset_index(drop=True)
    sp = rh.size_panel(pairs, panel.cutoffs[-1:])
    by_product = pairs.groupby("product_id").indices
    out = {}
    for row, lever in wanted:
        members = by_product.get(str(panel.keys[row]), [])
        code = LEVER_REASONS[lever][0]
        k = sp.k((code,))[members, 0]
        e = sp.exposure[members, 0]
        n = sp.n[members, 0]
        ref = float(det.levers[lever].reference[row, -1])
        p = excess_probability(k, e, ref, _strength(ref, det.params))
        out[(row, lever)] = [{"size": pairs["size"].iat[m], "sales": int(n[j]), "returns": int(k[j]),
                              "rate": _f(k[j] / e[j] if e[j] > 0 else None), "p_worse": _f(p[j])}
                             for j, m in enumerate(members)]
    return out


def _profile(pid: str, det: Detection, rates: dict[str, pd.DataFrame], scores: LineScores | None,
             sales: pd.DataFrame | None, fixes: list[dict]) -> dict:
    panel = det.panel
    row = int(panel.keys.get_loc(pid))
    product = det.products.iloc[row]
    reasons = []
    for code in CODES:
        frame = rates[code]
        reasons.append({"code": code, "label": REASON_LABELS[code],
                        "returns": int(frame["returns"].iat[row]),
                        "rate": _f(frame["rate"].iat[row]), "category_rate": _f(frame["reference"].iat[row]),
                        "p_worse": _f(frame["p_worse"].iat[row])})
    return {
        "product_id": pid,
        "category": str(product["category"]),
        "brand": None if pd.isna(product["brand"]) else str(product["brand"]),
        "sales": int(panel.n[row, -1]),
        "exposure": _f(panel.exposure[row, -1], 1),
        "returns": round(float(panel.returns[row, -1].sum())),
        "sales_per_month": (_f(sales["sales_per_month"].get(pid, 0.0), 2)
                            if sales is not None and pid in sales.index else None),
        "reasons": reasons,
        "drivers": scores.drivers(pid) if scores is not None else [],
        "levers": sorted({f["lever"] for f in fixes}, key=LEVERS.index),
        "savings_per_month": round(sum(f["expected_savings_per_month"] for f in fixes), 2),
    }
