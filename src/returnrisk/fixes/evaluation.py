"""Suggestions against a known truth (the demo shop's planted causes): precision, recall, early warning.

``truth`` is ``DIR/truth/products.csv`` of a demo shop: one row per product with ``levers``, the
planted causes as lever names separated by ``;``. A size-level suggestion counts for its
product. Only products with at least ``min_sales`` sales at the as-of date are scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.fixes.detect import Detection
from returnrisk.fixes.levers import LEVERS

__all__ = ["early_warning", "lever_scores", "planted", "read_truth"]


def read_truth(data_dir: str | Path) -> pd.DataFrame:
    """``truth/products.csv`` of a demo shop, indexed by ``product_id``."""
    path = Path(data_dir) / "truth" / "products.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the ground truth exists for demo shops only")
    truth = pd.read_csv(path, dtype={"product_id": str, "levers": str}, keep_default_na=False)
    return truth.set_index("product_id")


def planted(truth: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame ``(products, LEVERS)``: which levers each product truly needs."""
    sets = truth["levers"].fillna("").map(lambda text: set(filter(None, str(text).split(";"))))
    return pd.DataFrame({lever: sets.map(lambda s, lever=lever: lever in s) for lever in LEVERS}, index=truth.index)


def lever_scores(fixes: list[dict], truth: pd.DataFrame, sales: pd.Series, min_sales: int = 50) -> pd.DataFrame:
    """Per lever (and ``all``): products truly needing it, suggested, TP, FP, FN, precision, recall.

    ``sales`` is the number of lines per product at the as-of date.
    """
    eligible = sales.reindex(truth.index).fillna(0) >= min_sales
    truth_flags = planted(truth)[eligible]
    suggested = pd.DataFrame(False, index=truth_flags.index, columns=list(LEVERS))
    for fix in fixes:
        if fix["product_id"] in suggested.index:
            suggested.loc[fix["product_id"], fix["lever"]] = True
    rows = []
    for lever in list(LEVERS) + ["all"]:
        t = truth_flags.to_numpy().ravel() if lever == "all" else truth_flags[lever].to_numpy()
        p = suggested.to_numpy().ravel() if lever == "all" else suggested[lever].to_numpy()
        tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
        rows.append({"lever": lever, "truth": int(t.sum()), "suggested": int(p.sum()), "tp": tp, "fp": fp, "fn": fn,
                     "precision": tp / (tp + fp) if tp + fp else np.nan,
                     "recall": tp / (tp + fn) if tp + fn else np.nan})
    out = pd.DataFrame(rows).set_index("lever")
    out.attrs["products"] = int(eligible.sum())
    return out


def early_warning(detection: Detection, truth: pd.DataFrame) -> pd.DataFrame:
    """When products would first have been flagged (weekly as-of evaluations over the history).

    Per lever and overall (``any``: a product flagged for any lever, "defective" = any planted
    cause): products truly needing it and how many were flagged at some point, the median sales
    at their first flag; products not needing it that were flagged at some point (false flags),
    the median sales at that flag, and how many are still flagged at the as-of date.
    """
    panel = detection.panel
    flags = planted(truth).reindex(panel.keys).fillna(False).astype(bool)
    rows = []
    for lever in list(LEVERS) + ["any"]:
        passes = detection.any_passes if lever == "any" else detection.levers[lever].passes
        truly = flags.any(axis=1).to_numpy() if lever == "any" else flags[lever].to_numpy()
        ever = passes.any(axis=1)
        first = np.where(ever, np.argmax(passes, axis=1), 0)
        at_flag = panel.n[np.arange(len(first)), first]
        caught, false = truly & ever, ~truly & ever
        rows.append({
            "lever": lever, "true": int(truly.sum()), "flagged": int(caught.sum()),
            "median_sales_at_flag": float(np.median(at_flag[caught])) if caught.any() else np.nan,
            "p25_sales_at_flag": float(np.percentile(at_flag[caught], 25)) if caught.any() else np.nan,
            "not_true": int((~truly).sum()), "false_flags_ever": int(false.sum()),
            "median_sales_at_false_flag": float(np.median(at_flag[false])) if false.any() else np.nan,
            "false_flags_now": int((~truly & passes[:, -1]).sum()),
        })
    return pd.DataFrame(rows).set_index("lever")
