"""Which levers each product needs, at every cut-off of a :class:`~returnrisk.fixes.counts.Panel`.

For a lever with reason codes ``R`` (see :mod:`returnrisk.fixes.levers`), a product with ``k``
such returns out of an exposure ``e`` has the beta posterior of
:mod:`returnrisk.evidence`, centred on a *reference* rate with a strength of
``max(prior_strength, prior_min_returns / reference)`` line-equivalents. The reference is

* the product's category (all its other products, leave-one-out; the shop's when the
  category has too little exposure) for every lever but ``add_size_guide``;
* for ``add_size_guide``, the category's *guided* sized products — those with a size guide
  and no fit problem flagged at that cut-off — i.e. what the product's size returns would
  be like with a guide.

``p_worse = P(rate > reference)``. A lever is suggested when its page condition holds and
``p_worse ≥ flag_threshold``; fit levers add a direction check and a second route, the
sizes customers kept (see :func:`_fit_rule`).

``investigate_returns`` weighs every return of the product against its category's return
rate, where the cause is unknown: at that cut-off more than :data:`UNKNOWN_SHARE` of the
product's returns carry no reason and no other lever passes; "well above" is
``P(rate > INVESTIGATE_RATIO × reference) ≥ flag_threshold`` (see :func:`_investigate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist
from scipy.stats import norm

from returnrisk.evidence import credible_interval, excess_probability
from returnrisk.fixes.counts import CODES, Panel
from returnrisk.fixes.levers import INVESTIGATE, LEVER_REASONS, LEVERS
from returnrisk.fixes.params import FixParams
from returnrisk.taxonomy import NO_REASON

__all__ = [
    "INVESTIGATE_RATIO",
    "MIN_REFERENCE_EXPOSURE",
    "UNKNOWN_SHARE",
    "Detection",
    "FitEvidence",
    "LeverEvidence",
    "category_typical",
    "detect",
    "page_conditions",
    "reason_rates",
]

#: Below this exposure (line-equivalents) a category is too small a reference: the shop's is used.
MIN_REFERENCE_EXPOSURE = 200.0
#: Fit levers: the direction's share of size returns must have at least these odds relative to
#: the reference split of too-small vs too-large returns (so that a product returned for both
#: directions — a missing guide, not a wrong size chart — is not said to run small or large).
SHARE_ODDS = 2.0
#: Levers whose reason is rare in a normal product: besides being worse than the reference, the
#: rate must be ``material_ratio`` × the reference with probability ≥ threshold (a product sold to a
#: fussier clientele is a little worse on everything; a quality problem is several times worse).
MATERIAL_LEVERS = ("improve_photos", "improve_description", "quality_review", "packaging_review")
#: ``investigate_returns``: the cause of a product's returns is unknown when more than this share
#: of them carry no reason (given or read from the text).
UNKNOWN_SHARE = 0.5
#: ``investigate_returns``: "well above comparable products" — the product's return rate must be
#: above this multiple of its reference with probability ≥ the flag threshold (every product
#: differs a little; a product to look at differs a lot). Measured on the real-shop fixture
#: (``tests/test_fixes_investigate.py``; docs/fixes.md).
INVESTIGATE_RATIO = 1.25


@dataclass
class LeverEvidence:
    """Arrays ``(products, cutoffs)`` of one lever's evidence."""

    lever: str
    k: np.ndarray
    exposure: np.ndarray
    reference: np.ndarray
    p_worse: np.ndarray
    post_mean: np.ndarray
    strength: np.ndarray
    eligible: np.ndarray          # (products,) the page condition
    passes: np.ndarray            # eligible & evidence
    confidence: np.ndarray
    category_scope: np.ndarray    # True where the reference is the category's (else the shop's)

    @property
    def rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.exposure > 0, self.k / self.exposure, np.nan)

    @property
    def excess(self) -> np.ndarray:
        """Posterior-mean excess over the reference (≥ 0): the shrunk rate minus the reference."""
        return np.maximum(self.post_mean - self.reference, 0.0)

    def interval(self, i: int, w: int, level: float) -> tuple[float, float]:
        lo, hi = credible_interval(self.k[i, w], self.exposure[i, w], self.reference[i, w],
                                   float(self.strength[i, w]), level)
        return float(lo), float(hi)


@dataclass
class FitEvidence:
    """Kept-size offsets ``(products, cutoffs)``: ``offset`` is the posterior mean (size steps)."""

    offset: np.ndarray
    reference: np.ndarray
    count: np.ndarray
    sd: np.ndarray
    p_small: np.ndarray           # P(offset - reference > fit_margin): customers size up
    p_large: np.ndarray
    share_small: np.ndarray       # P(too-small share of size returns is SHARE_ODDS× the reference's)
    share_large: np.ndarray


@dataclass
class Detection:
    """Evidence of every lever for every product of a panel, at every cut-off."""

    panel: Panel
    products: pd.DataFrame        # aligned with panel.keys
    levers: dict[str, LeverEvidence]
    fit: FitEvidence
    params: FixParams
    typical: pd.DataFrame = field(default_factory=pd.DataFrame)

    def first_flag(self, lever: str) -> np.ndarray:
        """Index of the first cut-off at which ``lever`` passed, per product (-1: never)."""
        passes = self.levers[lever].passes
        first = np.argmax(passes, axis=1)
        return np.where(passes.any(axis=1), first, -1)

    @property
    def any_passes(self) -> np.ndarray:
        return np.any([ev.passes for ev in self.levers.values()], axis=0)


def category_typical(attrs: pd.DataFrame) -> pd.DataFrame:
    """Per category, the typical page: median photos and description length, usual guide and mentions."""
    frame = attrs.copy()
    frame["has_size_guide"] = pd.to_numeric(frame["has_size_guide"], errors="coerce")
    sized = frame[frame["size_system"].astype(str) != "unsized"]
    typical = frame.groupby("category").agg(
        n_photos=("n_photos", "median"),
        description_length=("description_length", "median"),
        mentions_material=("mentions_material", "mean"),
        mentions_dimensions=("mentions_dimensions", "mean"),
        mentions_fit=("mentions_fit", "mean"),
    )
    guide = sized.groupby("category")["has_size_guide"].mean()
    typical["has_size_guide"] = guide.reindex(typical.index)
    for column in ("mentions_material", "mentions_dimensions", "mentions_fit", "has_size_guide"):
        typical[column] = (typical[column] >= 0.5).astype(float)   # the usual value
    return typical


def page_conditions(products: pd.DataFrame, typical: pd.DataFrame, params: FixParams) -> dict[str, np.ndarray]:
    """The page condition of each lever, per product (missing attributes never qualify)."""
    sized = products["size_system"].astype(str).ne("unsized").to_numpy()
    guide = pd.to_numeric(products["has_size_guide"], errors="coerce").to_numpy(dtype=float)
    photos = products["n_photos"].to_numpy(dtype=float)
    typical_photos = typical["n_photos"].reindex(products["category"]).to_numpy(dtype=float)
    length = products["description_length"].to_numpy(dtype=float)
    typical_length = typical["description_length"].reindex(products["category"]).to_numpy(dtype=float)
    mentions = products[["mentions_material", "mentions_dimensions", "mentions_fit"]].to_numpy(dtype=float)
    vague = np.nansum(mentions, axis=1) < 2
    short = length < params.short_description_ratio * typical_length
    everyone = np.ones(len(products), dtype=bool)
    return {
        "add_size_guide": sized & (guide == 0),
        "runs_small": sized,
        "runs_large": sized,
        "improve_photos": photos < params.few_photos_ratio * typical_photos,
        "improve_description": np.nan_to_num(short, nan=False).astype(bool) | vague,
        "quality_review": everyone,
        "packaging_review": everyone,
        INVESTIGATE: everyone,   # decided per cut-off by the share of returns without reason
    }


def _group_sum(values: np.ndarray, groups: np.ndarray, n_groups: int, mask: np.ndarray) -> np.ndarray:
    """Sum of ``values`` rows (``mask``-ed) per group: ``(n_groups, cutoffs)``."""
    masked = np.where(mask[:, None] if mask.ndim == 1 else mask, values, 0.0)
    order = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[order], np.arange(n_groups))
    out = np.zeros((n_groups, values.shape[1]))
    present = np.bincount(groups, minlength=n_groups) > 0
    if present.any():
        sums = np.add.reduceat(masked[order], starts[present], axis=0)
        out[present] = sums
    return out


def _reference(k: np.ndarray, e: np.ndarray, groups: np.ndarray, n_groups: int, pool: np.ndarray,
               leave_out: np.ndarray) -> np.ndarray:
    """Rate of the product's category pool (minus the product itself if it is in the pool).

    ``pool`` is ``(products,)`` or ``(products, cutoffs)``; the shop's pool is used where the
    category has less than :data:`MIN_REFERENCE_EXPOSURE` of exposure.
    """
    pool2 = pool if pool.ndim == 2 else np.broadcast_to(pool[:, None], k.shape)
    own = np.where(pool2 & leave_out[:, None], 1.0, 0.0)
    k_cat = _group_sum(k, groups, n_groups, pool2)[groups] - own * k
    e_cat = _group_sum(e, groups, n_groups, pool2)[groups] - own * e
    k_shop = np.where(pool2, k, 0).sum(axis=0)[None, :] - own * k
    e_shop = np.where(pool2, e, 0).sum(axis=0)[None, :] - own * e
    use_cat = e_cat >= MIN_REFERENCE_EXPOSURE
    with np.errstate(divide="ignore", invalid="ignore"):
        # a pool without any such return yet counts half a return (a rate of 0 is no reference)
        cat_rate = np.maximum(k_cat, 0.5) / e_cat
        shop_rate = np.maximum(k_shop, 0.5) / e_shop
        ref = np.where(use_cat, cat_rate, np.where(e_shop >= MIN_REFERENCE_EXPOSURE, shop_rate, np.nan))
    return ref, use_cat


def _excess_probability(k: np.ndarray, e: np.ndarray, ref: np.ndarray, strength: np.ndarray,
                        valid: np.ndarray) -> np.ndarray:
    """:func:`returnrisk.evidence.excess_probability`, exact where it can matter.

    Where the posterior mean is at or below the reference the probability is below one half
    and can flag nothing: a normal approximation of the same posterior stands in there (the
    exact incomplete beta costs microseconds per cell, and a panel has millions of cells).
    """
    a = k + strength * ref
    b = np.maximum(e, k) - k + strength * (1 - ref)
    mean = a / (a + b)
    sd = np.sqrt(mean * (1 - mean) / (a + b + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = norm.cdf((mean - ref) / np.maximum(sd, 1e-12))
    exact = valid & (mean > ref)
    if exact.any():
        p[exact] = excess_probability(k[exact], e[exact], ref[exact], strength[exact])
    return np.where(valid, p, 0.0)


def _evidence(lever: str, k: np.ndarray, e: np.ndarray, reference: tuple[np.ndarray, np.ndarray],
              eligible: np.ndarray, params: FixParams) -> LeverEvidence:
    ref, scope = reference
    valid = np.isfinite(ref) & (ref > 0)
    safe_ref = np.where(valid, ref, 0.5)
    strength = np.maximum(params.prior_strength, params.prior_min_returns / np.clip(safe_ref, 1e-4, None))
    p = _excess_probability(k, e, safe_ref, strength, valid)
    post = (k + strength * safe_ref) / (np.maximum(e, k) + strength)
    passes = eligible[:, None] & valid & (p >= params.flag_threshold)
    confidence = p.copy()
    ratio = params.material_ratio if lever in MATERIAL_LEVERS else 1.0
    if ratio > 1.0:
        # material excess: P(rate > ratio × reference), same posterior; only where it can matter
        material = np.zeros_like(p)
        need = passes
        if need.any():
            a = k[need] + strength[need] * safe_ref[need]
            b = np.maximum(e, k)[need] - k[need] + strength[need] * (1 - safe_ref[need])
            material[need] = beta_dist.sf(np.clip(ratio * safe_ref[need], 1e-6, 1 - 1e-6), a, b)
        passes = passes & (material >= params.flag_threshold)
        confidence = np.where(passes | need, material, p)
    return LeverEvidence(lever, k, e, np.where(valid, ref, np.nan), p, np.where(valid, post, np.nan), strength,
                         eligible, passes, confidence, scope)


def _fit_evidence(panel: Panel, sized: np.ndarray, groups: np.ndarray, n_groups: int, kept_sd: float,
                  small: LeverEvidence, large: LeverEvidence, params: FixParams) -> FitEvidence:
    ks, kc = panel.kept_sum, panel.kept_count
    m_ref = _median_offset(ks, kc, groups, n_groups, sized, params.min_kept_for_fit)
    kappa = params.fit_prior_lines
    offset = (ks + kappa * m_ref) / (kc + kappa)
    sd = kept_sd / np.sqrt(kc + kappa)
    p_small = norm.sf((params.fit_margin - (offset - m_ref)) / sd)
    p_large = norm.sf((params.fit_margin + (offset - m_ref)) / sd)
    # direction of the size returns: share of too-small among size returns vs the category's
    # typical split (median over its products: robust to the products that run small or large)
    pi = _median_share(small.k, large.k, groups, n_groups, sized)
    pi_small = SHARE_ODDS * pi / (SHARE_ODDS * pi + 1 - pi)
    pi_large = SHARE_ODDS * (1 - pi) / (SHARE_ODDS * (1 - pi) + pi)
    thr = params.flag_threshold
    share_small = _share_probability(pi_small, small.k, large.k, small.p_worse >= thr)
    share_large = _share_probability(pi_large, large.k, small.k, large.p_worse >= thr)
    return FitEvidence(offset, m_ref, kc, sd, p_small, p_large, share_small, share_large)


def _median_offset(ks: np.ndarray, kc: np.ndarray, groups: np.ndarray, n_groups: int, sized: np.ndarray,
                   min_kept: int) -> np.ndarray:
    """The category's typical kept-size offset at each cut-off: the median over its sized
    products with at least ``min_kept`` kept lines of their mean offset (robust to the minority
    of products that run small or large); the shop's median where a category has fewer than
    five such products, 0 where the shop has none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where((kc >= min_kept) & sized[:, None], ks / np.maximum(kc, 1e-9), np.nan)
    return _group_median(mean, groups, n_groups, default=0.0)


def _median_share(k_small: np.ndarray, k_large: np.ndarray, groups: np.ndarray, n_groups: int,
                  sized: np.ndarray, min_returns: int = 10) -> np.ndarray:
    """The category's typical share of too-small among size returns at each cut-off: the
    median over its sized products with at least ``min_returns`` size returns (the shop's, or
    one half, where too few products qualify); clipped to [0.05, 0.95]."""
    total = k_small + k_large
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where((total >= min_returns) & sized[:, None], k_small / np.maximum(total, 1e-9), np.nan)
    out = _group_median(share, groups, n_groups, default=0.5)
    return np.clip(out, 0.05, 0.95)


def _group_median(values: np.ndarray, groups: np.ndarray, n_groups: int, default: float,
                  min_members: int = 5) -> np.ndarray:
    """Per product and cut-off, the median of ``values`` (NaN = not counted) over its group;
    the median over all products where the group has fewer than ``min_members`` values, and
    ``default`` where everything is missing."""
    counts = np.isfinite(values)
    shop = np.full(values.shape[1], default)
    enough_shop = counts.sum(axis=0) >= min_members
    if enough_shop.any():
        shop[enough_shop] = np.nanmedian(values[:, enough_shop], axis=0)
    out = np.broadcast_to(shop, values.shape).copy()
    for g in range(n_groups):
        members = groups == g
        block = values[members]
        enough = np.isfinite(block).sum(axis=0) >= min_members
        if enough.any():
            out[np.ix_(members, np.flatnonzero(enough))] = np.nanmedian(block[:, enough], axis=0)
    return out


def _share_probability(pi: np.ndarray, k_dir: np.ndarray, k_other: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """``P(share > pi)`` under ``Beta(k_dir + 1, k_other + 1)``, computed where ``needed`` (else 0)."""
    out = np.zeros(k_dir.shape)
    if needed.any():
        out[needed] = beta_dist.sf(pi[needed], k_dir[needed] + 1, k_other[needed] + 1)
    return out


def _fit_rule(ev: LeverEvidence, fit: FitEvidence, direction: int, params: FixParams) -> None:
    """Fit levers: returns evidence with a direction check, or the kept sizes on their own.

    * returns: ``p_worse ≥ threshold`` and the direction is confirmed — either the customers
      who kept the product took a size at least ``fit_margin`` away from their usual one (in
      the lever's direction, relative to the category; needs ``min_kept_for_fit`` kept lines),
      or the lever's direction holds ``SHARE_ODDS``× its reference share of size returns with
      probability ≥ threshold (a product returned as both too small and too large lacks a
      guide rather than running small or large);
    * kept sizes: ``P(kept offset beyond fit_margin) ≥ threshold`` with enough kept lines — a
      product whose size guide (or reputation) makes customers size up runs small even when
      few return it: its chart is wrong and every customer who does not compensate pays.
    """
    thr = params.flag_threshold
    enough = fit.count >= params.min_kept_for_fit
    shift = direction * (fit.offset - fit.reference)
    p_fit = fit.p_small if direction > 0 else fit.p_large
    share = fit.share_small if direction > 0 else fit.share_large
    confirmed = (enough & (shift >= params.fit_margin)) | (share >= thr)
    by_returns = (ev.p_worse >= thr) & confirmed
    by_kept = enough & (p_fit >= thr)
    ev.passes = ev.eligible[:, None] & np.isfinite(ev.reference) & (by_returns | by_kept)
    ev.confidence = np.where(by_returns, ev.p_worse, np.where(by_kept, p_fit, np.minimum(ev.p_worse, p_fit)))


def _investigate(panel: Panel, groups: np.ndarray, n_groups: int, levers: dict[str, LeverEvidence],
                 params: FixParams) -> LeverEvidence:
    """``investigate_returns``: every return against the category's return rate, where no cause is known.

    At each cut-off the lever may pass only where more than :data:`UNKNOWN_SHARE` of the product's
    returns have no reason and no other lever passes; it then needs ``p_worse ≥ threshold`` and,
    for "well above", ``P(rate > INVESTIGATE_RATIO × reference) ≥ threshold`` (same posterior).
    """
    k = panel.k(LEVER_REASONS[INVESTIGATE])
    e = panel.exposure
    everyone = np.ones(k.shape[0], dtype=bool)
    ev = _evidence(INVESTIGATE, k, e, _reference(k, e, groups, n_groups, everyone, everyone), everyone, params)
    unknown = panel.k((NO_REASON,))
    explained = np.any([other.passes for other in levers.values()], axis=0)
    unknown_cause = (unknown > UNKNOWN_SHARE * k) & ~explained
    need = ev.passes & unknown_cause
    well_above = np.zeros_like(ev.p_worse)
    if need.any():
        ref = np.where(np.isfinite(ev.reference), ev.reference, 0.5)
        a = k[need] + ev.strength[need] * ref[need]
        b = np.maximum(e, k)[need] - k[need] + ev.strength[need] * (1 - ref[need])
        well_above[need] = beta_dist.sf(np.clip(INVESTIGATE_RATIO * ref[need], 1e-6, 1 - 1e-6), a, b)
    ev.passes = need & (well_above >= params.flag_threshold)
    ev.confidence = np.where(need, well_above, ev.p_worse)
    ev.eligible = unknown_cause[:, -1]
    return ev


def detect(panel: Panel, products: pd.DataFrame, params: FixParams, *, kept_sd: float = 0.6,
           typical: pd.DataFrame | None = None) -> Detection:
    """Evidence and decisions of every lever (see the module docstring).

    ``products`` holds, aligned with ``panel.keys``, ``category``, ``size_system``,
    ``has_size_guide``, ``n_photos``, ``description_length`` and ``mentions_*``;
    ``typical`` is :func:`category_typical` of the whole catalogue (default: of ``products``).
    """
    products = products.reset_index(drop=True)
    typical = category_typical(products) if typical is None else typical
    conditions = page_conditions(products, typical, params)
    groups, categories = pd.factorize(products["category"].astype(object).fillna(""))
    n_groups = len(categories)
    sized = products["size_system"].astype(str).ne("unsized").to_numpy()
    everyone = np.ones(len(products), dtype=bool)
    e = panel.exposure
    levers: dict[str, LeverEvidence] = {}
    for lever in LEVERS:
        if lever in ("add_size_guide", INVESTIGATE):
            continue
        k = panel.k(LEVER_REASONS[lever])
        pool = sized if lever in ("runs_small", "runs_large") else everyone
        ref = _reference(k, e, groups, n_groups, pool, everyone)
        levers[lever] = _evidence(lever, k, e, ref, conditions[lever], params)
    fit = _fit_evidence(panel, sized, groups, n_groups, kept_sd, levers["runs_small"], levers["runs_large"], params)
    _fit_rule(levers["runs_small"], fit, +1, params)
    _fit_rule(levers["runs_large"], fit, -1, params)

    k = panel.k(LEVER_REASONS["add_size_guide"])
    guide = pd.to_numeric(products["has_size_guide"], errors="coerce").to_numpy(dtype=float) == 1
    fit_flagged = levers["runs_small"].passes | levers["runs_large"].passes
    pool = (sized & guide)[:, None] & ~fit_flagged
    ref = _reference(k, e, groups, n_groups, pool, everyone)
    levers["add_size_guide"] = _evidence("add_size_guide", k, e, ref, conditions["add_size_guide"], params)
    levers[INVESTIGATE] = _investigate(panel, groups, n_groups, levers, params)
    ordered = {lever: levers[lever] for lever in LEVERS}
    return Detection(panel, products, ordered, fit, params, typical)


def reason_rates(panel: Panel, products: pd.DataFrame, params: FixParams, column: int = -1) -> dict[str, pd.DataFrame]:
    """Per reason code, at one cut-off: returns, rate, category reference and ``p_worse`` per product.

    The profile a report shows next to the levers (every code, not only the levers' ones).
    """
    products = products.reset_index(drop=True)
    groups, categories = pd.factorize(products["category"].astype(object).fillna(""))
    everyone = np.ones(len(products), dtype=bool)
    e = panel.exposure[:, [column]]
    out = {}
    for code in CODES:
        k = panel.k((code,))[:, [column]]
        ev = _evidence(code, k, e, _reference(k, e, groups, len(categories), everyone, everyone), everyone, params)
        out[code] = pd.DataFrame({"returns": k[:, 0], "rate": ev.rate[:, 0], "reference": ev.reference[:, 0],
                                  "p_worse": ev.p_worse[:, 0]}, index=panel.keys)
    return out
