"""Fixes with known effects, planted in a demo shop (``returnrisk demo-data --plant-fixes``).

The demo shop's planted causes include products without a size guide, with misleading photos
and with a poor description. With ``--plant-fixes`` some of them are *fixed* at a known date:
from that day on, their lines are sold with a size guide (customers size with it, as on guided
products), with corrected photos or with a corrected description (the cause's hazard cut to a
random remaining share in [0, 0.5]). As many other such products get a *placebo* fix: a live
date is recorded, nothing changes. The page attributes in ``products`` are the pages as they are
at the end (fixed pages show their guide, photos, description).

So that a before/after comparison of a product alone is wrong, the world changes meanwhile:
every product's hazard of each fixable reason (too small, too large, looks different, not as
described) drifts steadily (×0.55–0.74 or ×1.35–1.82 a year) and jumps on a random day
(×0.55–0.7 or ×1.45–1.8) — shop-wide changes that only a comparison with products that were
not fixed can tell from a fix.

Ground truth, in ``truth/``:

* ``planted_fixes.csv`` — one row per fix: ``product_id``, ``size`` (empty: whole
  product), ``lever``, ``kind`` (``planted`` / ``placebo``), ``live_at`` (date: lines ordered
  from that day on see the fix), ``remaining`` (share of the cause left; 1 for placebos),
  ``true_effect`` (change in the probability that a sale comes back for the lever's reasons,
  averaged over the product's lines ordered from ``live_at`` to 30 days before the end, the
  lines whose outcome is known at the end; 0 for placebos), ``true_effect_return`` (the same
  for any reason), ``true_rate_before`` (the lever's reason rate over the 182 days before),
  ``lines_before`` and ``lines_after`` (lines in those two periods);
* ``planted_shifts.csv`` — ``reason_code``, ``step_from`` (date), ``step_factor``,
  ``drift_factor_per_year`` (the hazard's factor over a year, centred on the middle of the history).

Off by default: without the option the generator does not call this module and the shop is
byte-identical to one generated without it (its random stream is separate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.demo.catalogue import _descriptions
from returnrisk.demo.orders import _size_pick
from returnrisk.demo.outcomes import reason_hazards
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import DAY

__all__ = ["PLANT_LEVERS", "PlantedFixes", "plant_fixes"]

#: Levers planted, with the reason codes whose rate each one changes (as in
#: :data:`returnrisk.fixes.levers.LEVER_REASONS`; not imported: the demo stays below ``fixes``).
PLANT_LEVERS: dict[str, tuple[str, ...]] = {
    "add_size_guide": ("too_small", "too_large"),
    "improve_photos": ("looks_different",),
    "improve_description": ("not_as_described",),
}
SHIFTED_REASONS: tuple[str, ...] = ("too_small", "too_large", "looks_different", "not_as_described")
BEFORE_DAYS = 182      # the period before a fix that eligibility and the truth look at
WINDOW_DAYS = 30       # the return window: lines younger than this at the end have no outcome yet
MIN_LINES = 50         # a fix is planted on a product with at least this many lines before and after
_STREAM = 17           # the planting's own random stream: the default shop's stream is untouched


@dataclass
class PlantedFixes:
    """The shop's inputs with the fixes applied, and the ground truth to write."""

    lines: pd.DataFrame
    products: pd.DataFrame
    hazards: np.ndarray
    fixes: pd.DataFrame
    shifts: pd.DataFrame

    def write(self, truth_dir: Path) -> None:
        self.fixes.to_csv(Path(truth_dir) / "planted_fixes.csv", index=False)
        self.shifts.to_csv(Path(truth_dir) / "planted_shifts.csv", index=False)


def _p_reasons(hazards: np.ndarray, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(P(return for one of columns), P(return))`` of each line under competing hazards."""
    total = hazards.sum(axis=1)
    p_return = 1.0 - np.exp(-total)
    return p_return * hazards[:, columns].sum(axis=1) / np.maximum(total, 1e-12), p_return


def _counts(product: np.ndarray, day: np.ndarray, products: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Lines of each ``products[i]`` ordered on days in ``[lo[i], hi[i])``."""
    key = product.astype(np.int64) * 100_000 + day
    key.sort()
    base = products.astype(np.int64) * 100_000
    return np.searchsorted(key, base + hi) - np.searchsorted(key, base + lo)


def _choose(rng: np.random.Generator, lines: pd.DataFrame, products: pd.DataFrame, days: int) -> pd.DataFrame:
    """Products to fix (planted) or pretend to fix (placebo), with their live day."""
    sized = products["size_system"].to_numpy() != "unsized"
    causes = {
        "add_size_guide": sized & ~products["has_size_guide"].to_numpy(dtype=bool),
        "improve_photos": products["misleading_photos"].to_numpy(dtype=bool),
        "improve_description": products["poor_description"].to_numpy(dtype=bool),
    }
    n = len(products)
    live = rng.integers(BEFORE_DAYS, days - WINDOW_DAYS - 90, n)
    line_product = lines["product_index"].to_numpy()
    line_day = lines["seconds"].to_numpy() // DAY
    every = np.arange(n)
    before = _counts(line_product, line_day, every, live - BEFORE_DAYS, live)
    after = _counts(line_product, line_day, every, live, np.full(n, days - WINDOW_DAYS))
    eligible = (before >= MIN_LINES) & (after >= MIN_LINES)
    taken = np.zeros(n, dtype=bool)
    rows = []
    for lever in rng.permutation(list(PLANT_LEVERS)):
        pool = np.flatnonzero(causes[lever] & eligible & ~taken)
        pool = rng.permutation(pool)
        k = pool.size // 3          # a third fixed, a third placebo, a third left as they are
        for kind, chosen in (("planted", pool[:k]), ("placebo", pool[k:2 * k])):
            taken[chosen] = True
            rows.extend({"product_index": int(i), "lever": str(lever), "kind": kind,
                         "live_day": int(live[i])} for i in chosen)
    chosen = pd.DataFrame(rows, columns=["product_index", "lever", "kind", "live_day"])
    return chosen.sort_values(["product_index"]).reset_index(drop=True)


def _with_size_guide(rng: np.random.Generator, lines: pd.DataFrame, products: pd.DataFrame,
                     customers: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``lines`` where ``rows`` (and their bracketing twins) were sized with a size guide."""
    out = lines.copy()
    rows = rows[out["twin_source"].to_numpy()[rows] < 0]   # twins follow their source below
    p = out["product_index"].to_numpy()[rows]
    c = out["customer_index"].to_numpy()[rows]
    system = out["size_system"].to_numpy()[rows]
    habit = np.zeros(rows.size)
    for name in np.unique(system):
        mask = system == name
        habit[mask] = customers[f"habit_{name}"].to_numpy()[c[mask]]
    fit_offset = products["fit_offset"].to_numpy()[p]
    pick, reads = _size_pick(rng, system, out["true_size"].to_numpy()[rows], habit, fit_offset,
                             np.ones(rows.size, dtype=bool), products["half_sizes"].to_numpy(dtype=bool)[p])
    old = out["size_ordinal"].to_numpy(dtype=float).copy()
    new = old.copy()
    new[rows] = pick
    read = out["reads_guide"].to_numpy(dtype=bool).copy()
    read[rows] = reads
    source = out["twin_source"].to_numpy()
    changed = np.zeros(len(out), dtype=bool)
    changed[rows] = True
    twins = np.flatnonzero((source >= 0) & changed[np.maximum(source, 0)])
    new[twins] = new[source[twins]] + (old[twins] - old[source[twins]])
    read[twins] = read[source[twins]]
    offset = products["fit_offset"].to_numpy()[out["product_index"].to_numpy()]
    touched = np.concatenate([rows, twins])
    fit_gap = out["fit_gap"].to_numpy(dtype=float).copy()
    fit_gap[touched] = new[touched] - (out["true_size"].to_numpy()[touched] + offset[touched])
    out["size_ordinal"] = new
    out["fit_gap"] = fit_gap
    out["reads_guide"] = read
    return out


def _shifts(rng: np.random.Generator, days: int, start: pd.Timestamp) -> pd.DataFrame:
    """Shop-wide changes of each fixable reason: a step on a random day and a steady drift."""
    k = len(SHIFTED_REASONS)
    step_day = rng.integers(int(0.25 * days), int(0.75 * days), k)
    up = rng.random(k) < 0.5
    step = np.where(up, rng.uniform(1.45, 1.8, k), rng.uniform(0.55, 0.7, k))
    drift = np.where(rng.random(k) < 0.5, 1.0, -1.0) * rng.uniform(0.3, 0.6, k)   # log-factor per year
    return pd.DataFrame({
        "reason_code": SHIFTED_REASONS,
        "step_from": (start + pd.to_timedelta(step_day, unit="D")).strftime("%Y-%m-%d"),
        "step_factor": step.round(3),
        "drift_factor_per_year": np.exp(drift).round(3),
        "step_day": step_day,
    })


def _shift_multipliers(shifts: pd.DataFrame, line_day: np.ndarray, days: int, n_codes: int) -> np.ndarray:
    """``(lines, codes)`` multipliers of the hazards (1 for the reasons not shifted)."""
    out = np.ones((line_day.size, n_codes))
    years = (line_day - days / 2) / 365.25
    for row in shifts.itertuples(index=False):
        col = REASON_CODES.index(row.reason_code)
        out[:, col] = np.exp(np.log(row.drift_factor_per_year) * years) * np.where(
            line_day >= row.step_day, row.step_factor, 1.0)
    return out


def plant_fixes(seed: int, lines: pd.DataFrame, products: pd.DataFrame, customers: pd.DataFrame,
                hazards: np.ndarray, start: pd.Timestamp, days: int) -> PlantedFixes:
    """Fixes and placebos planted in a generated shop (see the module docstring).

    ``hazards`` are the lines' reason hazards (:func:`returnrisk.demo.outcomes.reason_hazards`)
    before planting; ``start`` is the (naive UTC) first day of the history.
    """
    rng = np.random.default_rng([seed, _STREAM])
    chosen = _choose(rng, lines, products, days)
    shifts = _shifts(rng, days, start)
    line_product = lines["product_index"].to_numpy()
    line_day = lines["seconds"].to_numpy() // DAY
    live_of = np.full(len(products), np.iinfo(np.int64).max)
    live_of[chosen["product_index"].to_numpy()] = chosen["live_day"].to_numpy()
    after_live = line_day >= live_of[line_product]

    is_planted = (chosen["kind"] == "planted").to_numpy()
    remaining = np.where(is_planted, rng.uniform(0.0, 0.5, len(chosen)), 1.0)
    remaining[is_planted & (chosen["lever"] == "add_size_guide").to_numpy()] = 0.0   # the guide is there
    chosen["remaining"] = remaining.round(3)
    planted = chosen[is_planted]

    fixed_products = products.copy()
    for lever, cause in (("improve_photos", "misleading_photos"), ("improve_description", "poor_description")):
        rows = chosen[(chosen["lever"] == lever) & (chosen["kind"] == "planted")]
        column = fixed_products[cause].to_numpy(dtype=float, copy=True)
        column[rows["product_index"].to_numpy()] = rows["remaining"].to_numpy()
        fixed_products[cause] = column
    guided = planted.loc[planted["lever"] == "add_size_guide", "product_index"].to_numpy()
    guide_rows = np.flatnonzero(after_live & np.isin(line_product, guided))
    fixed_lines = _with_size_guide(rng, lines, products, customers, guide_rows)
    treated = after_live & np.isin(line_product, planted["product_index"].to_numpy())
    fixed_hazards = hazards.copy()
    if treated.any():
        fixed_hazards[treated] = reason_hazards(fixed_lines, fixed_products, customers, start)[treated]

    shift = _shift_multipliers(shifts, line_day, days, hazards.shape[1])
    unfixed, final = hazards * shift, fixed_hazards * shift

    # page attributes as they are at the end
    pages = products.copy()
    for lever, chosen_rows in planted.groupby("lever")["product_index"]:
        index = chosen_rows.to_numpy()
        if lever == "add_size_guide":
            pages.loc[index, "has_size_guide"] = True
        elif lever == "improve_photos":
            pages.loc[index, "n_photos"] = rng.integers(4, 9, index.size)
        else:
            pages.loc[index, "description"] = _descriptions(rng, np.zeros(index.size, dtype=bool))

    truth = _truth(chosen, products, unfixed, final, line_product, line_day, days, start)
    return PlantedFixes(fixed_lines, pages, final, truth, shifts.drop(columns=["step_day"]))


def _truth(chosen: pd.DataFrame, products: pd.DataFrame, unfixed: np.ndarray, final: np.ndarray,
           line_product: np.ndarray, line_day: np.ndarray, days: int, start: pd.Timestamp) -> pd.DataFrame:
    """One row per fix: the true effect over the lines whose outcome is known at the end."""
    order = np.argsort(line_product, kind="stable")
    bounds = np.searchsorted(line_product[order], np.arange(len(products) + 1))
    out = []
    for fix in chosen.itertuples(index=False):
        rows = order[bounds[fix.product_index]:bounds[fix.product_index + 1]]
        day = line_day[rows]
        columns = [REASON_CODES.index(code) for code in PLANT_LEVERS[fix.lever]]
        post = rows[(day >= fix.live_day) & (day < days - WINDOW_DAYS)]
        pre = rows[(day >= fix.live_day - BEFORE_DAYS) & (day < fix.live_day)]
        lever_final, return_final = _p_reasons(final[post], columns)
        lever_unfixed, return_unfixed = _p_reasons(unfixed[post], columns)
        lever_before, _ = _p_reasons(unfixed[pre], columns)
        planted = fix.kind == "planted"
        out.append({
            "product_id": products["product_id"].iat[fix.product_index],
            "size": None,
            "lever": fix.lever,
            "kind": fix.kind,
            "live_at": (start + pd.Timedelta(days=fix.live_day)).strftime("%Y-%m-%d"),
            "remaining": fix.remaining,
            "true_effect": round(float((lever_final - lever_unfixed).mean()), 6) if planted else 0.0,
            "true_effect_return": round(float((return_final - return_unfixed).mean()), 6) if planted else 0.0,
            "true_rate_before": round(float(lever_before.mean()), 6),
            "lines_before": int(pre.size),
            "lines_after": int(post.size),
        })
    frame = pd.DataFrame(out, columns=["product_id", "size", "lever", "kind", "live_at", "remaining", "true_effect",
                                       "true_effect_return", "true_rate_before", "lines_before", "lines_after"])
    return frame.sort_values(["kind", "lever", "product_id"]).reset_index(drop=True)
