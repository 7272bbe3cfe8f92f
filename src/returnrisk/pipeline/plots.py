"""Figures logged with every training run: reliability diagram and SHAP summary."""

from __future__ import annotations

import logging

import numpy as np

from returnrisk.features.catalog import FEATURE_NAMES
from returnrisk.model.evaluation import reliability_table

__all__ = ["calibration_figure", "shap_summary_figure", "validation_figures", "close_figures"]

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def calibration_figure(y: np.ndarray, p: np.ndarray, baseline: np.ndarray | None = None):
    """Observed return rate against predicted probability, 10 bins, on validation lines."""
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6.5), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    table = [r for r in reliability_table(y, p) if r["count"]]
    ax.plot([r["mean_predicted"] for r in table], [r["observed"] for r in table], marker="o",
            color="#1f5fa8", label="model")
    if baseline is not None:
        base = [r for r in reliability_table(y, baseline) if r["count"]]
        ax.plot([r["mean_predicted"] for r in base], [r["observed"] for r in base], marker="s",
                color="#c77c0e", alpha=0.7, label="product rate baseline")
    ax.set_ylabel("observed return rate")
    ax.set_title("Calibration on validation lines (future of training)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    hist.hist(p, bins=40, range=(0, 1), color="#1f5fa8", alpha=0.8)
    hist.set_xlabel("predicted P(return)")
    hist.set_ylabel("lines")
    fig.tight_layout()
    return fig


def shap_summary_figure(contributions: np.ndarray, X: np.ndarray, max_display: int = 20):
    """SHAP beeswarm of the return model (exact TreeSHAP, calibrated log-odds)."""
    plt = _pyplot()
    import shap

    shap.summary_plot(contributions[:, :-1], X, feature_names=list(FEATURE_NAMES), max_display=max_display,
                      show=False, plot_size=(8, 7))
    fig = plt.gcf()
    fig.suptitle("What drives P(return) — SHAP on validation lines", fontsize=11)
    fig.tight_layout()
    return fig


def validation_figures(model, X_val: np.ndarray, y: np.ndarray, p: np.ndarray) -> dict:
    """``calibration.png`` and ``shap_summary.png`` of a validation run; none (with a warning)
    when matplotlib or shap is missing — they are the ``train`` extra, not needed to serve."""
    from returnrisk.features.catalog import FEATURE_INDEX

    try:
        sample = np.random.default_rng(0).choice(len(X_val), min(len(X_val), 1000), replace=False)
        return {
            "calibration.png": calibration_figure(y, p, X_val[:, FEATURE_INDEX["product_rate"]].astype(float)),
            "shap_summary.png": shap_summary_figure(model.explain(X_val[sample]).return_contrib, X_val[sample]),
        }
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("matplotlib", "shap"):
            log.warning("%s is not installed: no calibration or SHAP plot logged (pip install 'returnrisk[train]')",
                        exc.name)
            return {}
        raise


def close_figures(figures: dict) -> None:
    """Free the figures' memory once logged."""
    if figures:
        import matplotlib.pyplot as plt

        plt.close("all")
