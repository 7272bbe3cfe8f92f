"""What monitoring compares against, recorded at training time in the bundle's ``meta.json``
(``meta["monitoring_reference"]``).

The reference lines are the most recent training lines — those ordered from the validation start
to the as-of date, each with its features at its own cut-off — scored by the served model. For
each feature and for the predicted P(return): its histogram (see :mod:`returnrisk.monitoring.drift`);
and the share of lines whose product, customer or size had never been sold before.

A feature describing a customer, a product or a product size (its history) is summarised on the
lines where that entity is known: an unknown entity's value is its parent's rate — frozen in the
served snapshot after the as-of date, moving day by day in training — so including them would
measure the snapshot's freezing, not the lines; how many lines have an unknown entity is a check
of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.features.catalog import CATEGORICAL, FEATURE_INDEX, FEATURE_NAMES
from returnrisk.monitoring.drift import distribution_of

__all__ = ["REFERENCE_FORMAT", "build_reference", "reference_of", "unknown_flags", "known_rows", "ENTITY_OF",
           "PREDICTION_EDGES", "MAX_REFERENCE_ROWS"]

REFERENCE_FORMAT = "returnrisk-monitoring-reference/1"
#: Bins of the predicted P(return) (fixed, so references of two models compare too).
PREDICTION_EDGES = [round(0.05 * k, 2) for k in range(1, 20)]
#: Reference lines summarised at most (a seeded sample of larger windows).
MAX_REFERENCE_ROWS = 200_000


#: The entity whose history a feature describes (its drift is measured where that entity is known).
ENTITY_OF: dict[str, str] = {
    **{name: "customer" for name in ("customer_log_lines", "customer_rate", "customer_small_rate",
                                     "customer_large_rate", "customer_size_known", "size_vs_usual", "size_vs_fit",
                                     "customer_body_known", "size_vs_body")},
    **{name: "product" for name in FEATURE_NAMES if name.startswith("product_") and name != "product_age_days"},
    **{name: "size" for name in ("size_log_sales", "size_rate", "size_small_rate", "size_large_rate")},
}


def known_rows(X: np.ndarray, feature: str) -> np.ndarray:
    """The rows on which ``feature``'s drift is measured: where its entity is known (all rows for
    features that describe no entity's history)."""
    entity = ENTITY_OF.get(feature)
    if entity is None:
        return np.ones(len(X), dtype=bool)
    return ~unknown_flags(X)[entity]


def unknown_flags(X: np.ndarray) -> dict[str, np.ndarray]:
    """Lines whose product, customer, or product-in-this-size had no sale before (from the features)."""
    product_sales = X[:, FEATURE_INDEX["product_log_sales"]]
    size_sales = X[:, FEATURE_INDEX["size_log_sales"]]
    return {
        "product": ~(product_sales > 0),
        "customer": ~(X[:, FEATURE_INDEX["customer_log_lines"]] > 0),
        "size": (product_sales > 0) & ~(size_sales > 0),
    }


def build_reference(X: np.ndarray, p_return: np.ndarray, *, window_start: str, window_end: str,
                    seed: int = 0) -> dict:
    """The JSON-able reference of the lines ``X`` and their predictions ``p_return``."""
    if len(X) > MAX_REFERENCE_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), MAX_REFERENCE_ROWS, replace=False))
        X, p_return = X[keep], p_return[keep]
    categorical = set(CATEGORICAL)
    return {
        "format": REFERENCE_FORMAT,
        "window_start": window_start,
        "window_end": window_end,
        "rows": int(len(X)),
        "features": {name: {**distribution_of(X[known_rows(X, name), i], categorical=name in categorical),
                            "rows_with": ENTITY_OF.get(name, "all")}
                     for i, name in enumerate(FEATURE_NAMES)},
        "prediction": {"kind": "numeric", "edges": PREDICTION_EDGES,
                       **_prediction_shares(p_return), "mean": float(np.mean(p_return)) if len(p_return) else None},
        "unknown": {kind: float(flag.mean()) if flag.size else 0.0 for kind, flag in unknown_flags(X).items()},
    }


def _prediction_shares(p_return: np.ndarray) -> dict:
    from returnrisk.monitoring.drift import shares_in

    summary = {"kind": "numeric", "edges": PREDICTION_EDGES}
    return {"shares": [float(s) for s in shares_in(summary, p_return)], "rows": int(len(p_return))}


def reference_of(frame, model, start: pd.Timestamp, as_of: pd.Timestamp, *, seed: int = 0) -> dict:
    """The reference of a training frame's lines ordered in ``[start, as_of)`` scored by ``model``
    (the served model; at most :data:`MAX_REFERENCE_ROWS` of them, a seeded sample)."""
    rows = np.flatnonzero(frame.history.t >= int(pd.Timestamp(start).timestamp()))
    if rows.size > MAX_REFERENCE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_REFERENCE_ROWS, replace=False))
    X = frame.X[rows]
    p = 1.0 / (1.0 + np.exp(-model.margin(X)))
    return build_reference(X, p, window_start=pd.Timestamp(start).isoformat(), window_end=pd.Timestamp(as_of).isoformat())
