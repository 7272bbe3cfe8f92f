"""Which levers pass at the as-of date: one candidate per (product, lever), or per size.

A product's lever is a candidate when its evidence passes at the last cut-off
(:mod:`returnrisk.fixes.detect`). A fit problem that lives in some sizes only becomes one
candidate per such size instead (:func:`size_candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from returnrisk.evidence import excess_probability
from returnrisk.fixes.counts import ReasonHistory
from returnrisk.fixes.detect import SHARE_ODDS, Detection
from returnrisk.fixes.levers import INVESTIGATE, LEVER_REASONS
from returnrisk.fixes.params import FixParams
from returnrisk.taxonomy import NO_REASON

__all__ = ["Candidate", "lever_candidates", "prior_strength", "size_candidates"]


def prior_strength(ref: float, params: FixParams) -> float:
    """Prior strength of a reference rate: at least ``prior_min_returns`` pseudo-returns."""
    return max(params.prior_strength, params.prior_min_returns / max(ref, 1e-4))


@dataclass
class Candidate:
    """A lever that passes on a product (or one of its sizes): its counts and posterior at the as-of."""

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


def size_candidates(rh: ReasonHistory, det: Detection, params: FixParams) -> tuple[list[Candidate], set]:
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
    candidates: list[Candidate] = []
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
        p_rest = float(excess_probability(max(k_rest, 0.0), e_rest, ref, prior_strength(ref, params)))
        if p_rest >= 0.5:
            continue
        replaced.add((row, lever))
        for m in members:
            k_dir = (k_small if lever == "runs_small" else k_large)[m]
            candidates.append(Candidate(
                row, lever, pairs["size"].iat[m], float(k_dir), float(e[m]), float(sp.n[m, 0]),
                float(ev.reference[row, -1]), float(p_of[lever][m]), float(p_of[lever][m]), -1,
                {code: float(k_dir)}))
    _date_size_candidates(rh, det, candidates, pairs, n_sizes, params)
    return candidates, replaced


def _date_size_candidates(rh: ReasonHistory, det: Detection, candidates: list[Candidate], pairs: pd.DataFrame,
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


def lever_candidates(det: Detection, replaced: set) -> list[Candidate]:
    """The product-wide candidates: every lever passing at the last cut-off, except the
    ``(product row, lever)`` pairs in ``replaced`` (flagged per size instead)."""
    panel = det.panel
    candidates: list[Candidate] = []
    for lever, ev in det.levers.items():
        first = det.first_flag(lever)
        for row in np.flatnonzero(ev.passes[:, -1]):
            if (row, lever) in replaced:
                continue
            codes = {code: float(panel.k((code,))[row, -1]) for code in LEVER_REASONS[lever]}
            if lever == INVESTIGATE:  # every reason counts: show the ones the product has (and "unknown")
                codes = {code: k for code, k in codes.items() if k > 0 or code == NO_REASON}
            candidates.append(Candidate(int(row), lever, None, float(ev.k[row, -1]), float(ev.exposure[row, -1]),
                                        float(panel.n[row, -1]), float(ev.reference[row, -1]),
                                        float(ev.p_worse[row, -1]), float(ev.confidence[row, -1]),
                                        int(first[row]), codes,
                                        float(panel.n[row, first[row]]) if first[row] >= 0 else None))
    return candidates
