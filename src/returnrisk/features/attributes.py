"""Product attributes as features: what the description says, photos, size guide, price.

Attributes describe the product page as it is now: they are not history, so they carry no
leakage risk, but they are what merchandisers can change — the fix suggestions re-score lines
with an attribute changed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import factorize_strings, positions
from returnrisk.features.asof import first_of_each
from returnrisk.sizes import ordinal_in_system, parse_size_label, product_size_systems

__all__ = [
    "DESCRIPTION_PATTERNS",
    "describe_text",
    "product_attributes",
    "SYSTEM_RANGES",
    "size_position",
]

DESCRIPTION_PATTERNS: dict[str, re.Pattern] = {
    "mentions_material": re.compile(
        r"\d+\s?%|cotton|coton|wool|laine|polyester|polyamide|viscose|linen|\blin\b|leather|cuir|"
        r"silk|soie|elastane|élasthanne|cashmere|cachemire|denim|fabric|tissu|mati[eè]re|suede|daim",
        re.IGNORECASE,
    ),
    "mentions_dimensions": re.compile(
        r"\d+(?:[.,]\d+)?\s?(?:cm|mm|m|g|kg|in|inch)\b|length|longueur|dimension|height|hauteur|"
        r"largeur|width|inside leg|entrejambe|heel|talon|weigh|poids",
        re.IGNORECASE,
    ),
    "mentions_fit": re.compile(
        r"\bfit\b|true to size|size up|size down|between sizes|model is|model wears|mannequin|"
        r"coupe|taille normalement|taillant|slim|regular|relaxed|oversize|ajust|high-waisted|taille haute",
        re.IGNORECASE,
    ),
}

#: A wide, fixed range per size system, to place an ordinal between 0 (smallest) and 1.
SYSTEM_RANGES: dict[str, tuple[float, float]] = {
    "letter": (-4.0, 5.0),
    "eu": (15.0, 28.0),
    "us": (0.0, 12.0),
    "waist": (22.0, 44.0),
    "shoe": (33.0, 49.0),
}


def describe_text(descriptions: pd.Series) -> pd.DataFrame:
    """Length (characters) and what a description mentions, one row per description."""
    text = descriptions.astype("string").fillna("")
    out = pd.DataFrame(index=descriptions.index)
    out["description_length"] = text.str.len().astype(float)
    for name, pattern in DESCRIPTION_PATTERNS.items():
        out[name] = text.str.contains(pattern, regex=True).astype(float)
    return out


def product_attributes(products: pd.DataFrame, lines: pd.DataFrame | None) -> pd.DataFrame:
    """Per product: category, brand, price, page attributes and size system (indexed by id).

    The size system is decided from the sizes the product was sold in (``lines``), so a
    product never sold has the system its category implies, or ``unsized``.
    """
    attrs = products.set_index("product_id")[
        ["category", "brand", "price", "has_size_guide", "n_photos", "description", "created_at"]
    ].copy()
    attrs = attrs.join(describe_text(attrs["description"]))
    if lines is not None and len(lines):
        pairs = lines[["product_id", "size"]].drop_duplicates()
        systems = product_size_systems(pairs, attrs["category"])
        attrs["size_system"] = systems.reindex(attrs.index).fillna("unsized")
    else:
        attrs["size_system"] = "unsized"
    attrs["has_size_guide"] = attrs["has_size_guide"].astype("Float64").astype(float)
    attrs["n_photos"] = attrs["n_photos"].astype(float)
    return attrs.drop(columns=["description"])


def size_position(sizes: pd.Series, systems: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ordinal, position)`` of each sold size in its product's system (nan if not placeable).

    Computed once per distinct (label, system) pair: a shop sells a few hundred labels in a few
    systems, whatever its number of lines.
    """
    labels = pd.Series(sizes)
    label_code = factorize_strings(labels, missing_as="\x00")           # "\x00": no size
    system_list = sorted(SYSTEM_RANGES) + ["unsized", "unknown"]
    system_code = positions(np.asarray(systems, dtype=object), system_list)   # -1: anything else
    pair = label_code * (len(system_list) + 1) + (system_code + 1)
    pair_code, first = first_of_each(pair)
    parsed = [parse_size_label(None if pd.isna(v) else v) for v in labels.iloc[first].astype(object)]
    kind = np.array([p[0] for p in parsed], dtype=object)
    value = np.array([p[1] for p in parsed], dtype=float)
    system = np.array(system_list + [None], dtype=object)[system_code[first]]   # code -1 → None
    ordinal = ordinal_in_system(kind, value, system)
    low = np.array([SYSTEM_RANGES.get(s, (np.nan, np.nan))[0] for s in system], dtype=float)
    high = np.array([SYSTEM_RANGES.get(s, (np.nan, np.nan))[1] for s in system], dtype=float)
    return ordinal[pair_code], ((ordinal - low) / (high - low))[pair_code]
