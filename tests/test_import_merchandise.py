"""One rule set for non-merchandise lines (issue 14): the importers feed data/merchandise.py with the
platform's own flags, and its names apply to imported lines as they apply to a shop's products."""

from __future__ import annotations

import pandas as pd

from returnrisk.data.merchandise import non_merchandise_lines, non_merchandise_products, platform_line_kinds
from returnrisk.importers.merchandise import non_merchandise

LINES = pd.DataFrame({
    "kind": ["item", "shipping", "fee", "tip", "item", "item", "item", "item", "item", "item"],
    "gift_card": [False, None, None, None, True, None, None, None, None, None],
    "shipped": [True, None, None, None, False, False, False, True, True, None],
    "product_id": ["P1", None, None, None, "P2", "P3", None, None, "P4", "P5"],
    "title": ["Robe Lune", "Colissimo", "Payment fee", "Tip", "Carte cadeau 50 €", "E-book", "Engraving",
              "Custom dress", "Frais de port", "Emballage cadeau"],
})


def plain(values) -> list:
    return [None if pd.isna(v) else v for v in values]


def test_the_platform_flags_become_kinds_of_the_one_rule_set():
    assert plain(platform_line_kinds(LINES)) == [None, "shipping", "fee", "tip", "gift_card", "not_shipped",
                                                   "fee", "no_product", None, None]
    decided = non_merchandise_lines(LINES)
    assert plain(decided["kind"]) == [None, "shipping", "fee", "tip", "gift_card", "not_shipped", "fee",
                                        "no_product", "shipping", "gift_wrap"]
    # the platform's flag wins; a line the platform calls an item is still matched by its name
    assert plain(decided["source"]) == [None, "platform", "platform", "platform", "platform", "platform",
                                          "platform", "platform", "title", "title"]


def test_the_importers_reasons_are_the_rule_sets_kinds_and_match_the_loaders_products():
    assert plain(non_merchandise(LINES)) == [None, "shipping_line", "tip_or_fee", "tip_or_fee", "gift_card",
                                               "not_shipped", "tip_or_fee", "no_product", "shipping_line",
                                               "gift_wrap"]
    # the same names, read by the loader on products, give the same kinds
    products = pd.DataFrame({"product_id": ["P4", "P5", "P1"], "title": ["Frais de port", "Emballage cadeau",
                                                                         "Robe Lune"]})
    assert non_merchandise_products(products).set_index("product_id")["kind"].to_dict() == \
        {"P4": "shipping", "P5": "gift_wrap"}
