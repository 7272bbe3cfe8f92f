"""What a fix would save: model re-scoring for page levers, the excess rate for reason levers.

Page levers (``add_size_guide``, ``improve_photos``, ``improve_description``)
    The product's recent lines (at most ``max_lines_per_product``, the most recent of the last
    ``recent_days``) are scored by the served model twice: as they are, and with the page
    attribute set to the category's typical value (a size guide; the category's median number
    of photos; a description at least as long as the category's median that mentions what
    the category's descriptions usually mention). Both scorings set the product's own return
    history aside (as for a product the model has not seen yet): that history records the
    problem the fix removes, and would otherwise mask the page's effect. The mean drop in
    ``P(return)`` per line is the model's estimate of returns avoided per sale. The drop with
    the history kept is reported next to it (``with_history``).
Reason levers (``runs_small``, ``runs_large``, ``quality_review``, ``packaging_review``)
    Returns avoided per sale = the posterior-mean excess of the lever's reason rate over its
    reference (what bringing the product back to its category would avoid).
``investigate_returns``
    The same with the product's whole return rate against its category's: what finding and
    removing the unknown cause would avoid.

Per month = per sale × the product's current sales per month (lines of the last
``recent_days``, over the days it was on sale in that period). Money per avoided return =
its return cost (the data's mean ``return_cost`` of the product, else of its category, else
of the shop, else ``return_cost_per_unit``) + ``margin_loss_rate`` × the line's value.

These are model estimates under the data's associations, not measured causal effects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from returnrisk.features.catalog import FEATURE_INDEX, FEATURE_NAMES, feature_label
from returnrisk.fixes.levers import INVESTIGATE, LEVER_GROUP
from returnrisk.fixes.suggestion import ShapEvidence
from returnrisk.model.bundle import ServingBundle
from returnrisk.scoring.batch import ordered_line_features
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY

__all__ = [
    "ESTIMATE_NOTE",
    "EVIDENCE_FEATURES",
    "LineScores",
    "counterfactual_columns",
    "rescored_drops",
    "sales_per_month",
    "score_recent_lines",
    "value_per_return",
]

log = logging.getLogger(__name__)

ESTIMATE_NOTE = {
    "en": "Returns avoided and savings are model estimates from the shop's history, not measured causal "
          "effects: check them with a before/after comparison once a fix is live.",
    "fr": "Les retours évités et les économies sont des estimations du modèle à partir de l'historique de la "
          "boutique, pas des effets causaux mesurés : vérifiez-les par une comparaison avant/après une fois "
          "la correction en ligne.",
}

#: Model features whose SHAP contributions are the evidence of each lever.
EVIDENCE_FEATURES: dict[str, tuple[str, ...]] = {
    "add_size_guide": ("has_size_guide", "product_too_small_rate", "product_too_large_rate"),
    "runs_small": ("product_too_small_rate", "product_fit_offset", "size_vs_fit"),
    "runs_large": ("product_too_large_rate", "product_fit_offset", "size_vs_fit"),
    "improve_photos": ("n_photos", "product_looks_different_rate"),
    "improve_description": ("description_length", "mentions_material", "mentions_dimensions", "mentions_fit",
                            "product_not_as_described_rate"),
    "quality_review": ("product_quality_rate",),
    "packaging_review": ("product_quality_rate",),
    INVESTIGATE: ("product_rate", "product_other_rate"),
}

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class LineScores:
    """The recent lines of some products, their features and explanations.

    ``X`` / ``X_page`` hold every picked line (for re-scoring); the SHAP contributions are of
    the ``shap_rows`` subset (the most recent lines of each product), which is enough for a
    mean contribution and keeps TreeSHAP affordable.
    """

    lines: pd.DataFrame              # product_id, ... (index aligned with X)
    X: np.ndarray                    # features as served (snapshot history)
    X_page: np.ndarray               # features with the product's own history set aside
    shap_rows: np.ndarray            # rows of ``X`` explained
    return_contrib: np.ndarray       # (len(shap_rows), features + 1) log-odds of a return
    reason_contrib: np.ndarray       # (len(shap_rows), groups, features + 1)
    _rows: dict = field(default_factory=dict, repr=False)
    _shap: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        ids = self.lines["product_id"].astype(str).to_numpy()
        self._rows = {pid: rows for pid, rows in pd.Series(np.arange(len(ids))).groupby(ids).agg(list).items()}
        shap_ids = ids[self.shap_rows] if len(self.shap_rows) else np.array([], dtype=object)
        self._shap = {pid: np.asarray(rows) for pid, rows in
                      pd.Series(np.arange(len(shap_ids))).groupby(shap_ids).agg(list).items()}

    def rows(self, product_id: str) -> np.ndarray:
        return np.asarray(self._rows.get(product_id, []), dtype=np.int64)

    def _explained(self, product_id: str) -> np.ndarray:
        return self._shap.get(product_id, np.array([], dtype=np.int64))

    def drivers(self, product_id: str, top: int = 6) -> list[dict]:
        """The product's largest mean contributions to the log-odds of a return."""
        rows = self._explained(product_id)
        if rows.size == 0:
            return []
        mean = self.return_contrib[rows, :-1].mean(axis=0)
        order = np.argsort(-np.abs(mean), kind="stable")[:top]
        return [{"feature": FEATURE_NAMES[i], "label": {"en": feature_label(FEATURE_NAMES[i], "en"),
                                                        "fr": feature_label(FEATURE_NAMES[i], "fr")},
                 "contribution": round(float(mean[i]), 4)} for i in order if mean[i] != 0]

    def contributions(self, product_id: str, lever: str) -> list[ShapEvidence]:
        """Mean SHAP contributions of the lever's features (return model and the lever's reason)."""
        rows = self._explained(product_id)
        if rows.size == 0:
            return []
        X = self.X[self.shap_rows[rows]]
        group = LEVER_GROUP.get(lever)
        groups = (group,) if group is not None else ("too_small", "too_large")
        out = []
        for name in EVIDENCE_FEATURES[lever]:
            i = FEATURE_INDEX[name]
            values = X[:, i]
            by_group = {f"contribution_{g_name}_score":
                        round(float(self.reason_contrib[rows, RETURN_GROUPS.index(g_name), i].mean()), 4)
                        for g_name in groups}
            out.append(ShapEvidence(
                feature=name,
                label={"en": feature_label(name, "en"), "fr": feature_label(name, "fr")},
                value=_round(float(np.nanmean(values))) if np.isfinite(values).any() else None,
                contribution_return_log_odds=round(float(self.return_contrib[rows, i].mean()), 4),
                **by_group,
            ))
        return out


def _round(value: float | None, digits: int = 3):
    return None if value is None or not np.isfinite(value) else round(value, digits)


def _pick_lines(lines: pd.DataFrame, product_ids: list[str], since: pd.Timestamp, cap: int) -> pd.DataFrame:
    """Per product, its lines since ``since`` (at most ``cap``, the latest); else its last ``cap`` lines."""
    chosen = lines[lines["product_id"].astype(str).isin(product_ids)]
    chosen = chosen.sort_values("ordered_at", kind="stable")
    recent = chosen[chosen["ordered_at"] >= since]
    have = set(recent["product_id"].astype(str))
    older = chosen[~chosen["product_id"].astype(str).isin(have)]
    picked = pd.concat([recent, older])
    return picked.groupby(picked["product_id"].astype(str), sort=False).tail(cap)


def score_recent_lines(bundle: ServingBundle, all_lines: pd.DataFrame, products: pd.DataFrame,
                       product_ids: list[str], since: pd.Timestamp, cap: int, shap_cap: int = 25) -> LineScores:
    """Features (served and page-only, :func:`~returnrisk.scoring.batch.ordered_line_features`) of
    the products' recent lines, and SHAP of the latest.

    ``all_lines`` are the shop's lines (for the order context of each line); ``products`` the
    shop's product table (attributes of products the model's snapshot does not know).
    """
    picked = _pick_lines(all_lines, product_ids, since, cap)
    features = ordered_line_features(bundle.snapshot, picked, all_lines, products)
    lines, X, X_page = features.lines, features.X, features.X_new_product
    ids = lines["product_id"].astype(str)
    shap_rows = np.flatnonzero(ids.groupby(ids).cumcount(ascending=False).to_numpy() < shap_cap)
    if shap_rows.size:
        explanation = bundle.model.explain(X[shap_rows])
        return_contrib, reason_contrib = explanation.return_contrib, explanation.reason_contrib
    else:
        return_contrib = np.zeros((0, len(FEATURE_NAMES) + 1))
        reason_contrib = np.zeros((0, len(RETURN_GROUPS), len(FEATURE_NAMES) + 1))
    log.info("fixes: %d recent lines of %d products to re-score, %d explained", len(lines), len(product_ids),
             shap_rows.size)
    return LineScores(lines, X, X_page, shap_rows, return_contrib, reason_contrib)


def counterfactual_columns(lever: str, category: str, current: pd.Series, typical: pd.DataFrame) -> dict[str, float]:
    """Feature values a page lever sets (the category's typical page), from the product's ``current``."""
    if category not in typical.index:
        return {}
    t = typical.loc[category]
    if lever == "add_size_guide":
        return {"has_size_guide": 1.0}
    if lever == "improve_photos":
        return {"n_photos": float(max(current.get("n_photos", 0) or 0, t["n_photos"]))}
    if lever == "improve_description":
        out = {"description_length": float(max(current.get("description_length", 0) or 0, t["description_length"]))}
        for name in ("mentions_material", "mentions_dimensions", "mentions_fit"):
            out[name] = float(max(current.get(name, 0) or 0, t[name]))
        return out
    return {}


def rescored_drops(bundle: ServingBundle, scores: LineScores,
                   requests: list[tuple[str, dict[str, float]]]) -> list[tuple[float, float, int]]:
    """Mean drop in P(return) per line of each ``(product_id, changed columns)`` request.

    Returns ``(page_only, with_history, lines)`` per request; all re-scoring is one batch.
    """
    blocks: list[np.ndarray] = []
    changed_blocks: list[np.ndarray] = []
    spans: list[tuple[int, int, int]] = []
    start = 0
    for product_id, columns in requests:
        rows = scores.rows(product_id)
        if rows.size == 0 or not columns:
            spans.append((start, start, int(rows.size)))
            continue
        for X in (scores.X_page, scores.X):
            base = X[rows]
            changed = base.copy()
            for name, value in columns.items():
                changed[:, FEATURE_INDEX[name]] = value
            blocks.append(base)
            changed_blocks.append(changed)
        spans.append((start, start + 2 * rows.size, int(rows.size)))
        start += 2 * rows.size
    if not blocks:
        return [(0.0, 0.0, n) for _, _, n in spans]
    base = np.vstack(blocks)
    p0 = _sigmoid(bundle.model.margin(base))
    p1 = _sigmoid(bundle.model.margin(np.vstack(changed_blocks)))
    drop = p0 - p1
    out = []
    for lo, hi, n in spans:
        if hi == lo:
            out.append((0.0, 0.0, n))
        else:
            out.append((float(drop[lo:lo + n].mean()), float(drop[lo + n:hi].mean()), n))
    return out


def sales_per_month(lines: pd.DataFrame, as_of: pd.Timestamp, recent_days: int) -> pd.DataFrame:
    """Per product: lines of the last ``recent_days`` per 30.44-day month on sale, and mean line value."""
    since = as_of - pd.Timedelta(days=recent_days)
    recent = lines[lines["ordered_at"] >= since]
    product = recent["product_id"].astype(str)
    first = lines.groupby(lines["product_id"].astype(str))["ordered_at"].min()
    value = (recent["unit_price"].astype(float) * recent["quantity"].astype(float))
    out = pd.DataFrame({"recent_lines": product.value_counts()})
    start = first.reindex(out.index).clip(lower=since)
    days = ((as_of - start).dt.total_seconds() / DAY).clip(lower=7.0)
    out["sales_per_month"] = out["recent_lines"] / days * 30.44
    out["line_value"] = value.groupby(product).mean().reindex(out.index)
    return out


def value_per_return(return_cost: float | None, line_value: float | None, params) -> tuple[float, float]:
    """``(return_cost, margin_loss)`` of one return (``return_cost`` from the data when known)."""
    cost = params.return_cost_per_unit if return_cost is None or not np.isfinite(return_cost) else float(return_cost)
    loss = 0.0 if line_value is None or not np.isfinite(line_value) else params.margin_loss_rate * float(line_value)
    return cost, loss
