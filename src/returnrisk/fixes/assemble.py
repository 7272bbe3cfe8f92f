"""From a candidate to a :class:`~returnrisk.fixes.suggestion.FixSuggestion`, and product profiles.

:func:`suggestion` prices a candidate (:func:`impact`: returns avoided per sale, money per
return), gathers its :func:`evidence` (counts against the reference, credible interval, SHAP
contributions, kept sizes or page attributes) and writes its message in both languages.
:func:`product_profile` is a product's reason rates against its category, with the model's
drivers and levers when it is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.evidence import credible_interval, excess_probability
from returnrisk.fixes.candidates import Candidate, prior_strength
from returnrisk.fixes.counts import CODES, ReasonHistory
from returnrisk.fixes.detect import Detection
from returnrisk.fixes.ids import fix_id
from returnrisk.fixes.impact import ESTIMATE_NOTE, LineScores, value_per_return
from returnrisk.fixes.levers import (
    ATTRIBUTE_LEVERS,
    FIT_LEVERS,
    INVESTIGATE,
    LEVER_LABELS,
    LEVER_REASONS,
    LEVERS,
)
from returnrisk.fixes.messages import message
from returnrisk.fixes.params import FixParams
from returnrisk.fixes.suggestion import (
    Evidence,
    FixSuggestion,
    Impact,
    KeptSizesEvidence,
    PageAttribute,
    ReasonEvidence,
    SizeEvidence,
)
from returnrisk.taxonomy import NO_REASON, REASON_LABELS

__all__ = ["Pricing", "evidence", "impact", "product_profile", "size_tables", "suggestion"]

_REFERENCES = {"guided": "category products with a size guide (and no fit problem)",
               "category": "category (other products)", "shop": "shop (category too small)"}
_PAGE_FIELDS = {"add_size_guide": ("has_size_guide",), "improve_photos": ("n_photos",),
                "improve_description": ("description_length", "mentions_material", "mentions_dimensions",
                                        "mentions_fit")}


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


@dataclass
class Pricing:
    """What :func:`suggestion` needs besides the candidate: the shop's figures and the model's."""

    det: Detection
    scores: LineScores
    sales: pd.DataFrame           # per product: sales_per_month, line_value
    size_sales: pd.Series         # (product, size) -> share of the product's recent lines
    costs: dict                   # product -> (mean return cost, source)
    typical: pd.DataFrame         # category -> typical page attributes
    rescored: dict                # (product row, lever) -> (changed columns, (page, with_history, lines))
    tables: dict                  # (product row, fit lever) -> per-size rows
    params: FixParams


def impact(c: Candidate, pricing: Pricing, excess: float, line_value: float,
           pid: str) -> tuple[Impact, float, float]:
    """The candidate's impact, its returns avoided per sale and the money one avoided return saves."""
    params = pricing.params
    changed = page = with_history = n_lines = None
    if c.lever in ATTRIBUTE_LEVERS:
        columns, (page, with_history, n_lines) = pricing.rescored[(c.product, c.lever)]
        per_sale = max(page, 0.0)
        changed = {k: _f(v, 2) for k, v in columns.items()}
        method = ("model re-scoring of the product's recent lines with the page attribute set to the "
                  "category's typical value (product's own return history set aside)")
    else:
        per_sale = excess
        method = ("posterior-mean excess of the return rate over its reference (cause unknown)" if c.lever == INVESTIGATE
                  else "posterior-mean excess of the reason rate over its reference")
    cost, source = pricing.costs.get(pid, (None, None))
    return_cost, margin_loss = value_per_return(cost, line_value, params)
    rescored = c.lever in ATTRIBUTE_LEVERS
    return Impact(
        excess_returns_per_sale=_f(excess), method=method, changed=changed,
        returns_avoided_per_sale=_f(per_sale),
        model_drop_page_only=_f(page) if rescored else None,
        model_drop_with_history=_f(with_history) if rescored else None,
        lines_rescored=n_lines,
        return_cost=_f(return_cost, 2), return_cost_source=source or "setting: return_cost_per_unit",
        margin_loss_per_return=_f(margin_loss, 2), line_value=_f(line_value, 2), note=ESTIMATE_NOTE["en"],
    ), per_sale, return_cost + margin_loss


def _code_reference(det: Detection, code: str, row: int) -> float | None:
    for lever, codes in LEVER_REASONS.items():
        if codes == (code,) and lever != "add_size_guide":
            return float(det.levers[lever].reference[row, -1])
    return None


def evidence(c: Candidate, pricing: Pricing, pid: str, per_month: float, excess: float,
             reference_kind: str, impact_: Impact) -> Evidence:
    """The evidence behind the candidate (see :class:`~returnrisk.fixes.suggestion.Evidence`)."""
    det, params = pricing.det, pricing.params
    strength = prior_strength(c.reference, params)
    lo, hi = credible_interval(c.k, c.exposure, c.reference, strength, params.credible_level)
    out = Evidence(
        sales=int(c.sales), exposure=_f(c.exposure, 1), sales_per_month=_f(per_month, 2), returns=round(c.k),
        rate=_f(c.k / c.exposure if c.exposure > 0 else None), reference_rate=_f(c.reference),
        reference=_REFERENCES[reference_kind], excess_rate=_f(excess), credible_interval=[_f(lo), _f(hi)],
        credible_level=params.credible_level, p_worse=_f(c.p_worse),
        reasons=[ReasonEvidence(code, REASON_LABELS[code], round(k),
                                _f(k / c.exposure if c.exposure > 0 else None),
                                _f(_code_reference(det, code, c.product)))
                 for code, k in c.codes.items()],
        shap=pricing.scores.contributions(pid, c.lever),
        impact=impact_,
    )
    if c.lever in FIT_LEVERS:
        fit = det.fit
        out.fit = KeptSizesEvidence(
            kept_lines=int(fit.count[c.product, -1]),
            kept_offset=_f(fit.offset[c.product, -1], 3),
            category_kept_offset=_f(fit.reference[c.product, -1], 3),
            p_kept_offset_beyond_margin=_f((fit.p_small if c.lever == "runs_small" else fit.p_large)[c.product, -1]),
            fit_margin=params.fit_margin,
        )
        if c.size is None:
            out.sizes = pricing.tables.get((c.product, c.lever), [])
    if c.lever in ATTRIBUTE_LEVERS:
        product = det.products.iloc[c.product]
        category = str(product["category"])
        out.page = {name: PageAttribute(_f(pd.to_numeric(product.get(name), errors="coerce"), 1),
                                        _f(pricing.typical[name].get(category, np.nan), 1))
                    for name in _PAGE_FIELDS[c.lever]}
    return out


def _facts(c: Candidate, pricing: Pricing, category: str, avoided: float, reference_kind: str) -> dict:
    """What the messages say (:func:`returnrisk.fixes.messages.message`)."""
    det, params = pricing.det, pricing.params
    facts = {"rate": c.k / c.exposure if c.exposure > 0 else None, "reference": c.reference, "returns": c.k,
             "sales": c.sales, "category": category, "avoided": avoided, "size": c.size,
             "reference_kind": reference_kind}
    if c.lever in FIT_LEVERS and det.fit.count[c.product, -1] >= params.min_kept_for_fit:
        fit = det.fit
        facts.update({"kept_shift": float(fit.offset[c.product, -1] - fit.reference[c.product, -1]),
                      "kept_lines": float(fit.count[c.product, -1]),
                      "kept_only": c.size is None and c.p_worse < params.flag_threshold})
    if c.lever == INVESTIGATE:
        facts["unknown_share"] = c.codes.get(NO_REASON, 0.0) / c.k if c.k > 0 else None
    if c.lever in ATTRIBUTE_LEVERS:
        product = det.products.iloc[c.product]
        typical = pricing.typical
        facts.update({"photos": _f(product.get("n_photos"), 0),
                      "typical_photos": _f(typical["n_photos"].get(category, np.nan), 0),
                      "length": _f(product.get("description_length"), 0)})
    return facts


def suggestion(c: Candidate, pricing: Pricing) -> FixSuggestion:
    """The candidate as a suggestion (``priority_rank`` 0 until the suggestions are ranked)."""
    det, params = pricing.det, pricing.params
    panel = det.panel
    pid = str(panel.keys[c.product])
    product = det.products.iloc[c.product]
    category = str(product["category"])
    sales = pricing.sales
    per_month = float(sales["sales_per_month"].get(pid, 0.0)) if pid in sales.index else 0.0
    if c.size is not None:
        per_month *= float(pricing.size_sales.get((pid, c.size), 0.0))
    line_value = float(sales["line_value"].get(pid, np.nan)) if pid in sales.index else float(product["price"])
    strength = prior_strength(c.reference, params)
    post = (c.k + strength * c.reference) / (max(c.exposure, c.k) + strength)
    excess = max(post - c.reference, 0.0)
    impact_, per_sale, per_return = impact(c, pricing, excess, line_value, pid)
    avoided = per_sale * per_month
    savings = avoided * per_return
    reference_kind = "guided" if c.lever == "add_size_guide" else "category"
    if not bool(det.levers[c.lever].category_scope[c.product, -1]):
        reference_kind = "shop"
    facts = _facts(c, pricing, category, avoided, reference_kind)
    return FixSuggestion(
        priority_rank=0, fix_id=fix_id(pid, c.size, c.lever), product_id=pid, size=c.size, category=category,
        brand=None if pd.isna(product["brand"]) else str(product["brand"]),
        lever=c.lever, lever_label=LEVER_LABELS[c.lever],
        expected_returns_avoided_per_month=round(avoided, 3), expected_savings_per_month=round(savings, 2),
        confidence=round(float(c.confidence), 4),
        flagged_since=_date(int(panel.cutoffs[c.first]) if c.first >= 0 else None),
        sales_at_flag=None if c.sales_at_flag is None else int(c.sales_at_flag),
        sales=int(c.sales), sales_per_month=round(per_month, 2),
        evidence=evidence(c, pricing, pid, per_month, excess, reference_kind, impact_),
        message={"en": message(c.lever, facts, "en"), "fr": message(c.lever, facts, "fr")},
        estimate_note=ESTIMATE_NOTE,
    )


def size_tables(rh: ReasonHistory, det: Detection, wanted: list[tuple[int, str]]) -> dict:
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
        p = excess_probability(k, e, ref, prior_strength(ref, det.params))
        out[(row, lever)] = [SizeEvidence(str(pairs["size"].iat[m]), int(n[j]), int(k[j]),
                                          _f(k[j] / e[j] if e[j] > 0 else None), _f(p[j]))
                             for j, m in enumerate(members)]
    return out


def product_profile(pid: str, det: Detection, rates: dict[str, pd.DataFrame], scores: LineScores | None,
                    sales: pd.DataFrame | None, fixes: list[FixSuggestion]) -> dict:
    """The product's reason rates against its category; drivers, levers and savings when flagged."""
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
        "levers": sorted({f.lever for f in fixes}, key=LEVERS.index),
        "savings_per_month": round(sum(f.expected_savings_per_month for f in fixes), 2),
    }
