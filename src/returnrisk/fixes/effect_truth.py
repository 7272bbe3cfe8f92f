"""Measured effects against the fixes planted in a demo shop (``demo-data --plant-fixes``).

The truth is ``truth/planted_fixes.csv`` (see :mod:`returnrisk.demo.plant_fixes`): a planted fix
has a known true effect on the rate of its lever's reasons, a placebo none. An interval *covers*
when ``low ≤ true effect ≤ high``; a placebo is a *false positive* when its interval excludes 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.fixes.effect import FixEffect, effects_frame
from returnrisk.fixes.ids import fix_ids

__all__ = ["read_planted_fixes", "score_effects", "summary"]


def read_planted_fixes(folder: str | Path) -> pd.DataFrame:
    """The planted fixes and placebos of a demo shop, with their ``fix_id`` (input of
    :func:`returnrisk.fixes.effect.measure_effects`, plus the truth columns)."""
    path = Path(folder) / "truth" / "planted_fixes.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: generate the shop with `returnrisk demo-data --plant-fixes`")
    truth = pd.read_csv(path, dtype={"product_id": str, "size": str})
    truth.insert(0, "fix_id", fix_ids(truth["product_id"], truth["size"], truth["lever"]))
    return truth


def score_effects(effects: list[FixEffect], truth: pd.DataFrame) -> pd.DataFrame:
    """Per fix: its truth, interval and whether it covers / excludes zero.

    Columns added to the truth: ``status``, ``effect``, ``low``, ``high``, ``has_interval``,
    ``covers`` (the true effect is inside), ``excludes_zero``.
    """
    measured = effects_frame(effects).set_index("fix_id")
    out = truth.join(measured[["status", "lever_effect", "lever_low", "lever_high", "lever_before",
                               "return_effect", "return_low", "return_high", "sales_after"]], on="fix_id")
    out = out.rename(columns={"lever_effect": "effect", "lever_low": "low", "lever_high": "high"})
    out["has_interval"] = out["low"].notna() & out["high"].notna()
    out["covers"] = out["has_interval"] & (out["low"] <= out["true_effect"]) & (out["true_effect"] <= out["high"])
    out["excludes_zero"] = out["has_interval"] & ((out["low"] > 0) | (out["high"] < 0))
    out["covers_return"] = (out["return_low"] <= out["true_effect_return"]) & \
        (out["true_effect_return"] <= out["return_high"])
    out["covers_return"] = out["covers_return"].fillna(False).astype(bool)
    return out


def summary(scored: pd.DataFrame) -> dict[str, float | int]:
    """Coverage of planted fixes and false positives of placebos (over fixes with an interval)."""
    planted = scored[(scored["kind"] == "planted") & scored["has_interval"]]
    placebo = scored[(scored["kind"] == "placebo") & scored["has_interval"]]
    measured = scored["status"] == "measured"
    return {
        "planted": int((scored["kind"] == "planted").sum()),
        "placebo": int((scored["kind"] == "placebo").sum()),
        "planted_with_interval": len(planted),
        "placebo_with_interval": len(placebo),
        "coverage": float(planted["covers"].mean()) if len(planted) else float("nan"),
        "placebo_false_positive_rate": float(placebo["excludes_zero"].mean()) if len(placebo) else float("nan"),
        "coverage_return_rate": float(planted["covers_return"].mean()) if len(planted) else float("nan"),
        "placebo_fp_return_rate": float(((placebo["return_low"] > 0) | (placebo["return_high"] < 0)).mean())
        if len(placebo) else float("nan"),
        "planted_measured": int((measured & (scored["kind"] == "planted")).sum()),
        "placebo_measured": int((measured & (scored["kind"] == "placebo")).sum()),
        "coverage_measured": float(planted.loc[planted["status"] == "measured", "covers"].mean())
        if (planted["status"] == "measured").any() else float("nan"),
        "placebo_fp_measured": float(placebo.loc[placebo["status"] == "measured", "excludes_zero"].mean())
        if (placebo["status"] == "measured").any() else float("nan"),
        "mean_abs_error": float(np.abs(planted["effect"] - planted["true_effect"]).mean()) if len(planted)
        else float("nan"),
    }
