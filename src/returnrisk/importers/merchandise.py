"""Which input lines are not merchandise, from the platform's own flags.

This is the one place that decides; readers only record the flags (``kind`` of the line, gift
card flag, whether the item ships, whether it has a product). The project's general
non-merchandise rule set (names such as "postage", "frais de port") lives with the data
contract; this function is the importers' door to it and can delegate there.

Reasons (the keys of the import report):

* ``shipping_line`` — a shipping charge (Shopify ``shipping_lines``, WooCommerce ``shipping_lines``);
* ``gift_card`` — a gift card sold (Shopify ``gift_card`` / ``isGiftCard``);
* ``tip_or_fee`` — a fee or tip line (WooCommerce ``fee_lines``; Shopify custom items without a
  product that do not ship);
* ``not_shipped`` — a product that is never shipped (digital, service, virtual product:
  Shopify ``requires_shipping: false``, WooCommerce/PrestaShop virtual products), so never returned;
* ``no_product`` — an item that ships but names no product (custom item, deleted product).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NON_MERCHANDISE_REASONS", "non_merchandise"]

NON_MERCHANDISE_REASONS: tuple[str, ...] = ("shipping_line", "gift_card", "tip_or_fee", "not_shipped", "no_product")


def non_merchandise(lines: pd.DataFrame) -> pd.Series:
    """Reason each line is not merchandise, or ``<NA>`` when it is.

    ``lines`` has ``kind`` (``item``, ``shipping``, ``fee`` or ``tip``), ``gift_card``
    (bool or missing), ``shipped`` (bool or missing: unknown counts as shipped) and
    ``product_id`` (missing: no product).
    """
    kind = lines["kind"].astype(object).fillna("item").to_numpy()
    gift = lines["gift_card"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    shipped = lines["shipped"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    no_product = lines["product_id"].isna().to_numpy()
    reason = np.select(
        [kind == "shipping", gift, np.isin(kind, ["fee", "tip"]), no_product & ~shipped, ~shipped, no_product],
        ["shipping_line", "gift_card", "tip_or_fee", "tip_or_fee", "not_shipped", "no_product"],
        default="",
    )
    return pd.Series(reason, index=lines.index, dtype="string").replace("", pd.NA)
