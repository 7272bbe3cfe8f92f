"""How often the recommended size is the one that truly fits (demo shop, against its ground truth)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.features.attributes import size_position
from returnrisk.scoring.explained import ExplainedScorer
from returnrisk.scoring.size_advice import size_advice

__all__ = ["SizeAdviceEvaluation", "evaluate_size_advice"]


@dataclass
class SizeAdviceEvaluation:
    table: pd.DataFrame      # one row per (customer, product) pair evaluated
    summary: pd.DataFrame    # accuracy by product fit: all, runs_small, runs_large, true_to_size


def _nearest(offered: np.ndarray, labels: list[str], target: np.ndarray) -> np.ndarray:
    index = np.nanargmin(np.abs(offered[None, :] - target[:, None]), axis=1)
    return np.array(labels, dtype=object)[index]


def evaluate_size_advice(scorer: ExplainedScorer, demo: str | Path, *, start: pd.Timestamp,
                         days: int = 60, max_pairs: int = 3000, seed: int = 0) -> SizeAdviceEvaluation:
    """Compare the advice with the truly fitting size on lines ordered in ``[start, start + days)``.

    Only (customer, product) pairs with a *known* customer — a size profile in the product's size
    system at the snapshot — are evaluated; the naive advice is "take your usual size": the size
    the customer ordered most often in that system before ``start``.
    """
    demo = Path(demo)
    lines = pd.read_csv(demo / "order_lines.csv", usecols=["line_id", "customer_id", "product_id", "size",
                                                            "ordered_at"])
    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"], utc=True, format="ISO8601")
    truth = pd.read_parquet(demo / "truth" / "lines.parquet",
                            columns=["line_id", "fitting_ordinal", "size_system"])
    products = pd.read_csv(demo / "truth" / "products.csv", usecols=["product_id", "runs_small", "runs_large"])
    lines = lines.merge(truth, on="line_id")
    sized = lines[lines["size_system"] != "unsized"]
    before = sized[sized["ordered_at"] < start]
    usual = (before.groupby(["customer_id", "size_system"])["size"].agg(lambda s: s.value_counts().index[0])
             .rename("usual_label"))
    window = sized[(sized["ordered_at"] >= start) & (sized["ordered_at"] < start + pd.Timedelta(days=days))]
    window = window.drop_duplicates(["customer_id", "product_id"])
    window = window[window["product_id"].isin(scorer.sizes)]
    profiles = scorer.snapshot.profiles.index
    keys = window["customer_id"].astype(str) + "\x1f" + window["size_system"].astype(str)
    window = window[keys.isin(profiles).to_numpy()]
    window = window.join(usual, on=["customer_id", "size_system"]).dropna(subset=["usual_label"])
    if len(window) > max_pairs:
        window = window.sample(max_pairs, random_state=seed)
    rows = []
    for row in window.itertuples(index=False):
        offered = scorer.offered_sizes(row.product_id)
        ordinals, _ = size_position(pd.Series(offered), np.full(len(offered), row.size_system, dtype=object))
        truly = _nearest(ordinals, offered, np.array([row.fitting_ordinal]))[0]
        usual_ord, _ = size_position(pd.Series([row.usual_label]), np.array([row.size_system], dtype=object))
        naive = row.usual_label if row.usual_label in offered else _nearest(ordinals, offered, usual_ord)[0]
        advice = size_advice(scorer, row.product_id, row.customer_id)
        rows.append({"customer_id": row.customer_id, "product_id": row.product_id, "truly_fits": truly,
                     "recommended": advice.recommended_size, "naive_usual": naive, "ordered": row.size,
                     "confidence": advice.confidence})
    table = pd.DataFrame(rows).merge(products, on="product_id", how="left")
    table["fit"] = np.where(table["runs_small"], "runs_small", np.where(table["runs_large"], "runs_large",
                                                                         "true_to_size"))
    table["advice_right"] = table["recommended"] == table["truly_fits"]
    table["naive_right"] = table["naive_usual"] == table["truly_fits"]
    table["ordered_right"] = table["ordered"] == table["truly_fits"]
    groups = {"all": table, **{name: g for name, g in table.groupby("fit")}}
    summary = pd.DataFrame([
        {"products": name, "pairs": len(g), "advice": g["advice_right"].mean(), "naive_usual_size": g["naive_right"].mean(),
         "what_they_ordered": g["ordered_right"].mean()}
        for name, g in groups.items()
    ]).set_index("products")
    return SizeAdviceEvaluation(table, summary)
