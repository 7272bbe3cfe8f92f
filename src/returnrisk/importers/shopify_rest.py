"""Shopify legacy REST Admin API pages: ``orders.json``, ``products.json``, ``orders/{id}/refunds.json``.

Also a bare order object (the body of an ``orders/create`` webhook has the same shape).
Sizes of REST lines come from the product pages: a variant's ``option1``…``option3`` are named by
the product's ``options`` (by position).
"""

from __future__ import annotations

from returnrisk.importers.customers import guest_id
from returnrisk.importers.pages import Page
from returnrisk.importers.sizes import size_from_options
from returnrisk.importers.values import amount, money, plain_id, strip_html

__all__ = ["ShopifyRest"]

REST_FULFILLED = {"fulfilled", "partial"}
REST_GOODS_BACK = {"return", "legacy_restock"}


class ShopifyRest:
    """REST page handling, mixed into :class:`~returnrisk.importers.shopify.ShopifyReader`."""

    def read_rest(self, payload: object, page: Page) -> bool:
        if not isinstance(payload, dict):
            return False
        handlers = (("orders", self.rest_order), ("products", self.rest_product), ("refunds", self.rest_refund))
        for key, handle in handlers:
            single = key[:-1]
            if isinstance(payload.get(key), list):
                for item in payload[key]:
                    if isinstance(item, dict):
                        handle(item)
            elif isinstance(payload.get(single), dict):
                handle(payload[single])
            else:
                continue
            self.collector.page(f"rest_{key}")
            return True
        if "line_items" in payload and "id" in payload:
            self.rest_order(payload)
            self.collector.page("rest_orders")
            return True
        return False

    def rest_product(self, node: dict) -> None:
        product_id = plain_id(node.get("id"))
        images = node.get("images") or []
        self.collector.add(
            "products", product_id=product_id, title=node.get("title"), category=node.get("product_type") or None,
            brand=node.get("vendor") or None, price=None, n_photos=len(images) if isinstance(images, list) else None,
            description=strip_html(node.get("body_html")), created_at=node.get("created_at"), url=None,
            image_url=(node.get("image") or {}).get("src"),
        )
        names = {int(o.get("position") or i + 1): o.get("name") for i, o in enumerate(node.get("options") or [])
                 if isinstance(o, dict)}
        for variant in node.get("variants") or []:
            if not isinstance(variant, dict):
                continue
            options = [(names.get(i), variant.get(f"option{i}")) for i in (1, 2, 3)]
            self.collector.add("variants", variant_id=plain_id(variant.get("id")), product_id=product_id,
                               size_raw=size_from_options(options, self.settings.is_size_option),
                               price=amount(variant.get("price")))

    def rest_order(self, node: dict) -> None:
        order_id = plain_id(node.get("id"))
        customer = node.get("customer") or {}
        cancelled = bool(node.get("cancelled_at")) and node.get("fulfillment_status") not in REST_FULFILLED
        self.collector.add(
            "orders", order_id=order_id, order_number=node.get("name"),
            customer_id=plain_id(customer.get("id")) or guest_id(node.get("email") or node.get("contact_email"),
                                                                  order_id),
            ordered_at=node.get("processed_at") or node.get("created_at"),
            currency=node.get("presentment_currency") or node.get("currency"),
            test=bool(node.get("test")), skip="cancelled_before_fulfilment" if cancelled else None,
        )
        for line in node.get("line_items") or []:
            if isinstance(line, dict):
                self.rest_line(line, order_id)
        for shipping in node.get("shipping_lines") or []:
            if isinstance(shipping, dict):
                self.collector.add("lines", line_id=plain_id(shipping.get("id")) or f"shipping-{order_id}",
                                   order_id=order_id, kind="shipping", title=shipping.get("title"))
        for refund in node.get("refunds") or []:
            if isinstance(refund, dict):
                self.rest_refund(refund, order_id)

    def rest_line(self, line: dict, order_id: str | None) -> None:
        price, _ = money(line.get("price_set"), camel=False)
        price = amount(line.get("price")) if price is None else price
        quantity = line.get("quantity")
        discount = 0.0
        for allocation in line.get("discount_allocations") or []:
            value, _ = money(allocation.get("amount_set"), camel=False) if isinstance(allocation, dict) else (None, None)
            discount += value if value is not None else amount(allocation.get("amount")) or 0.0
        if price is not None and isinstance(quantity, int) and quantity > 0:
            price = max(price - discount / quantity, 0.0)
        self.collector.add(
            "lines", line_id=plain_id(line.get("id")), order_id=order_id, kind="item",
            product_id=plain_id(line.get("product_id")), variant_id=plain_id(line.get("variant_id")),
            quantity=quantity, unit_price=price, title=line.get("title") or line.get("name"),
            gift_card=line.get("gift_card"), shipped=line.get("requires_shipping"),
        )

    def rest_refund(self, node: dict, order_id: str | None = None) -> None:
        order_id = order_id or plain_id(node.get("order_id"))
        refund_id = plain_id(node.get("id"))
        items = [i for i in node.get("refund_line_items") or [] if isinstance(i, dict)]
        transactions = [t for t in node.get("transactions") or [] if isinstance(t, dict)]
        total = sum(amount(t.get("amount")) or 0.0 for t in transactions if t.get("kind", "refund") == "refund")
        currency = next((t.get("currency") for t in transactions if t.get("currency")), None)
        created = node.get("processed_at") or node.get("created_at")
        self.collector.add("refunds", refund_id=refund_id, order_id=order_id, created_at=created,
                           amount=total, currency=currency, n_lines=len(items), note=node.get("note"))
        for item in items:
            value, _ = money(item.get("subtotal_set"), camel=False)
            self.collector.add(
                "refund_lines", refund_id=refund_id, order_id=order_id, line_id=plain_id(item.get("line_item_id")),
                quantity=item.get("quantity"), created_at=created,
                goods_back=str(item.get("restock_type")).lower() in REST_GOODS_BACK,
                amount=value if value is not None else amount(item.get("subtotal")), note=node.get("note"),
            )
