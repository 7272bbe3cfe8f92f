"""Per-line inputs: codes of the categorical attributes, price, page attributes, size, order context."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import factorize_strings
from returnrisk.features.attributes import size_position
from returnrisk.timeutil import DAY, epoch_seconds

__all__ = ["Vocabulary", "order_context", "basket_context", "line_inputs", "line_terms",
           "PRODUCT_ATTRIBUTE_COLUMNS", "ORDER_CONTEXT_FEATURES"]

#: The features a line takes from its order (not from its product, size or customer). A product page
#: has no order yet: its explanations leave them out (docs/serving.md, "Explanations on a product page").
ORDER_CONTEXT_FEATURES = ("order_lines", "order_same_product", "order_sizes_same_product")

#: Product attributes a line may carry for a product the model has never seen.
PRODUCT_ATTRIBUTE_COLUMNS = ("category", "brand", "price", "has_size_guide", "n_photos", "description", "created_at")


@dataclass
class Vocabulary:
    """The values of the categorical features, fixed at training (unknown → missing)."""

    categories: list[str]
    brands: list[str]
    systems: list[str]

    @staticmethod
    def _code(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
        codes = pd.Index(vocabulary).get_indexer(values.astype(object))
        return np.where(codes >= 0, codes, np.nan)

    def codes(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            "category": self._code(frame["category"], self.categories),
            "brand": self._code(frame["brand"], self.brands),
            "size_system": self._code(frame["size_system"], self.systems),
        }

    def to_dict(self) -> dict:
        return {"categories": self.categories, "brands": self.brands, "systems": self.systems}


def order_context(lines: pd.DataFrame) -> dict[str, np.ndarray]:
    """Lines in the order, the same product ordered several times, in several sizes."""
    if "order_id" not in lines.columns or lines["order_id"].isna().all() or len(lines) == 0:
        n = len(lines)
        return {"order_lines": np.ones(n, np.float32), "order_same_product": np.ones(n, np.float32),
                "order_sizes_same_product": np.ones(n, np.float32)}
    order_codes = factorize_strings(lines["order_id"])
    product_codes = factorize_strings(lines["product_id"])
    size_codes = factorize_strings(lines["size"]) if "size" in lines.columns else np.zeros(len(lines), np.int64)
    n_lines = np.bincount(order_codes)[order_codes]
    # (order, product) and (order, product, size) as integer codes: counted without a groupby
    order_product = _dense(order_codes * (int(product_codes.max()) + 1) + product_codes)
    same = np.bincount(order_product)[order_product]
    n_sizes = int(size_codes.max()) + 1
    distinct = pd.unique(order_product * n_sizes + size_codes)   # one per distinct size of each (order, product)
    sizes = np.bincount(distinct // n_sizes, minlength=int(order_product.max()) + 1)
    return {"order_lines": n_lines.astype(np.float32), "order_same_product": same.astype(np.float32),
            "order_sizes_same_product": sizes[order_product].astype(np.float32)}


def basket_context(order_ids: list, product_ids: list, sizes: list) -> dict[str, np.ndarray]:
    """:func:`order_context` of a few lines given as lists (a basket sent for scoring), without pandas.

    The same counts: lines of the order, lines of the same product in the order, distinct sizes
    of that product in the order (a missing size counts as the size ``""``; no order id at all
    makes every line its own basket of one).
    """
    n = len(order_ids)
    if n == 0 or all(o is None for o in order_ids):
        return {"order_lines": np.ones(n, np.float32), "order_same_product": np.ones(n, np.float32),
                "order_sizes_same_product": np.ones(n, np.float32)}
    orders = ["" if o is None else str(o) for o in order_ids]
    pairs = list(zip(orders, map(str, product_ids)))
    in_order, same = Counter(orders), Counter(pairs)
    distinct: dict[tuple[str, str], set[str]] = {}
    for pair, size in zip(pairs, sizes):
        distinct.setdefault(pair, set()).add("" if size is None else str(size))
    return {"order_lines": np.array([in_order[o] for o in orders], np.float32),
            "order_same_product": np.array([same[p] for p in pairs], np.float32),
            "order_sizes_same_product": np.array([len(distinct[p]) for p in pairs], np.float32)}


def _dense(codes: np.ndarray) -> np.ndarray:
    """``codes`` renumbered 0..k-1 (equal in, equal out)."""
    return pd.factorize(codes)[0].astype(np.int64)


def line_inputs(lines: pd.DataFrame, product_rows: pd.DataFrame, vocabulary: Vocabulary,
                cutoffs: np.ndarray, order: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Arrays named as :data:`~returnrisk.features.derive.LINE_INPUTS`.

    ``product_rows`` holds, aligned with ``lines``, each line's product attributes (from the
    catalogue, or sent with the line for a new product) including ``size_system`` and the
    description features.
    """
    out = vocabulary.codes(product_rows)
    price = product_rows["price"].to_numpy(dtype=float)
    unit_price = lines["unit_price"].to_numpy(dtype=float) if "unit_price" in lines.columns \
        else np.full(len(lines), np.nan)
    quantity = lines["quantity"].to_numpy(dtype=float) if "quantity" in lines.columns else np.ones(len(lines))
    out["log_price"] = np.log1p(price)
    for name in ("has_size_guide", "n_photos", "description_length", "mentions_material",
                 "mentions_dimensions", "mentions_fit"):
        out[name] = product_rows[name].to_numpy(dtype=float)
    created = product_rows["created_at"]
    created_s = np.where(created.isna().to_numpy(), np.nan, epoch_seconds(created, whole=True))
    out.update(line_terms(price, unit_price, quantity, created_s, cutoffs))
    ordinal, position = size_position(lines["size"], product_rows["size_system"].to_numpy())
    out["size_ordinal"] = ordinal
    out["size_position"] = position
    out.update(order if order is not None else order_context(lines))
    return out


def line_terms(price: np.ndarray, unit_price: np.ndarray, quantity: np.ndarray, created_s: np.ndarray,
               cutoffs: np.ndarray) -> dict[str, np.ndarray]:
    """The inputs a line sets itself besides its product and size: ``discount``, ``quantity``,
    ``product_age_days`` and ``month`` (of its cut-off, UTC).

    ``unit_price`` missing (NaN) means the product's ``price``; ``created_s`` is the product's
    launch in epoch seconds (NaN unknown); ``cutoffs`` are epoch seconds.
    """
    price = np.asarray(price, dtype=float)
    unit_price = np.asarray(unit_price, dtype=float)
    unit_price = np.where(np.isfinite(unit_price), unit_price, price)
    with np.errstate(divide="ignore", invalid="ignore"):
        discount = np.clip(np.where(price > 0, 1.0 - unit_price / price, 0.0), -1.0, 1.0)
    cutoffs = np.asarray(cutoffs, dtype=np.int64)
    instants = cutoffs.astype("datetime64[s]")
    month = (instants.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(float)
    return {"discount": discount, "quantity": np.asarray(quantity, dtype=float),
            "product_age_days": (cutoffs - created_s) / DAY,
            "month": np.where(np.isnat(instants), np.nan, month)}
