"""Size labels, size systems and the order of sizes within a system.

A size label as sold ("M", "38", "W30", "42.5") is mapped to a *size system* and to an
*ordinal* measured in size steps, so that "one size up" is +1 in every system:

================  ==================================  ===========================
system            labels                              ordinal (1 = one size step)
================  ==================================  ===========================
``letter``        XXS, XS, S, M, L, XL, XXL, 3XL, …   M = 0, L = 1, XS = -2, …
``eu``            even numbers 30–60 (34, 36, 38, …)  value / 2
``us``            numbers 0–29 (0, 2, 4, …)           value / 2
``waist``         W24–W44, optionally "W30 L32"       waist in inches
``shoe``          33–50, halves allowed (42.5)        value (a half size is 0.5)
``unsized``       empty, "one size", "TU", "OS"       —
``unknown``       anything else                       — (handled, never a crash)
================  ==================================  ===========================

Whether a number is a shoe or an apparel size depends on the product, so the system is
decided per product from all its labels and its category (:func:`product_size_systems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "SIZE_SYSTEMS",
    "LETTER_ORDER",
    "parse_size_label",
    "label_ordinals",
    "product_size_systems",
    "ordinal_in_system",
    "size_label_for",
    "is_shoe_category",
]

SIZE_SYSTEMS: tuple[str, ...] = ("letter", "eu", "us", "waist", "shoe", "unsized", "unknown")

LETTER_ORDER: dict[str, int] = {
    "XXXXS": -5, "4XS": -5, "XXXS": -4, "3XS": -4, "XXS": -3, "2XS": -3, "XS": -2, "S": -1,
    "M": 0, "L": 1, "XL": 2, "XXL": 3, "2XL": 3, "XXXL": 4, "3XL": 4, "XXXXL": 5, "4XL": 5,
    "5XL": 6,
}
_LETTER_CANONICAL = {-5: "4XS", -4: "3XS", -3: "XXS", -2: "XS", -1: "S", 0: "M", 1: "L",
                     2: "XL", 3: "XXL", 4: "3XL", 5: "4XL", 6: "5XL"}
_UNSIZED = {"", "ONE SIZE", "ONESIZE", "TU", "OS", "U", "TAILLE UNIQUE", "UNIQUE", "NA", "N/A"}
_WAIST = re.compile(r"^W\s?(\d{2})(?:\s*[/ xX-]?\s*L\s?\d{2})?$")
_NUMBER = re.compile(r"^(\d{1,2})(?:[.,](5|0))?$")
_SHOE_WORDS = re.compile(
    r"shoe|sneaker|boot|sandal|heel|pump|loafer|trainer|mule|espadrille|chaussure|basket|botte",
    re.IGNORECASE,
)


def is_shoe_category(category: str | None) -> bool:
    """Whether a category name designates footwear (English or French)."""
    return bool(category) and bool(_SHOE_WORDS.search(str(category)))


def parse_size_label(label: object) -> tuple[str, float]:
    """Parse one label into ``(kind, value)``.

    ``kind`` is ``letter``, ``waist``, ``number``, ``unsized`` or ``unknown``; ``value`` is the
    letter ordinal, the waist in inches or the number (``nan`` when there is none).
    """
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return "unsized", np.nan
    text = str(label).strip().upper()
    if text in _UNSIZED:
        return "unsized", np.nan
    if text in LETTER_ORDER:
        return "letter", float(LETTER_ORDER[text])
    match = _WAIST.match(text)
    if match:
        return "waist", float(match.group(1))
    match = _NUMBER.match(text)
    if match:
        value = float(match.group(1)) + (0.5 if match.group(2) == "5" else 0.0)
        return "number", value
    return "unknown", np.nan


def label_ordinals(labels: Iterable[object]) -> pd.DataFrame:
    """Parse many labels at once; one row per distinct label with ``kind`` and ``value``."""
    uniques = pd.unique(pd.Series(list(labels), dtype="object"))
    parsed = [parse_size_label(label) for label in uniques]
    return pd.DataFrame(
        {
            "label": uniques,
            "kind": [p[0] for p in parsed],
            "value": np.array([p[1] for p in parsed], dtype=float),
        }
    )


def product_size_systems(
    product_sizes: pd.DataFrame, categories: pd.Series | None = None
) -> pd.Series:
    """Decide the size system of every product.

    Parameters
    ----------
    product_sizes:
        Distinct ``(product_id, size)`` pairs seen for each product.
    categories:
        Category per product, indexed by ``product_id`` (used to tell shoes from apparel).

    Returns
    -------
    Series indexed by ``product_id`` with one of :data:`SIZE_SYSTEMS`.
    """
    codes, uniques = pd.factorize(product_sizes["size"].astype(object), use_na_sentinel=True)
    parsed = [parse_size_label(label) for label in uniques] + [("unsized", np.nan)]  # last: code -1
    frame = pd.DataFrame({
        "product_id": product_sizes["product_id"].astype(object).to_numpy(),
        "kind": np.array([p[0] for p in parsed], dtype=object)[codes],
        "value": np.array([p[1] for p in parsed], dtype=float)[codes],
    })
    products = pd.Index(pd.unique(frame["product_id"]))
    # the most frequent kind among the sized labels (ties: the first in alphabetical order, as
    # ``Series.mode`` orders them)
    counts = frame[frame["kind"] != "unsized"].groupby(["product_id", "kind"]).size().rename("n").reset_index()
    counts = counts.sort_values(["product_id", "n", "kind"], ascending=[True, False, True], kind="stable")
    kind = counts.drop_duplicates("product_id").set_index("product_id")["kind"].reindex(products)
    numbers = frame[frame["kind"] == "number"]
    stats = pd.DataFrame({
        "product_id": numbers["product_id"].to_numpy(),
        "half": (numbers["value"] % 1 != 0).to_numpy(),
        "in_shoe_range": numbers["value"].between(30, 50).to_numpy(),
        "value": numbers["value"].to_numpy(),
    }).groupby("product_id").agg(half=("half", "any"), in_shoe_range=("in_shoe_range", "all"),
                                 median=("value", "median")).reindex(products)
    if categories is None:
        shoe_category = np.zeros(len(products), dtype=bool)
    else:
        category = pd.Series(categories).reindex(products)
        shoe_category = category.map(lambda c: is_shoe_category(None if pd.isna(c) else c)).to_numpy(dtype=bool)
    kind_values = kind.to_numpy(dtype=object)
    is_number = kind_values == "number"
    shoe = is_number & (shoe_category | (stats["half"].fillna(False).to_numpy(dtype=bool)
                                         & stats["in_shoe_range"].fillna(False).to_numpy(dtype=bool)))
    numeric = np.where(shoe, "shoe", np.where(stats["median"].to_numpy(dtype=float) >= 30, "eu", "us"))
    systems = np.where(pd.isna(kind_values), "unsized",
                       np.where(is_number, numeric,
                                np.where(np.isin(kind_values, ["letter", "waist"]), kind_values, "unknown")))
    return pd.Series(systems.astype(object), index=products, name="size_system", dtype="object")


def ordinal_in_system(kind: np.ndarray, value: np.ndarray, system: np.ndarray) -> np.ndarray:
    """Ordinal (in size steps) of parsed labels, given each line's product size system.

    Labels whose kind does not fit the system (a "38" sold for a letter-sized product) are
    ``nan``: unknown position, handled downstream as missing.
    """
    kind = np.asarray(kind, dtype=object)
    value = np.asarray(value, dtype=float)
    system = np.asarray(system, dtype=object)
    out = np.full(value.shape, np.nan)
    letter = (system == "letter") & (kind == "letter")
    out[letter] = value[letter]
    waist = (system == "waist") & (kind == "waist")
    out[waist] = value[waist]
    number = kind == "number"
    shoe = (system == "shoe") & number
    out[shoe] = value[shoe]
    apparel = ((system == "eu") | (system == "us")) & number
    out[apparel] = value[apparel] / 2.0
    return out


def size_label_for(system: str, ordinal: float) -> str:
    """The canonical label of an ordinal in a system (inverse of the ordinal mapping)."""
    if np.isnan(ordinal):
        return ""
    if system == "letter":
        return _LETTER_CANONICAL.get(int(round(ordinal)), str(int(round(ordinal))))
    if system == "waist":
        return f"W{int(round(ordinal))}"
    if system == "shoe":
        half = round(ordinal * 2) / 2
        return f"{half:g}"
    if system in ("eu", "us"):
        return f"{int(round(ordinal * 2))}"
    return ""
