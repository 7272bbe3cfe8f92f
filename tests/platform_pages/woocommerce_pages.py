"""The model shop as WooCommerce REST API v3 pages.

Shapes follow the "JSON response example" of the WooCommerce REST API docs (v3): List all
products, List all product variations, List all orders, List all refunds (ids and values
adapted). Refund pages are one per order (``GET /orders/{id}/refunds``), variation pages one per
product (``GET /products/{id}/variations``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .model import Order, Product, ShopModel

PARIS = ZoneInfo("Europe/Paris")

__all__ = ["write_woocommerce"]

SITE = "https://lune-paris.example"


def small(value: int) -> int:
    """WordPress post ids are small: keep the model's order but shrink the numbers."""
    return value % 10_000_000 + 1


def local(at) -> str:
    return at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M:%S")


def gmt(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def links(path: str, up: str | None = None) -> dict:
    result = {"self": [{"href": f"{SITE}/wp-json/wc/v3/{path}"}],
              "collection": [{"href": f"{SITE}/wp-json/wc/v3/{path.rsplit('/', 1)[0]}"}]}
    if up:
        result["up"] = [{"href": f"{SITE}/wp-json/wc/v3/{up}"}]
    return result


def product(p: Product) -> dict:
    attributes = []
    if p.size_option:
        attributes.append({"id": 0, "name": p.size_option, "position": 0, "visible": True, "variation": True,
                           "options": p.sizes})
    if p.colors:
        attributes.append({"id": 6, "name": "Color", "position": 1, "visible": False, "variation": True,
                           "options": p.colors})
    return {
        "id": small(p.pid), "name": p.title, "slug": p.title.lower().replace(" ", "-"),
        "permalink": f"{SITE}/product/{small(p.pid)}/", "date_created": local(p.created), "date_created_gmt": gmt(p.created),
        "type": "variable" if len(p.variants) > 1 else "simple", "status": "publish",
        "description": f"<p>{p.description}</p>\n", "short_description": "", "sku": "",
        "price": f"{p.price:.2f}", "regular_price": "" if len(p.variants) > 1 else f"{p.price:.2f}", "sale_price": "",
        "virtual": p.gift_card, "downloadable": False, "shipping_required": not p.gift_card,
        "categories": [{"id": 9 + len(p.category), "name": p.category.capitalize(), "slug": p.category}],
        "tags": [], "images": [{"id": small(p.pid) + k, "src": f"{SITE}/wp-content/uploads/2025/03/{small(p.pid)}-{k}.jpg",
                                "name": "", "alt": ""} for k in range(1, 3)],
        "attributes": attributes, "default_attributes": [],
        "variations": [small(v.vid) for v in p.variants] if len(p.variants) > 1 else [],
        "meta_data": [], "_links": links(f"products/{small(p.pid)}"),
    }


def variation(p: Product, v) -> dict:
    attributes = []
    if p.size_option and v.size is not None:
        attributes.append({"id": 0, "name": p.size_option, "option": v.size})
    if v.color:
        attributes.append({"id": 6, "name": "Color", "option": v.color})
    return {
        "id": small(v.vid), "date_created": local(p.created), "date_created_gmt": gmt(p.created), "description": "",
        "permalink": f"{SITE}/product/{small(p.pid)}/?attribute_pa_color={(v.color or '').lower()}", "sku": "",
        "price": f"{v.price:.2f}", "regular_price": f"{v.price:.2f}", "sale_price": "", "status": "publish",
        "virtual": False, "downloadable": False, "image": {"id": small(p.pid) + 1, "src": f"{SITE}/wp-content/uploads/{small(v.vid)}.jpg"},
        "attributes": attributes, "menu_order": 0, "meta_data": [],
        "_links": links(f"products/{small(p.pid)}/variations/{small(v.vid)}", up=f"products/{small(p.pid)}"),
    }


def line_item(line) -> dict:
    meta = []
    if line.variant.color:
        meta.append({"id": small(line.lid) + 1, "key": "pa_color", "value": line.variant.color.lower()})
    if line.product.size_option and line.variant.size is not None:
        meta.append({"id": small(line.lid) + 2, "key": line.product.size_option.lower(), "value": line.variant.size})
    total = line.unit_price * line.quantity
    return {
        "id": small(line.lid), "name": line.product.title, "product_id": small(line.product.pid),
        "variation_id": small(line.variant.vid) if len(line.product.variants) > 1 else 0, "quantity": line.quantity,
        "tax_class": "", "subtotal": f"{line.variant.price * line.quantity:.2f}", "subtotal_tax": "0.00",
        "total": f"{total:.2f}", "total_tax": "0.00", "taxes": [], "meta_data": meta, "sku": "", "price": line.unit_price,
    }


def order(o: Order, *, lines=None, number_suffix: str = "", at=None, oid=None) -> dict:
    at = at or o.at
    oid = oid or small(o.oid)
    lines = o.lines if lines is None else lines
    status = "cancelled" if o.cancelled else "refunded" if o.refunds and len(o.refunds) == len(lines) and not lines else "completed"
    meta = [{"id": oid * 10, "key": "_order_stock_reduced", "value": "yes"}]
    if o.test:
        meta.append({"id": oid * 10 + 1, "key": "_wcpay_mode", "value": "test"})
    total = sum(l.unit_price * l.quantity for l in lines) + o.shipping + o.fee
    return {
        "id": oid, "parent_id": 0, "number": f"{o.number}{number_suffix}", "order_key": f"wc_order_{oid:x}",
        "created_via": "checkout", "version": "9.4.2", "status": status, "currency": o.currency,
        "date_created": local(at), "date_created_gmt": gmt(at), "date_modified": local(at), "date_modified_gmt": gmt(at),
        "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": f"{o.shipping:.2f}", "shipping_tax": "0.00",
        "cart_tax": "0.00", "total": f"{total:.2f}", "total_tax": "0.00", "prices_include_tax": True,
        "customer_id": small(o.customer_id) if o.customer_id else 0, "customer_ip_address": "", "customer_user_agent": "",
        "customer_note": "",
        "billing": {"first_name": "Client", "last_name": "Lune", "company": "", "address_1": "12 rue de la Paix",
                    "address_2": "", "city": "Paris", "state": "", "postcode": "75002", "country": "FR",
                    "email": o.email, "phone": ""},
        "payment_method": "woocommerce_payments" if o.test else "stripe", "payment_method_title": "Carte",
        "transaction_id": "", "date_paid": local(at), "date_paid_gmt": gmt(at),
        "date_completed": None if o.cancelled else local(at + timedelta(days=1)),
        "date_completed_gmt": None if o.cancelled else gmt(at + timedelta(days=1)), "cart_hash": "", "meta_data": meta,
        "line_items": [line_item(l) for l in lines], "tax_lines": [],
        "shipping_lines": [{"id": oid * 10 + 7, "method_title": "Colissimo", "method_id": "flat_rate:1",
                            "total": f"{o.shipping:.2f}", "total_tax": "0.00", "taxes": [], "meta_data": []}],
        "fee_lines": [{"id": oid * 10 + 8, "name": "Emballage cadeau", "tax_class": "", "tax_status": "none",
                       "total": f"{o.fee:.2f}", "total_tax": "0.00", "taxes": [], "meta_data": []}] if o.fee else [],
        "coupon_lines": [],
        "refunds": [{"id": small(r.fid), "reason": r.note, "total": f"-{r.amount:.2f}"} for r in o.refunds] if lines is o.lines else [],
        "_links": links(f"orders/{oid}") | ({"customer": [{"href": f"{SITE}/wp-json/wc/v3/customers/{small(o.customer_id)}"}]}
                                            if o.customer_id else {}),
    }


def refunds(o: Order) -> list[dict]:
    out = []
    for r in o.refunds:
        out.append({
            "id": small(r.fid), "date_created": local(r.at), "date_created_gmt": gmt(r.at), "amount": f"{r.amount:.2f}",
            "reason": r.note, "refunded_by": 1, "refunded_payment": True, "meta_data": [],
            "line_items": [{"id": small(r.fid) + 1 + k, "name": line.product.title, "product_id": small(line.product.pid),
                            "variation_id": small(line.variant.vid) if len(line.product.variants) > 1 else 0,
                            "quantity": -q, "tax_class": "", "subtotal": f"-{value:.2f}", "subtotal_tax": "0.00",
                            "total": f"-{value:.2f}", "total_tax": "0.00", "taxes": [],
                            "meta_data": [{"id": small(r.fid) + 10 + k, "key": "_refunded_item_id", "value": str(small(line.lid))}],
                            "sku": "", "price": -line.unit_price}
                           for k, (line, q, goods, value) in enumerate(r.items)],
            "_links": links(f"orders/{small(o.oid)}/refunds/{small(r.fid)}", up=f"orders/{small(o.oid)}"),
        })
    return out


def _dump(path: Path, payload, compact: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":") if compact else None,
                               indent=None if compact else 1) + "\n", encoding="utf-8")


def write_woocommerce(model: ShopModel, folder: Path) -> None:
    """Products in pages of 20, orders in pages of 100 (newest first, as the API sorts them); the
    variations of each variable product and the refunds of each refunded order (one API call
    each) are saved one file per call for the first, then one response per line of a JSONL file."""
    products = model.products
    for k in range(0, len(products), 20):
        _dump(folder / f"products-page{k // 20 + 1}.json", [product(p) for p in products[k:k + 20]], compact=False)
    variable = [p for p in products if len(p.variants) > 1]
    for p in variable[:3]:  # some saved one file per call …
        _dump(folder / f"product-{small(p.pid)}-variations.json", [variation(p, v) for v in p.variants], compact=False)
    with open(folder / "variations.jsonl", "w", encoding="utf-8") as handle:  # … the rest one response per line
        for p in variable[3:]:
            handle.write(json.dumps([variation(p, v) for v in p.variants], ensure_ascii=False, separators=(",", ":")) + "\n")
    pages, exchanges, refund_pages = [], [], []
    for o in model.orders():
        pages.append(order(o))
        for line, at in o.exchange_lines:  # WooCommerce has no exchange: the replacement is a new order
            exchanges.append(order(o, lines=[line], number_suffix="-E", at=at, oid=small(o.oid) + 5_000_000))
        if o.refunds:
            refund_pages.append(refunds(o))
    _dump(folder / f"order-{refund_pages[0][0]['_links']['up'][0]['href'].rsplit('/', 1)[1]}-refunds.json",
          refund_pages[0], compact=False)
    with open(folder / "refunds.jsonl", "w", encoding="utf-8") as handle:
        for page in refund_pages[1:]:
            handle.write(json.dumps(page, ensure_ascii=False, separators=(",", ":")) + "\n")
    pages = sorted(pages + exchanges, key=lambda item: item["date_created_gmt"], reverse=True)
    for k in range(0, len(pages), 100):
        _dump(folder / f"orders-page{k // 100 + 1}.json", pages[k:k + 100])
