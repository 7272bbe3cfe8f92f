"""How good the probabilities are, on lines the model has never seen (the future)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["expected_calibration_error", "safe_auc", "probability_metrics", "evaluate_predictions",
           "reliability_table"]


def safe_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, or ``nan`` when only one class is present."""
    y = np.asarray(y)
    if y.size == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Per equal-width probability bin: count, mean predicted, observed rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        rows.append({
            "bin": b, "low": float(edges[b]), "high": float(edges[b + 1]), "count": int(mask.sum()),
            "mean_predicted": float(p[mask].mean()) if mask.any() else float("nan"),
            "observed": float(np.asarray(y)[mask].mean()) if mask.any() else float("nan"),
        })
    return rows


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with ``bins`` equal-width bins: the count-weighted mean |observed − predicted|."""
    table = reliability_table(y, p, bins)
    n = sum(r["count"] for r in table)
    if n == 0:
        return float("nan")
    return float(sum(r["count"] * abs(r["observed"] - r["mean_predicted"]) for r in table if r["count"]) / n)


def probability_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, log-loss, Brier score and ECE of probabilities ``p`` for binary outcomes ``y``."""
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    y = np.asarray(y).astype(int)
    return {
        "auc": safe_auc(y, p),
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if y.size else float("nan"),
        "brier": float(brier_score_loss(y, p)) if y.size else float("nan"),
        "ece": expected_calibration_error(y, p),
    }


def evaluate_predictions(outcome: np.ndarray, p_return: np.ndarray, p_reasons: np.ndarray,
                         *, product_rate: np.ndarray, global_rate: float,
                         cold_start: np.ndarray, truth_p: np.ndarray | None = None) -> dict[str, float]:
    """Every validation figure of the issue, on the same rows.

    ``outcome`` is 0 (kept) or ``1 + group``; ``product_rate`` is the product's smoothed
    historical rate at each line's cut-off (the baseline); ``cold_start`` marks lines of
    products with no sale before the validation start; ``truth_p`` (demo shop only) gives the
    ceiling.
    """
    y = (outcome > 0).astype(int)
    metrics = {f"val_{k}": v for k, v in probability_metrics(y, p_return).items()}
    metrics["val_rows"] = float(y.size)
    metrics["val_return_rate"] = float(y.mean()) if y.size else float("nan")
    metrics["val_mean_predicted"] = float(np.mean(p_return)) if y.size else float("nan")
    for g, group in enumerate(RETURN_GROUPS):
        metrics[f"val_auc_{group}"] = safe_auc((outcome == g + 1).astype(int), p_reasons[:, g])
    metrics["val_auc_cold_start"] = safe_auc(y[cold_start], p_return[cold_start])
    metrics["val_cold_start_rows"] = float(cold_start.sum())
    constant = np.full(y.size, global_rate)
    for name, baseline in (("global_rate", constant), ("product_rate", product_rate)):
        for k, v in probability_metrics(y, baseline).items():
            metrics[f"baseline_{name}_{k}"] = v
    if truth_p is not None:
        ceiling = safe_auc(y, truth_p)
        metrics["ceiling_auc"] = ceiling
        metrics["ceiling_share"] = metrics["val_auc"] / ceiling
        metrics["ceiling_share_above_chance"] = (metrics["val_auc"] - 0.5) / (ceiling - 0.5)
    return metrics
