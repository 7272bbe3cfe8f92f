"""Collected orders, lines and catalogue → the contract's ``order_lines`` and ``products``.

Each input line gets exactly one outcome, checked in this order: written, or skipped as
``duplicate_in_pages`` (the same line in two pages: the last one is kept), ``no_line_id``,
``order_missing`` (a line whose order is in no page), ``test_order``, the order's own reason from
the platform reader (``cancelled_before_fulfilment``, ``order_not_placed``), a non-merchandise
reason (:func:`~returnrisk.importers.merchandise.non_merchandise`), ``unreadable_date`` or
``no_quantity``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.importers.collector import Collector
from returnrisk.importers.merchandise import non_merchandise
from returnrisk.importers.report import ImportReport
from returnrisk.importers.sizes import normalise_size
from returnrisk.importers.times import parse_times

__all__ = ["LineTables", "assemble_lines", "ORDER_LINE_COLUMNS", "PRODUCT_COLUMNS"]

ORDER_LINE_COLUMNS = ["line_id", "order_id", "customer_id", "product_id", "size", "quantity", "unit_price",
                      "ordered_at", "order_number", "currency"]
PRODUCT_COLUMNS = ["product_id", "category", "brand", "price", "n_photos", "description", "created_at",
                   "title", "url", "image_url"]
UNCATEGORIZED = "uncategorized"


@dataclass
class LineTables:
    order_lines: pd.DataFrame
    products: pd.DataFrame
    #: every line read (kept or not) with its order id, for matching refunds to orders
    all_lines: pd.DataFrame


def _first_reason(reason: pd.Series, mask: np.ndarray, value: str) -> None:
    reason[mask & reason.isna().to_numpy()] = value


def _line_outcomes(lines: pd.DataFrame) -> pd.Series:
    reason = pd.Series(pd.NA, index=lines.index, dtype="string")
    key = lines["kind"].fillna("item").astype(str) + "\x00" + lines["line_id"].fillna("").astype(str)
    _first_reason(reason, (key.duplicated(keep="last") & lines["line_id"].notna()).to_numpy(), "duplicate_in_pages")
    _first_reason(reason, lines["line_id"].isna().to_numpy(), "no_line_id")
    _first_reason(reason, lines["order_known"].isna().to_numpy(), "order_missing")
    _first_reason(reason, lines["test"].astype("boolean").fillna(False).to_numpy(dtype=bool), "test_order")
    skip = lines["skip"]
    for value in skip.dropna().unique():
        _first_reason(reason, (skip == value).fillna(False).to_numpy(dtype=bool), str(value))
    merch = non_merchandise(lines)
    for value in merch.dropna().unique():
        _first_reason(reason, (merch == value).fillna(False).to_numpy(dtype=bool), str(value))
    _first_reason(reason, lines["ordered_at_utc"].isna().to_numpy(), "unreadable_date")
    _first_reason(reason, ~(lines["quantity"].fillna(0) >= 1).to_numpy(dtype=bool), "no_quantity")
    return reason


def _sizes(lines: pd.DataFrame, variants: pd.DataFrame, report: ImportReport) -> pd.Series:
    by_variant = variants.drop_duplicates("variant_id", keep="last").set_index("variant_id")["size_raw"]
    raw = lines["size_raw"].fillna(lines["variant_id"].map(by_variant).astype("string"))
    labels = {value: normalise_size(value) for value in raw.dropna().unique()}
    label = raw.map(lambda v: labels[v][0] if v in labels else "").astype("string")
    placed = raw.map(lambda v: labels[v][1] if v in labels else True).astype(bool)
    unplaced = Counter(raw[~placed].astype(str))
    report.sizes = {
        "sized_lines": int((label != "").sum()),
        "unsized_lines": int((label == "").sum()),
        "unparsed_lines": int((~placed).sum()),
        "unparsed_labels": dict(unplaced.most_common(20)),
    }
    return label.mask(label == "")


def _products(collector: Collector, kept: pd.DataFrame, variants: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    pages = collector.frame("products")
    products = pages.drop_duplicates("product_id", keep="last").set_index("product_id")
    variant_price = variants.dropna(subset=["product_id"]).groupby("product_id")["price"].min()
    line_price = kept.groupby("product_id")["unit_price"].median()
    products["price"] = products["price"].fillna(variant_price).fillna(line_price)
    missing = pd.Index(kept["product_id"].unique()).difference(products.index)
    if len(missing):
        titles = kept.drop_duplicates("product_id").set_index("product_id")["title"]
        extra = pd.DataFrame({"title": titles.reindex(missing), "price": line_price.reindex(missing)}, index=missing)
        products = pd.concat([products, extra])
    no_price = products["price"].isna()
    products = products[~no_price].copy()
    products["category"] = products["category"].fillna(UNCATEGORIZED)
    products.index.name = "product_id"
    out = products.reset_index()
    out["n_photos"] = out["n_photos"].astype("Int64")
    out["created_at"] = parse_times(out["created_at"], "UTC")
    report.products = {"read": int(len(pages)), "written": int(len(out)),
                       "created_from_order_lines": int(len(missing)),
                       "without_price_not_written": int(no_price.sum())}
    return out[PRODUCT_COLUMNS].sort_values("product_id", kind="stable").reset_index(drop=True)


def assemble_lines(collector: Collector, report: ImportReport, timezone: str) -> LineTables:
    orders = collector.frame("orders").drop_duplicates("order_id", keep="last")
    orders["order_known"] = True
    lines = collector.frame("lines").merge(
        orders.rename(columns={"ordered_at": "order_time"}), on="order_id", how="left", validate="many_to_one")
    products = collector.frame("products").drop_duplicates("product_id", keep="last").set_index("product_id")
    for flag in ("shipped", "gift_card"):
        lines[flag] = lines[flag].astype("boolean").fillna(lines["product_id"].map(products[flag]).astype("boolean"))
    later = collector.frame("line_times").drop_duplicates("line_id", keep="last").set_index("line_id")["ordered_at"]
    own_time = lines["line_id"].map(later).astype("string").fillna(lines["ordered_at"])
    lines["ordered_at_utc"] = parse_times(own_time.fillna(lines["order_time"]), timezone)
    reason = _line_outcomes(lines)
    report.order_lines.read = len(lines)
    for value, n in reason.value_counts().items():
        report.order_lines.skip(str(value), int(n))
    kept = lines[reason.isna().to_numpy()].copy()
    report.order_lines.written = len(kept)
    variants = collector.frame("variants")
    kept["size"] = _sizes(kept, variants, report)
    kept["ordered_at"] = kept["ordered_at_utc"]
    kept["quantity"] = kept["quantity"].astype("int64")
    report.currencies = sorted(set(kept["currency"].dropna().astype(str)))
    written_orders = kept["order_id"].nunique()
    report.orders = {"read": int(len(orders)), "with_lines_written": int(written_orders),
                     "guest_checkouts": int(kept.loc[kept["customer_id"].fillna("").str.startswith("guest-"),
                                                     "order_id"].nunique())}
    order_lines = kept[ORDER_LINE_COLUMNS].sort_values(["ordered_at", "order_id", "line_id"], kind="stable")
    return LineTables(order_lines.reset_index(drop=True), _products(collector, kept, variants, report),
                      lines[["line_id", "order_id", "kind"]].assign(kept=reason.isna().to_numpy()))
