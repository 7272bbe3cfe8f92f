"""Shopify webhook bodies → contract rows, with the importer's own rules (no second copy).

A webhook body is the REST Admin API shape of its resource:

* ``orders/create``, ``orders/updated``: an order object (``line_items``, ``shipping_lines``,
  ``refunds`` …), read by :class:`~returnrisk.importers.shopify.ShopifyReader` (its REST part)
  and assembled by :func:`~returnrisk.importers.assemble_lines.assemble_lines` — so ids, test
  orders, orders cancelled before fulfilment, shipping lines, gift cards, tips and fees, prices
  after discounts and guest pseudonyms are decided exactly as by ``returnrisk import shopify``.
  The size comes from the line's ``variant_title`` (``"M / Red"``): the one part that
  :func:`~returnrisk.importers.sizes.normalise_size` places in a size system (an order body does
  not name the variant's options; a colour is never a size);
* ``returns/request``, ``returns/approve`` (a return with ``return_line_items``, each with
  ``fulfillment_line_item.line_item.id``, ``quantity``, ``return_reason`` (lower case) and
  notes), ``returns/decline``, ``returns/cancel`` (the return's id and status): the reasons map
  as in :mod:`~returnrisk.importers.reasons`;
* ``refunds/create``: a refund object (``refund_line_items`` with ``restock_type``), read by the
  same REST reader, so "goods back" means what it means in an import (``return`` /
  ``legacy_restock``).

References: https://shopify.dev/docs/api/webhooks (topics ``orders/create``, ``returns/request``,
``refunds/create``; payload examples) and the REST ``Order`` and ``Refund`` resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from returnrisk.errors import InputError
from returnrisk.importers.assemble_lines import ORDER_LINE_COLUMNS, assemble_lines
from returnrisk.importers.collector import Collector
from returnrisk.importers.reasons import reason_from_definition, shopify_reason
from returnrisk.importers.report import ImportReport
from returnrisk.importers.settings import ImportSettings
from returnrisk.importers.shopify import ShopifyReader
from returnrisk.importers.sizes import normalise_size
from returnrisk.importers.times import parse_times
from returnrisk.importers.values import plain_id

__all__ = [
    "WebhookOrder", "WebhookReturn", "WebhookReturnLine", "WebhookRefund", "WebhookRefundLine",
    "parse_order", "parse_return", "parse_refund", "size_from_variant_title", "WEBHOOK_LINE_COLUMNS",
]

#: Columns of a webhook order line: the contract's ``order_lines`` plus the product's title and brand.
WEBHOOK_LINE_COLUMNS: list[str] = [*ORDER_LINE_COLUMNS, "title", "brand"]


def size_from_variant_title(title: object) -> str | None:
    """The raw size in a REST ``variant_title`` such as ``"M / Red"``: the one ``/``-separated part
    that lands in a size system (``None`` when none or several do)."""
    if not isinstance(title, str) or not title.strip():
        return None
    parts = [part.strip() for part in title.split(" / ") if part.strip()]
    placed = [part for part in parts if normalise_size(part)[1] and normalise_size(part)[0]]
    return placed[0] if len(placed) == 1 else None


def _time(value: object) -> pd.Timestamp | None:
    if value in (None, ""):
        return None
    parsed = parse_times(pd.Series([value], dtype="string"), "UTC").iloc[0]
    return None if pd.isna(parsed) else parsed


def _body(payload: object, topic: str) -> dict:
    if not isinstance(payload, dict):
        raise InputError(f"the {topic} webhook body is not a JSON object ({type(payload).__name__}): Shopify sends "
                         "one object per webhook; check the subscription's format is JSON", code="invalid_webhook")
    return payload


@dataclass
class WebhookOrder:
    """An order as the importer would write it: its kept lines and why the others were set aside."""

    order_id: str
    updated_at: pd.Timestamp | None
    lines: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def parse_order(payload: object, settings: ImportSettings = ImportSettings()) -> WebhookOrder:
    """The order lines of an ``orders/create`` / ``orders/updated`` body (see the module docstring)."""
    body = _body(payload, "orders")
    order_id = plain_id(body.get("id"))
    if not order_id or not isinstance(body.get("line_items"), list):
        raise InputError("the orders webhook body has no order id or no line_items list: it is not a REST order "
                         "(subscribe with format JSON)", code="invalid_webhook")
    collector = Collector()
    reader = ShopifyReader(collector, settings)
    reader.rest_order(body)
    items = {plain_id(item.get("id")): item for item in body["line_items"] if isinstance(item, dict)}
    for line_id, item in items.items():
        size = size_from_variant_title(item.get("variant_title"))
        if size is not None and item.get("variant_id") is not None:
            collector.add("variants", variant_id=plain_id(item.get("variant_id")),
                          product_id=plain_id(item.get("product_id")), size_raw=size, price=None)
    report = ImportReport("shopify")
    tables = assemble_lines(collector, report, settings.timezone)
    lines = tables.order_lines.copy()
    lines["title"] = [items.get(line_id, {}).get("title") or items.get(line_id, {}).get("name")
                      for line_id in lines["line_id"]]
    lines["brand"] = [items.get(line_id, {}).get("vendor") or None for line_id in lines["line_id"]]
    return WebhookOrder(order_id, _time(body.get("updated_at")), lines[WEBHOOK_LINE_COLUMNS].reset_index(drop=True),
                        dict(report.order_lines.skipped))


@dataclass
class WebhookReturnLine:
    line_id: str
    quantity: int | None
    reason_code: str | None
    reason_text: str | None


@dataclass
class WebhookReturn:
    """A Shopify return: its id, status, when it was created (if the body says) and its lines."""

    return_id: str
    status: str
    created_at: pd.Timestamp | None
    lines: list[WebhookReturnLine]


def parse_return(payload: object) -> WebhookReturn:
    """A ``returns/*`` body (see the module docstring); ``lines`` is empty for decline/cancel/close."""
    body = _body(payload, "returns")
    return_id = plain_id(body.get("admin_graphql_api_id") or body.get("id"))
    if not return_id:
        raise InputError("the returns webhook body has no return id", code="invalid_webhook")
    lines = []
    for item in body.get("return_line_items") or []:
        if not isinstance(item, dict):
            continue
        line = ((item.get("fulfillment_line_item") or {}).get("line_item") or item.get("line_item") or {})
        line_id = plain_id(line.get("admin_graphql_api_id") or line.get("id"))
        if not line_id:
            continue
        note = item.get("customer_note") or item.get("return_reason_note") or None
        if item.get("return_reason_definition"):
            code, text = reason_from_definition(item["return_reason_definition"], note)
        else:
            code, text = shopify_reason(item.get("return_reason"), note)
        quantity = item.get("quantity")
        lines.append(WebhookReturnLine(line_id, int(quantity) if isinstance(quantity, int) and quantity > 0 else None,
                                       code, text))
    return WebhookReturn(return_id, str(body.get("status") or "").lower(), _time(body.get("created_at")), lines)


@dataclass
class WebhookRefundLine:
    line_id: str
    quantity: int
    goods_back: bool


@dataclass
class WebhookRefund:
    refund_id: str
    order_id: str | None
    created_at: pd.Timestamp | None
    note: str | None
    return_id: str | None
    lines: list[WebhookRefundLine]


def parse_refund(payload: object, settings: ImportSettings = ImportSettings()) -> WebhookRefund:
    """A ``refunds/create`` body, its lines read by the importer's REST reader (goods back or not)."""
    body = _body(payload, "refunds")
    refund_id = plain_id(body.get("id"))
    if not refund_id:
        raise InputError("the refunds webhook body has no refund id", code="invalid_webhook")
    collector = Collector()
    ShopifyReader(collector, settings).rest_refund(body)
    rows = collector.frame("refund_lines")
    lines = [WebhookRefundLine(str(r.line_id), abs(int(r.quantity)) if pd.notna(r.quantity) else 0,
                               bool(r.goods_back))
             for r in rows.itertuples() if pd.notna(r.line_id)]
    returned = body.get("return")
    return_id = plain_id(returned.get("admin_graphql_api_id") or returned.get("id")) \
        if isinstance(returned, dict) else None
    return WebhookRefund(refund_id, plain_id(body.get("order_id")),
                         _time(body.get("processed_at") or body.get("created_at")), body.get("note") or None,
                         return_id, lines)
