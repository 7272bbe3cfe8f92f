"""Shopify: GraphQL Admin API pages and bulk-operation JSON Lines (REST pages: :mod:`.shopify_rest`).

GraphQL pages are ``{"data": {"orders" | "products" | "order" | "product": …}}`` with
connections as ``nodes`` or ``edges[].node``. In bulk-operation output every node of a nested
connection is its own line with ``__parentId``; nodes are recognised by the type in their
``gid://shopify/<Type>/<id>``. Field names follow the queries in docs/importing.md.
"""

from __future__ import annotations

from returnrisk.errors import InputError
from returnrisk.importers.base import PlatformReader, nodes, unknown_page
from returnrisk.importers.customers import guest_id
from returnrisk.importers.pages import Page
from returnrisk.importers.reasons import reason_from_definition, shopify_reason
from returnrisk.importers.shopify_rest import ShopifyRest
from returnrisk.importers.sizes import size_from_options
from returnrisk.importers.values import amount, money, plain_id, strip_html

__all__ = ["ShopifyReader", "gid_type"]

FULFILLED = {"FULFILLED", "PARTIALLY_FULFILLED"}
GOODS_BACK = {"RETURN", "LEGACY_RESTOCK"}
DECLINED = {"DECLINED", "CANCELED", "CANCELLED"}


def gid_type(value: object) -> str | None:
    """``gid://shopify/LineItem/1`` → ``LineItem``."""
    if isinstance(value, str) and value.startswith("gid://"):
        parts = value.split("/")
        return parts[3] if len(parts) > 4 else None
    return None


class ShopifyReader(ShopifyRest, PlatformReader):
    platform = "shopify"
    expected = ('a GraphQL Admin API response ({"data": {"orders": …}} or {"data": {"products": …}}), '
                'a bulk-operation JSONL export, or a REST Admin API page ({"orders": […]}, {"products": […]})')

    def __init__(self, collector, settings):
        super().__init__(collector, settings)
        self._return_heads: dict[str, dict] = {}
        self._return_items: list[tuple[str, dict]] = []
        self._exchanges: list[tuple[str, dict]] = []
        self._refund_heads: dict[str, dict] = {}
        self._refund_items: list[tuple[str, dict]] = []

    # ---- pages ---------------------------------------------------------------------------
    def read(self, page: Page) -> None:
        if page.records is not None:
            self.collector.page("bulk_jsonl")
            for record in page.records:
                if not isinstance(record, dict):
                    raise unknown_page(self, page, record, " (a JSONL line)")
                self._bulk(record, page)
            return
        payload = page.payload
        if isinstance(payload, dict) and "data" in payload:
            return self._graphql(payload, page)
        if isinstance(payload, dict) and payload.get("errors") and not payload.get("data"):
            raise InputError(f"{page.name} holds an API error, not data: {str(payload['errors'])[:300]}. "
                             "Fix the query or the access token and save the page again")
        if not self.read_rest(payload, page):
            raise unknown_page(self, page, payload)

    def _graphql(self, payload: dict, page: Page) -> None:
        data = payload.get("data")
        if not isinstance(data, dict):
            raise InputError(f"{page.name}: the GraphQL response has no data ({str(payload.get('errors'))[:300]}): "
                             "fix the query and save the page again")
        known = False
        for key, value in data.items():
            if key in ("orders", "order"):
                items = nodes(value) if key == "orders" else [value] if isinstance(value, dict) else []
                for node in items:
                    self.order(node)
                self.collector.page("graphql_orders")
                known = True
            elif key in ("products", "product"):
                items = nodes(value) if key == "products" else [value] if isinstance(value, dict) else []
                for node in items:
                    self.product(node)
                self.collector.page("graphql_products")
                known = True
        if not known:
            raise unknown_page(self, page, data, " (data)")

    # ---- catalogue -----------------------------------------------------------------------
    def product(self, node: dict) -> None:
        product_id = plain_id(node.get("id"))
        media = node.get("mediaCount")
        image = (node.get("featuredImage") or {}).get("url") or \
            (((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}).get("url")
        category = node.get("productType") or (node.get("category") or {}).get("name")
        self.collector.add(
            "products", product_id=product_id, title=node.get("title"), category=category or None,
            brand=node.get("vendor") or None, price=None,
            n_photos=media.get("count") if isinstance(media, dict) else None,
            description=strip_html(node.get("descriptionHtml")) or node.get("description") or None,
            created_at=node.get("createdAt"), url=node.get("onlineStoreUrl"), image_url=image,
            gift_card=node.get("isGiftCard"),
        )
        for variant in nodes(node.get("variants")):
            self.variant(variant, product_id)

    def variant(self, node: dict, product_id: str | None) -> None:
        price = node.get("price")
        price = price.get("amount") if isinstance(price, dict) else price
        options = [(o.get("name"), o.get("value")) for o in node.get("selectedOptions") or [] if isinstance(o, dict)]
        self.collector.add("variants", variant_id=plain_id(node.get("id")), product_id=product_id,
                           size_raw=size_from_options(options, self.settings.is_size_option), price=amount(price))

    # ---- orders ----------------------------------------------------------------------------
    def order(self, node: dict) -> None:
        order_id = plain_id(node.get("id"))
        customer = node.get("customer") or {}
        cancelled = bool(node.get("cancelledAt")) and node.get("displayFulfillmentStatus") not in FULFILLED
        self.collector.add(
            "orders", order_id=order_id, order_number=node.get("name"),
            customer_id=plain_id(customer.get("id")) or guest_id(node.get("email"), order_id),
            ordered_at=node.get("processedAt") or node.get("createdAt"),
            currency=node.get("presentmentCurrencyCode") or node.get("currencyCode"),
            test=bool(node.get("test")), skip="cancelled_before_fulfilment" if cancelled else None,
        )
        for line in nodes(node.get("lineItems")):
            self.line(line, order_id)
        for shipping in nodes(node.get("shippingLines")):
            self.collector.add("lines", line_id=plain_id(shipping.get("id")) or f"shipping-{order_id}",
                               order_id=order_id, kind="shipping", title=shipping.get("title"))
        for refund in nodes(node.get("refunds")):
            self.refund(refund, order_id)
        for ret in nodes(node.get("returns")):
            self.return_(ret, order_id)

    def line(self, node: dict, order_id: str | None) -> None:
        variant = node.get("variant") or {}
        price, _ = money(node.get("discountedUnitPriceAfterAllDiscountsSet") or node.get("discountedUnitPriceSet")
                         or node.get("originalUnitPriceSet"), camel=True)
        options = [(o.get("name"), o.get("value")) for o in variant.get("selectedOptions") or [] if isinstance(o, dict)]
        self.collector.add(
            "lines", line_id=plain_id(node.get("id")), order_id=order_id, kind="item",
            product_id=plain_id((node.get("product") or {}).get("id")), variant_id=plain_id(variant.get("id")),
            size_raw=size_from_options(options, self.settings.is_size_option), quantity=node.get("quantity"),
            unit_price=price, title=node.get("title") or node.get("name"), gift_card=node.get("isGiftCard"),
            shipped=node.get("requiresShipping"),
        )

    def refund(self, node: dict, order_id: str | None) -> None:
        refund_id = plain_id(node.get("id"))
        items = nodes(node.get("refundLineItems"))
        total, currency = money(node.get("totalRefundedSet"), camel=True)
        self.collector.add("refunds", refund_id=refund_id, order_id=order_id, created_at=node.get("createdAt"),
                           amount=total, currency=currency, n_lines=len(items), note=node.get("note"),
                           return_id=plain_id((node.get("return") or {}).get("id")))
        for item in items:
            self.refund_line(item, refund_id, order_id, node)

    def refund_line(self, item: dict, refund_id: str | None, order_id: str | None, refund: dict) -> None:
        value, _ = money(item.get("subtotalSet"), camel=True)
        self.collector.add(
            "refund_lines", refund_id=refund_id, order_id=order_id,
            line_id=plain_id((item.get("lineItem") or {}).get("id")), quantity=item.get("quantity"),
            created_at=refund.get("createdAt"), goods_back=str(item.get("restockType")).upper() in GOODS_BACK,
            return_id=plain_id((refund.get("return") or {}).get("id")), amount=value, note=refund.get("note"),
        )

    def return_(self, node: dict, order_id: str | None) -> None:
        for item in nodes(node.get("returnLineItems")):
            self.return_line(item, node)
        for exchange in nodes(node.get("exchangeLineItems")):
            self.exchange(exchange, node)

    def return_line(self, item: dict, head: dict) -> None:
        line = ((item.get("fulfillmentLineItem") or {}).get("lineItem") or item.get("lineItem") or {})
        note = item.get("customerNote") or item.get("returnReasonNote") or None
        if item.get("returnReasonDefinition"):
            code, text = reason_from_definition(item["returnReasonDefinition"], note)
        else:
            code, text = shopify_reason(item.get("returnReason"), note)
        self.collector.add(
            "returns", return_id=plain_id(head.get("id")), line_id=plain_id(line.get("id")),
            quantity=item.get("quantity"), returned_at=head.get("createdAt") or head.get("closedAt"),
            reason_code=code, reason_text=text, declined=str(head.get("status")).upper() in DECLINED,
        )

    def exchange(self, item: dict, head: dict) -> None:
        lines = item.get("lineItems") or ([item["lineItem"]] if isinstance(item.get("lineItem"), dict) else [])
        for line in lines:
            if isinstance(line, dict) and head.get("createdAt"):
                self.collector.add("line_times", line_id=plain_id(line.get("id")), ordered_at=head["createdAt"])

    # ---- bulk-operation JSON Lines ------------------------------------------------------------
    def _bulk(self, record: dict, page: Page) -> None:
        kind = gid_type(record.get("id"))
        parent = record.get("__parentId")
        if kind == "Order":
            self.order(record)
        elif kind == "LineItem":
            self.line(record, plain_id(parent))
        elif kind == "ShippingLine":
            self.collector.add("lines", line_id=plain_id(record.get("id")), order_id=plain_id(parent),
                               kind="shipping", title=record.get("title"))
        elif kind == "Product":
            self.product(record)
        elif kind == "ProductVariant":
            self.variant(record, plain_id(parent))
        elif kind == "Return":
            self._return_heads[record["id"]] = record
        elif kind in ("ReturnLineItem", "UnverifiedReturnLineItem"):
            self._return_items.append((parent, record))
        elif kind == "ExchangeLineItem":
            self._exchanges.append((parent, record))
        elif kind == "Refund":
            self._refund_heads[record["id"]] = dict(record, __order=plain_id(parent))
        elif kind == "RefundLineItem" or (kind is None and parent and gid_type(parent) == "Refund"):
            self._refund_items.append((parent, record))
        elif kind is None:
            raise unknown_page(self, page, record, " (a JSONL line)")
        else:
            self.collector.page(f"bulk_ignored_{kind}")

    def finish(self) -> None:
        for parent, item in self._return_items:
            self.return_line(item, self._return_heads.get(parent, {"id": parent}))
        for parent, item in self._exchanges:
            self.exchange(item, self._return_heads.get(parent, {}))
        items: dict[str, list] = {}
        for parent, item in self._refund_items:
            items.setdefault(parent, []).append(item)
        for key, head in self._refund_heads.items():
            inline = nodes(head.get("refundLineItems"))
            self.refund(dict(head, refundLineItems=inline + items.pop(key, [])), head["__order"])
        for parent, orphans in items.items():  # refund lines whose refund is in no page
            for item in orphans:
                self.refund_line(item, plain_id(parent), None, {"id": parent})
        self._return_items, self._exchanges, self._refund_items, self._refund_heads = [], [], [], {}
