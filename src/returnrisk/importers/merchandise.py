"""Which input lines are not merchandise: the importers' door to the one rule set.

Readers only record the platform's flags (``kind`` of the line, gift card flag, whether the item
ships, whether it has a product); :func:`returnrisk.data.merchandise.non_merchandise_lines`
decides — the platform's flags fed to the project's rule set, which also matches the line's
title against its names ("Frais de port", "Gift wrap"…), exactly as the loader matches products.
This module only names the import report's reason of each kind:

* ``shipping_line`` — a shipping charge (Shopify ``shipping_lines``, WooCommerce ``shipping_lines``,
  or a line named like postage);
* ``gift_card`` — a gift card sold (Shopify ``gift_card`` / ``isGiftCard``, or named like one);
* ``tip_or_fee`` — a fee or tip line (WooCommerce ``fee_lines``; Shopify custom items without a
  product that do not ship; lines named like a fee or a tip);
* ``not_shipped`` — a product that is never shipped (digital, service, virtual product:
  Shopify ``requires_shipping: false``, WooCommerce/PrestaShop virtual products), so never returned;
* ``no_product`` — an item that ships but names no product (custom item, deleted product);
* ``gift_wrap``, ``insurance``, ``deposit``, ``adjustment`` — lines named like these charges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.data.merchandise import non_merchandise_lines

__all__ = ["NON_MERCHANDISE_REASONS", "REASON_OF_KIND", "non_merchandise"]

#: The rule set's kind → the import report's reason.
REASON_OF_KIND: dict[str, str] = {
    "shipping": "shipping_line", "gift_card": "gift_card", "fee": "tip_or_fee", "tip": "tip_or_fee",
    "not_shipped": "not_shipped", "no_product": "no_product", "gift_wrap": "gift_wrap", "insurance": "insurance",
    "deposit": "deposit", "adjustment": "adjustment",
}
NON_MERCHANDISE_REASONS: tuple[str, ...] = tuple(dict.fromkeys(REASON_OF_KIND.values()))


def non_merchandise(lines: pd.DataFrame) -> pd.Series:
    """Reason each line is not merchandise (a key of the import report), or ``<NA>`` when it is.

    ``lines`` has ``kind``, ``gift_card``, ``shipped``, ``product_id`` and (optionally) ``title``
    (see :func:`returnrisk.data.merchandise.platform_line_kinds`).
    """
    kind = non_merchandise_lines(lines)["kind"].to_numpy(dtype=object)
    codes, distinct = pd.factorize(kind, use_na_sentinel=True)
    reasons = np.array([REASON_OF_KIND.get(k) for k in distinct] + [None], dtype=object)
    return pd.Series(reasons[codes], index=lines.index, dtype="string")   # code -1 (merchandise) → <NA>
