"""The model shop as Shopify pages: GraphQL Admin API pages, bulk-operation JSONL, REST pages.

Shapes follow the published references: the GraphQL objects ``Order``, ``LineItem``, ``Refund``,
``RefundLineItem``, ``Return``, ``ReturnLineItem``, ``ExchangeLineItem``, ``ShippingLine``,
``Product``, ``ProductVariant`` (fields as selected by the queries in docs/importing.md), the
bulk-operation JSONL format (one node per line, ``__parentId``), and the REST Admin API
``GET /orders.json`` and ``GET /products.json`` response examples (ids and values adapted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from .model import Order, Product, ShopModel

__all__ = ["write_shopify", "bulk_lines", "gid"]


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def iso(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def money_bag(value: float, currency: str, shop_currency: str = "EUR") -> dict:
    shop = value / 0.95 if currency == "CHF" else value
    return {"shopMoney": {"amount": f"{shop:.2f}", "currencyCode": shop_currency},
            "presentmentMoney": {"amount": f"{value:.2f}", "currencyCode": currency}}


def rest_money(value: float, currency: str, shop_currency: str = "EUR") -> dict:
    shop = value / 0.95 if currency == "CHF" else value
    return {"shop_money": {"amount": f"{shop:.2f}", "currency_code": shop_currency},
            "presentment_money": {"amount": f"{value:.2f}", "currency_code": currency}}


def _options(product: Product, variant) -> list[dict]:
    options = []
    if product.size_option and variant.size is not None:
        options.append({"name": product.size_option, "value": variant.size})
    if variant.color:
        options.append({"name": "Color", "value": variant.color})
    return options or [{"name": "Title", "value": "Default Title"}]


# ---- GraphQL ------------------------------------------------------------------------------------
def graphql_product(product: Product) -> dict:
    return {
        "id": gid("Product", product.pid), "title": product.title, "handle": product.title.lower().replace(" ", "-"),
        "vendor": product.brand, "productType": product.category, "createdAt": iso(product.created),
        "descriptionHtml": f"<p>{product.description}</p>", "isGiftCard": product.gift_card,
        "onlineStoreUrl": f"https://lune-paris.example/products/{product.pid}",
        "featuredImage": {"url": f"https://cdn.shopify.com/s/files/1/0005/4838/0009/products/{product.pid}.jpg"},
        "mediaCount": {"count": 3}, "options": [{"name": o["name"], "values": []} for o in _options(product, product.variants[0])],
        "variants": {"nodes": [{"id": gid("ProductVariant", v.vid), "title": " / ".join(o["value"] for o in _options(product, v)),
                                "price": f"{v.price:.2f}", "selectedOptions": _options(product, v)} for v in product.variants]},
    }


def graphql_line(line, currency: str) -> dict:
    product = line.product
    return {
        "id": gid("LineItem", line.lid), "name": f"{product.title} - {line.variant.size or ''}".strip(" -"),
        "title": product.title, "quantity": line.quantity, "sku": f"SKU-{line.variant.vid}",
        "variantTitle": " / ".join(o["value"] for o in _options(product, line.variant)),
        "isGiftCard": product.gift_card, "requiresShipping": not product.gift_card,
        "variant": {"id": gid("ProductVariant", line.variant.vid), "selectedOptions": _options(product, line.variant)},
        "product": {"id": gid("Product", product.pid)},
        "originalUnitPriceSet": money_bag(line.variant.price * (0.95 if currency == "CHF" else 1), currency),
        "discountedUnitPriceAfterAllDiscountsSet": money_bag(line.unit_price, currency),
    }


def graphql_refund(refund, currency: str, with_lines: bool = True) -> dict:
    node = {"id": gid("Refund", refund.fid), "createdAt": iso(refund.at), "note": refund.note or None,
            "totalRefundedSet": money_bag(refund.amount, currency),
            "return": {"id": gid("Return", refund.return_event.rid)} if refund.return_event else None}
    if with_lines:
        node["refundLineItems"] = {"nodes": [
            {"lineItem": {"id": gid("LineItem", line.lid)}, "quantity": quantity,
             "restockType": "RETURN" if goods else "NO_RESTOCK", "subtotalSet": money_bag(value, currency)}
            for line, quantity, goods, value in refund.items if quantity > 0]}
    return node


def return_line(event) -> dict:
    node = {"id": gid("ReturnLineItem", event.rid * 10 + 1), "quantity": event.quantity,
            "returnReason": event.reason, "returnReasonNote": "", "customerNote": event.text,
            "fulfillmentLineItem": {"lineItem": {"id": gid("LineItem", event.line.lid)}}}
    if event.by_definition:
        handle = {"SIZE_TOO_SMALL": "too-tight", "SIZE_TOO_LARGE": "too-loose", "COLOR": "color-too-bright",
                  "DEFECTIVE": "quality"}.get(event.reason, "arrived-late")
        node["returnReasonDefinition"] = {"id": gid("ReturnReasonDefinition", 100 + len(handle)), "handle": handle,
                                          "name": handle.replace("-", " ").capitalize()}
    return node


def return_head(event, order: Order) -> dict:
    return {"id": gid("Return", event.rid), "name": f"#{order.number}-R1",
            "status": "DECLINED" if event.declined else "CLOSED", "createdAt": iso(event.at),
            "closedAt": None if event.declined else iso(event.at)}


def graphql_order(order: Order) -> dict:
    exchange = [line for line, _ in order.exchange_lines]
    node = {
        "id": gid("Order", order.oid), "name": f"#{order.number}", "createdAt": iso(order.at), "processedAt": iso(order.at),
        "cancelledAt": iso(order.at) if order.cancelled else None, "cancelReason": "CUSTOMER" if order.cancelled else None,
        "test": order.test, "currencyCode": "EUR", "presentmentCurrencyCode": order.currency, "email": order.email,
        "displayFulfillmentStatus": "UNFULFILLED" if order.cancelled else "FULFILLED",
        "customer": {"id": gid("Customer", order.customer_id)} if order.customer_id else None,
        "lineItems": {"nodes": [graphql_line(line, order.currency) for line in order.lines + exchange]},
        "shippingLines": {"nodes": [{"id": gid("ShippingLine", order.oid + 7), "title": "Colissimo",
                                     "originalPriceSet": money_bag(order.shipping, order.currency)}]},
        "refunds": [graphql_refund(r, order.currency) for r in order.refunds],
        "returns": {"nodes": []},
    }
    by_return: dict[int, dict] = {}
    for event in order.returns:
        head = by_return.setdefault(event.rid, return_head(event, order) | {
            "returnLineItems": {"nodes": []}, "exchangeLineItems": {"nodes": []}})
        head["returnLineItems"]["nodes"].append(return_line(event))
    for line, at in order.exchange_lines:
        head = next(iter(by_return.values()))
        head["exchangeLineItems"]["nodes"].append({"id": gid("ExchangeLineItem", line.lid), "quantity": line.quantity,
                                                   "lineItems": [{"id": gid("LineItem", line.lid)}]})
    node["returns"]["nodes"] = list(by_return.values())
    return node


def graphql_page(key: str, nodes: list[dict], has_next: bool, cursor: str, edges: bool = False) -> dict:
    connection = {"edges": [{"cursor": f"{cursor}{i}", "node": n} for i, n in enumerate(nodes)]} if edges else {"nodes": nodes}
    connection["pageInfo"] = {"hasNextPage": has_next, "endCursor": f"{cursor}{len(nodes)}"}
    return {"data": {key: connection},
            "extensions": {"cost": {"requestedQueryCost": 252, "actualQueryCost": 120,
                                    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1880,
                                                       "restoreRate": 100.0}}}}


# ---- bulk-operation JSONL ------------------------------------------------------------------------
def bulk_lines(orders: Iterable[Order]) -> Iterator[dict]:
    """Bulk-operation output of the orders query: one node per line, children with ``__parentId``."""
    for order in orders:
        node = graphql_order(order)
        parent = node["id"]
        yield {k: v for k, v in node.items() if k not in ("lineItems", "shippingLines", "returns")} | {
            "refunds": [graphql_refund(r, order.currency, with_lines=False) for r in order.refunds]}
        for line in node["lineItems"]["nodes"]:
            yield line | {"__parentId": parent}
        for shipping in node["shippingLines"]["nodes"]:
            yield shipping | {"__parentId": parent}
        for head in node["returns"]["nodes"]:
            yield {k: v for k, v in head.items() if k not in ("returnLineItems", "exchangeLineItems")} | {"__parentId": parent}
            for item in head["returnLineItems"]["nodes"]:
                yield item | {"__parentId": head["id"]}


# ---- REST -------------------------------------------------------------------------------------------
def rest_product(product: Product) -> dict:
    names = [o["name"] for o in _options(product, product.variants[0])]
    return {
        "id": product.pid, "title": product.title, "body_html": f"<p>{product.description}</p>", "vendor": product.brand,
        "product_type": product.category, "created_at": iso(product.created), "handle": product.title.lower().replace(" ", "-"),
        "status": "active", "admin_graphql_api_id": gid("Product", product.pid),
        "options": [{"id": product.pid * 10 + i, "product_id": product.pid, "name": name, "position": i + 1,
                     "values": sorted({o["value"] for v in product.variants for o in _options(product, v) if o["name"] == name})}
                    for i, name in enumerate(names)],
        "variants": [{"id": v.vid, "product_id": product.pid, "title": " / ".join(o["value"] for o in _options(product, v)),
                      "price": f"{v.price:.2f}", "sku": f"SKU-{v.vid}", "position": k + 1,
                      **{f"option{i + 1}": (o["value"] if i < len(_options(product, v)) else None)
                         for i, o in enumerate(_options(product, v) + [{"value": None}] * (3 - len(_options(product, v))))},
                      "admin_graphql_api_id": gid("ProductVariant", v.vid)} for k, v in enumerate(product.variants)],
        "images": [{"id": product.pid + 1, "position": 1, "product_id": product.pid,
                    "src": f"https://cdn.shopify.com/s/files/1/0005/4838/0009/products/{product.pid}.jpg"}],
        "image": {"id": product.pid + 1, "src": f"https://cdn.shopify.com/s/files/1/0005/4838/0009/products/{product.pid}.jpg"},
    }


def rest_order(order: Order) -> dict:
    cur = order.currency
    customer = {"id": order.customer_id, "email": order.email, "admin_graphql_api_id": gid("Customer", order.customer_id)} \
        if order.customer_id else None
    return {
        "id": order.oid, "admin_graphql_api_id": gid("Order", order.oid), "name": f"#{order.number}",
        "order_number": order.number, "email": order.email, "contact_email": order.email,
        "created_at": iso(order.at), "processed_at": iso(order.at), "cancelled_at": iso(order.at) if order.cancelled else None,
        "cancel_reason": "customer" if order.cancelled else None, "test": order.test, "currency": "EUR",
        "presentment_currency": cur, "financial_status": "partially_refunded" if order.refunds else "paid",
        "fulfillment_status": None if order.cancelled else "fulfilled", "customer": customer,
        "line_items": [{"id": l.lid, "admin_graphql_api_id": gid("LineItem", l.lid), "name": l.product.title,
                        "title": l.product.title, "product_id": l.product.pid, "variant_id": l.variant.vid,
                        "variant_title": " / ".join(o["value"] for o in _options(l.product, l.variant)),
                        "quantity": l.quantity, "price": f"{l.variant.price * (0.95 if cur == 'CHF' else 1):.2f}",
                        "price_set": rest_money(l.variant.price * (0.95 if cur == "CHF" else 1), cur),
                        "gift_card": l.product.gift_card, "requires_shipping": not l.product.gift_card,
                        "sku": f"SKU-{l.variant.vid}", "product_exists": True,
                        "discount_allocations": [{"amount": f"{d:.2f}", "amount_set": rest_money(d, cur),
                                                  "discount_application_index": 0}
                                                 for d in [round((l.variant.price * (0.95 if cur == 'CHF' else 1) - l.unit_price)
                                                                 * l.quantity, 2)] if d > 0.005]}
                       for l in order.lines],
        "shipping_lines": [{"id": order.oid + 7, "title": "Colissimo", "code": "Colissimo", "source": "shopify",
                            "price": f"{order.shipping:.2f}", "price_set": rest_money(order.shipping, cur)}],
        "refunds": [{"id": r.fid, "admin_graphql_api_id": gid("Refund", r.fid), "order_id": order.oid,
                     "created_at": iso(r.at), "processed_at": iso(r.at), "note": r.note or None,
                     "restock": any(g for _, _, g, _ in r.items),
                     "transactions": [{"id": r.fid + 3, "amount": f"{r.amount:.2f}", "kind": "refund",
                                       "currency": cur, "status": "success", "gateway": "shopify_payments"}],
                     "refund_line_items": [{"id": r.fid + 5 + k, "line_item_id": line.lid, "quantity": q,
                                            "restock_type": "return" if goods else "no_restock",
                                            "subtotal": round(value, 2), "subtotal_set": rest_money(value, cur)}
                                           for k, (line, q, goods, value) in enumerate(r.items) if q > 0],
                     "order_adjustments": []} for r in order.refunds],
    }


def _dump(path: Path, payload: dict, compact: bool) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":") if compact else None,
                               indent=None if compact else 1) + "\n", encoding="utf-8")


def write_shopify(model: ShopModel, folder: Path) -> None:
    """Products (GraphQL pages + one REST page) and orders: oldest 40 % as a bulk export, the next
    35 % as GraphQL pages, the newest 25 % as REST pages."""
    folder.mkdir(parents=True, exist_ok=True)
    products = model.products
    cut = len(products) * 2 // 3
    half = cut // 2
    _dump(folder / "products-graphql-page1.json", graphql_page("products", [graphql_product(p) for p in products[:half]], True, "cP"), False)
    _dump(folder / "products-graphql-page2.json", graphql_page("products", [graphql_product(p) for p in products[half:cut]], False, "cQ", edges=True), False)
    _dump(folder / "products-rest.json", {"products": [rest_product(p) for p in products[cut:]]}, False)
    orders = list(model.orders())
    a, b = int(len(orders) * 0.40), int(len(orders) * 0.75)
    with open(folder / "orders-bulk-operation.jsonl", "w", encoding="utf-8") as handle:
        for node in bulk_lines(orders[:a]):
            handle.write(json.dumps(node, ensure_ascii=False, separators=(",", ":")) + "\n")
    middle = orders[a:b]
    size = (len(middle) + 3) // 4
    for k in range(4):
        chunk = middle[k * size:(k + 1) * size]
        _dump(folder / f"orders-graphql-page{k + 1}.json",
              graphql_page("orders", [graphql_order(o) for o in chunk], k < 3, f"cO{k}", edges=k == 1), True)
    rest = orders[b:]
    for k, chunk in enumerate((rest[: len(rest) // 2], rest[len(rest) // 2:])):
        _dump(folder / f"orders-rest-page{k + 1}.json", {"orders": [rest_order(o) for o in chunk]}, True)
