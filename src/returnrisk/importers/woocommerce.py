"""WooCommerce REST API v3 pages: products, product variations, orders, order refunds.

Each page is the JSON list (or single object) the API returns; the kind of object is told by
its fields. A refund (``orders/{id}/refunds``) does not name its order: it is linked through the
order's ``refunds`` list (or, failing that, the refund's ``_links.up`` and the refunded line's
``_refunded_item_id``). Dates are read from the ``*_gmt`` fields (UTC).
"""

from __future__ import annotations

import re

from returnrisk.errors import InputError
from returnrisk.importers.base import PlatformReader, unknown_page
from returnrisk.importers.customers import guest_id
from returnrisk.importers.pages import Page
from returnrisk.importers.sizes import size_from_options
from returnrisk.importers.values import amount, plain_id, strip_html

__all__ = ["WooCommerceReader"]

NOT_PLACED = {"pending", "failed", "checkout-draft", "trash"}
_UP = re.compile(r"/(orders|products)/(\d+)(?:/|$)")


def _gmt(item: dict, key: str) -> str | None:
    value = item.get(f"{key}_gmt")
    if isinstance(value, str) and value:
        return value + "Z"
    value = item.get(key)
    return value if isinstance(value, str) and value else None


def _meta(item: dict, key: str) -> object:
    for entry in item.get("meta_data") or []:
        if isinstance(entry, dict) and entry.get("key") == key:
            return entry.get("value")
    return None


def _parent(item: dict, kind: str) -> str | None:
    for link in (item.get("_links") or {}).get("up") or []:
        match = _UP.search(str(link.get("href", ""))) if isinstance(link, dict) else None
        if match and match.group(1) == kind:
            return match.group(2)
    return None


class WooCommerceReader(PlatformReader):
    platform = "woocommerce"
    expected = ("a WooCommerce REST API v3 page: the JSON list returned by /wp-json/wc/v3/products, "
                "/products/{id}/variations, /orders or /orders/{id}/refunds")

    def __init__(self, collector, settings):
        super().__init__(collector, settings)
        self._refund_order: dict[str, str] = {}
        self._line_order: dict[str, str] = {}
        self._order_currency: dict[str, str] = {}
        self._refunds: list[dict] = []

    def read(self, page: Page) -> None:
        if page.records is not None:  # several saved responses, one per line
            for number, record in enumerate(page.records, start=1):
                self._read_payload(record, page, f" line {number}")
            return
        self._read_payload(page.payload, page, "")

    def _read_payload(self, payload: object, page: Page, where: str) -> None:
        if isinstance(payload, dict) and "code" in payload and "message" in payload:
            raise InputError(f"{page.name}{where} holds a WooCommerce API error, not data: {payload.get('message')} "
                             f"({payload.get('code')}). Check the API keys and save the page again")
        items = payload if isinstance(payload, list) else [payload]
        kinds = set()
        for item in items:
            if not isinstance(item, dict):
                raise unknown_page(self, page, payload, where)
            kind = self._kind(item)
            if kind is None:
                raise unknown_page(self, page, item, f"{where} (an item)")
            getattr(self, kind)(item)
            kinds.add(kind)
        for kind in kinds or {"empty"}:
            self.collector.page(kind if kind == "empty" else kind + "s")

    @staticmethod
    def _kind(item: dict) -> str | None:
        if "refunded_by" in item or "refunded_payment" in item:
            return "refund"
        if "line_items" in item and ("order_key" in item or "number" in item):
            return "order"
        attributes = item.get("attributes")
        if item.get("type") == "variation" or (isinstance(attributes, list) and attributes
                                               and isinstance(attributes[0], dict) and "option" in attributes[0]):
            return "variation"
        if "permalink" in item and ("type" in item or "variations" in item):
            return "product" if item.get("type") != "variation" else "variation"
        if "permalink" in item and _parent(item, "products"):
            return "variation"
        return None

    def product(self, item: dict) -> None:
        categories = [c.get("name") for c in item.get("categories") or [] if isinstance(c, dict) and c.get("name")]
        images = [i for i in item.get("images") or [] if isinstance(i, dict)]
        self.collector.add(
            "products", product_id=plain_id(item.get("id")), title=item.get("name"),
            category=categories[0] if categories else None, brand=None,
            price=amount(item.get("price")) if item.get("price") not in ("", None) else amount(item.get("regular_price")),
            n_photos=len(images), description=strip_html(item.get("description")) or strip_html(item.get("short_description")),
            created_at=_gmt(item, "date_created"), url=item.get("permalink"),
            image_url=images[0].get("src") if images else None,
            shipped=not (item.get("virtual") or item.get("downloadable")),
        )

    def variation(self, item: dict) -> None:
        options = [(a.get("name"), a.get("option")) for a in item.get("attributes") or [] if isinstance(a, dict)]
        price = item.get("price") if item.get("price") not in ("", None) else item.get("regular_price")
        self.collector.add("variants", variant_id=plain_id(item.get("id")),
                           product_id=plain_id(item.get("parent_id")) or _parent(item, "products"),
                           size_raw=size_from_options(options, self.settings.is_size_option), price=amount(price))

    def order(self, item: dict) -> None:
        order_id = plain_id(item.get("id"))
        status = str(item.get("status") or "")
        skip = "cancelled_before_fulfilment" if status == "cancelled" else "order_not_placed" if status in NOT_PLACED else None
        billing = item.get("billing") or {}
        self.collector.add(
            "orders", order_id=order_id, order_number=str(item.get("number") or order_id),
            customer_id=plain_id(item.get("customer_id")) or guest_id(billing.get("email"), order_id),
            ordered_at=_gmt(item, "date_created"), currency=item.get("currency"),
            test=str(_meta(item, "_wcpay_mode") or "").lower() == "test", skip=skip,
        )
        self._order_currency[order_id] = item.get("currency")
        with_tax = bool(item.get("prices_include_tax"))
        for line in item.get("line_items") or []:
            if isinstance(line, dict):
                self.line(line, order_id, with_tax)
        for kind, key in (("shipping", "shipping_lines"), ("fee", "fee_lines")):
            for line in item.get(key) or []:
                if isinstance(line, dict):
                    self.collector.add("lines", line_id=plain_id(line.get("id")), order_id=order_id, kind=kind,
                                       title=line.get("method_title") or line.get("name"))
        for refund in item.get("refunds") or []:
            if isinstance(refund, dict) and plain_id(refund.get("id")):
                self._refund_order[plain_id(refund.get("id"))] = order_id

    def line(self, line: dict, order_id: str | None, with_tax: bool) -> None:
        quantity = line.get("quantity")
        total = amount(line.get("total"))
        if total is not None and with_tax:
            total += amount(line.get("total_tax")) or 0.0
        size = None
        for entry in line.get("meta_data") or []:
            if not isinstance(entry, dict):
                continue
            if self.settings.is_size_option(entry.get("display_key")) and entry.get("display_value"):
                size = strip_html(entry.get("display_value"))
            elif self.settings.is_size_option(entry.get("key")) and not str(entry.get("key")).startswith("pa_"):
                size = size or entry.get("value")
        line_id = plain_id(line.get("id"))
        self._line_order[line_id] = order_id
        self.collector.add(
            "lines", line_id=line_id, order_id=order_id, kind="item", product_id=plain_id(line.get("product_id")),
            variant_id=plain_id(line.get("variation_id")), size_raw=size, quantity=quantity,
            unit_price=total / quantity if total is not None and isinstance(quantity, int) and quantity > 0 else None,
            title=line.get("name"),
        )

    def refund(self, item: dict) -> None:
        self._refunds.append(item)

    def finish(self) -> None:
        for item in self._refunds:
            refund_id = plain_id(item.get("id"))
            lines = [line for line in item.get("line_items") or [] if isinstance(line, dict)]
            refunded = [plain_id(_meta(line, "_refunded_item_id")) for line in lines]
            order_id = self._refund_order.get(refund_id) or _parent(item, "orders") or next(
                (self._line_order[r] for r in refunded if r in self._line_order), None)
            created = _gmt(item, "date_created")
            self.collector.add("refunds", refund_id=refund_id, order_id=order_id, created_at=created,
                               amount=amount(item.get("amount")), currency=self._order_currency.get(order_id),
                               n_lines=len(lines), note=item.get("reason") or None)
            for line, line_id in zip(lines, refunded):
                quantity = abs(int(amount(line.get("quantity")) or 0))
                self.collector.add(
                    "refund_lines", refund_id=refund_id, order_id=order_id, line_id=line_id, quantity=quantity,
                    created_at=created, goods_back=quantity > 0, amount=amount(line.get("total")),
                    note=item.get("reason") or None,
                )
        self._refunds = []
