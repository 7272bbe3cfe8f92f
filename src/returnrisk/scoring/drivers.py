"""Turning TreeSHAP contributions into drivers a person can read."""

from __future__ import annotations

import numpy as np

from returnrisk.features.catalog import FEATURE_NAMES, FEATURES, feature_label
from returnrisk.features.lines import Vocabulary

__all__ = ["top_drivers", "format_value"]

_PERCENT = {f.name for f in FEATURES if f.name.endswith("_rate")}
_BOOLEAN = {"has_size_guide", "mentions_material", "mentions_dimensions", "mentions_fit"}
_LOG_COUNT = {"product_log_sales", "size_log_sales", "customer_log_lines", "customer_size_known",
              "customer_body_known"}
_CATEGORICAL = {"category": "categories", "brand": "brands", "size_system": "systems"}
_YES = {"en": ("yes", "no"), "fr": ("oui", "non")}


def _decoded(name: str, value: float, vocabulary: Vocabulary):
    """The value a person reads; ``None`` when missing or not finite (JSON has no infinity)."""
    value = float(value)   # float64: exp of a float32 log value overflows from 89 on
    if not np.isfinite(value):
        return None
    if name in _CATEGORICAL:
        values = getattr(vocabulary, _CATEGORICAL[name])
        index = int(value)
        return values[index] if 0 <= index < len(values) else None
    if name in _LOG_COUNT or name == "log_price":
        with np.errstate(over="ignore"):
            decoded = float(np.expm1(value))
        if not np.isfinite(decoded):
            return None
        return float(round(decoded, 2 if name == "log_price" else None))
    return value


def format_value(name: str, value, lang: str = "en") -> str:
    """How a feature value reads in a sentence (``18%``, ``yes``, ``+1.0 size``…)."""
    if value is None:
        return "unknown" if lang == "en" else "inconnu"
    if isinstance(value, str):
        return value
    if name in _PERCENT or name == "discount":
        return f"{value:.0%}"
    if name in _BOOLEAN:
        return _YES[lang][0] if value >= 0.5 else _YES[lang][1]
    if name.startswith("size_vs") or name == "product_fit_offset":
        unit = "size" if lang == "en" else "taille"
        return f"{value:+.1f} {unit}"
    if name == "log_price":
        return f"{value:.2f}"
    if name == "size_position":
        return f"{value:.2f}"
    return f"{value:g}"


def top_drivers(contributions: np.ndarray, x: np.ndarray, vocabulary: Vocabulary, lang: str, top: int,
                leave_out: frozenset[int] = frozenset()) -> list[dict]:
    """The ``top`` largest contributions (by magnitude) of one row, without the base value and
    without the features at positions ``leave_out``."""
    values = contributions[:-1]
    if leave_out:
        values = values.copy()
        values[list(leave_out)] = 0.0
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    drivers = []
    for i in order:
        if values[i] == 0:
            break
        name = FEATURE_NAMES[i]
        value = _decoded(name, float(x[i]), vocabulary)
        drivers.append({
            "feature": name,
            "label": feature_label(name, lang),
            "value": value,
            "value_text": format_value(name, value, lang),
            "contribution": round(float(values[i]), 5),
            "direction": "increases" if values[i] > 0 else "decreases",
        })
    return drivers
