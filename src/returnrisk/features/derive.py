"""From entity states and line attributes to the model's feature matrix.

One function, used in training (states of every line at its own cut-off) and in serving
(states from the snapshot at the end of the data), so the two cannot drift apart. Rates are
shrunk towards the level above them — shop → category → brand / product → product size — so a
product with three sales gets its category's rate, not 0 % or 100 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from returnrisk.features.catalog import FEATURE_INDEX, FEATURE_NAMES
from returnrisk.features.history import STATE_COLUMNS, LineHistory
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["Smoothing", "derive_features", "customer_features", "shop_rates", "CUSTOMER_FEATURES", "LINE_INPUTS",
           "shrink"]

_S = {name: i for i, name in enumerate(STATE_COLUMNS)}
_G = {g: _S[f"r_{g}"] for g in RETURN_GROUPS}

#: Per-line inputs :func:`derive_features` expects besides the states.
LINE_INPUTS: tuple[str, ...] = (
    "category", "brand", "size_system", "log_price", "discount", "quantity", "has_size_guide",
    "n_photos", "description_length", "mentions_material", "mentions_dimensions", "mentions_fit",
    "product_age_days", "size_ordinal", "size_position", "month", "order_lines",
    "order_same_product", "order_sizes_same_product",
)


@dataclass(frozen=True)
class Smoothing:
    """Prior strengths, in exposure units (matured-line equivalents)."""

    shop: float = 10.0
    category: float = 200.0
    brand: float = 100.0
    product: float = 25.0
    size: float = 15.0
    customer: float = 4.0
    fit_offset: float = 3.0
    brand_fit_offset: float = 20.0

    def to_dict(self) -> dict:
        return asdict(self)


def shrink(returns: np.ndarray, exposure: np.ndarray, prior: np.ndarray | float, strength: float) -> np.ndarray:
    """Beta-binomial posterior mean: ``(returns + strength·prior) / (exposure + strength)``."""
    return (returns + strength * prior) / (exposure + strength)


def derive_features(
    history: LineHistory,
    line: dict[str, np.ndarray],
    smoothing: Smoothing = Smoothing(),
) -> np.ndarray:
    """The ``(n_lines, len(FEATURES))`` float32 feature matrix.

    ``history`` is what was known of each line's entities at its cut-off (from the event
    history in training, from the snapshot in serving); ``line`` holds the arrays named in
    :data:`LINE_INPUTS`.
    """
    states, profile, fit_offset = history.states, history.profile, history.fit_offset
    n = profile.shape[0]
    X = np.full((n, len(FEATURE_NAMES)), np.nan, dtype=np.float32)

    def put(name: str, values) -> None:
        X[:, FEATURE_INDEX[name]] = values

    for name in ("category", "brand", "size_system", "log_price", "discount", "quantity",
                 "has_size_guide", "n_photos", "description_length", "mentions_material",
                 "mentions_dimensions", "mentions_fit", "product_age_days", "size_position",
                 "month", "order_lines", "order_same_product", "order_sizes_same_product"):
        put(name, line[name])

    s = smoothing
    shop, cat, brand = states["shop"], states["category"], states["brand"]
    prod, size = states["product"], states["product_size"]

    shop_rate, shop_g = shop_rates(shop, s)
    cat_e = cat[:, _S["exposure"]]
    cat_rate = shrink(cat[:, _S["r_total"]], cat_e, shop_rate, s.category)
    cat_g = {g: shrink(cat[:, i], cat_e, shop_g[g], s.category) for g, i in _G.items()}
    brand_e = brand[:, _S["exposure"]]
    brand_small = shrink(brand[:, _G["too_small"]], brand_e, cat_g["too_small"], s.brand)
    brand_large = shrink(brand[:, _G["too_large"]], brand_e, cat_g["too_large"], s.brand)
    put("shop_rate", shop_rate)
    put("category_rate", cat_rate)
    put("category_size_rate", cat_g["too_small"] + cat_g["too_large"])
    put("brand_small_rate", brand_small)
    put("brand_large_rate", brand_large)

    prod_e = prod[:, _S["exposure"]]
    prod_rate = shrink(prod[:, _S["r_total"]], prod_e, cat_rate, s.product)
    group_prior = dict(cat_g, too_small=brand_small, too_large=brand_large)
    prod_g = {g: shrink(prod[:, i], prod_e, group_prior[g], s.product) for g, i in _G.items()}
    put("product_log_sales", np.log1p(prod[:, _S["n"]]))
    put("product_rate", prod_rate)
    for g in RETURN_GROUPS:
        put(f"product_{g}_rate", prod_g[g])
    brand_offset = fit_offset[:, 2] / (fit_offset[:, 3] + s.brand_fit_offset)
    offset = (fit_offset[:, 0] + s.fit_offset * brand_offset) / (fit_offset[:, 1] + s.fit_offset)
    put("brand_fit_offset", brand_offset)
    put("product_fit_offset", offset)

    size_e = size[:, _S["exposure"]]
    put("size_log_sales", np.log1p(size[:, _S["n"]]))
    put("size_rate", shrink(size[:, _S["r_total"]], size_e, prod_rate, s.size))
    put("size_small_rate", shrink(size[:, _G["too_small"]], size_e, prod_g["too_small"], s.size))
    put("size_large_rate", shrink(size[:, _G["too_large"]], size_e, prod_g["too_large"], s.size))

    ordinal = np.asarray(line["size_ordinal"], dtype=float)
    for name, values in customer_features(states["customer"], shop_rate, shop_g, profile, history.body,
                                          history.moments, ordinal, offset, s).items():
        put(name, values)
    return X


def shop_rates(shop: np.ndarray, smoothing: Smoothing) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The shop's return rate and its rate per reason group, shrunk towards fixed priors."""
    shop_rate = shrink(shop[:, _S["r_total"]], shop[:, _S["exposure"]], 0.25, smoothing.shop)
    shop_g = {g: shrink(shop[:, i], shop[:, _S["exposure"]], 0.25 / len(RETURN_GROUPS), smoothing.shop)
              for g, i in _G.items()}
    return shop_rate, shop_g


def customer_features(cust: np.ndarray, shop_rate: np.ndarray, shop_g: dict[str, np.ndarray], profile: np.ndarray,
                      body: np.ndarray, moments: np.ndarray, ordinal: np.ndarray, offset: np.ndarray,
                      smoothing: Smoothing) -> dict[str, np.ndarray]:
    """The columns of :data:`CUSTOMER_FEATURES`: what a customer's history changes in a line's row.

    Every other column of a line depends on the product, the size and the order only, so serving
    computes a known customer's rows as the visitor's rows with these columns replaced —
    with this function, the one :func:`derive_features` uses (arrays broadcast: one customer's
    state against the rows of every size of a product).
    """
    s = smoothing
    cust_e = cust[:, _S["exposure"]]
    signals = profile[:, 1]
    usual = np.where(signals > 0, profile[:, 0] / np.maximum(signals, 1e-9), np.nan)
    z_count = body[:, 1]
    z = np.where(z_count > 0, body[:, 0] / np.maximum(z_count, 1e-9), np.nan)
    body_size = moments[:, 0] + z * moments[:, 1]
    return {
        "customer_log_lines": np.log1p(cust[:, _S["n"]]),
        "customer_rate": shrink(cust[:, _S["r_total"]], cust_e, shop_rate, s.customer),
        "customer_small_rate": shrink(cust[:, _G["too_small"]], cust_e, shop_g["too_small"], s.customer),
        "customer_large_rate": shrink(cust[:, _G["too_large"]], cust_e, shop_g["too_large"], s.customer),
        "customer_size_known": np.log1p(signals),
        "size_vs_usual": ordinal - usual,
        "size_vs_fit": ordinal - usual - offset,
        "customer_body_known": np.log1p(z_count),
        "size_vs_body": ordinal - body_size - offset,
    }


#: The columns that depend on the customer (see :func:`customer_features`).
CUSTOMER_FEATURES: tuple[str, ...] = (
    "customer_log_lines", "customer_rate", "customer_small_rate", "customer_large_rate", "customer_size_known",
    "size_vs_usual", "size_vs_fit", "customer_body_known", "size_vs_body",
)
