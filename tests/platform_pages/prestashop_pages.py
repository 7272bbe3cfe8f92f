"""The model shop as PrestaShop Webservice pages (``output_format=JSON&display=full``).

Fields are those of the PrestaShop webservice resource schemas (devdocs "Resources": products,
combinations, product_options, product_option_values, orders with ``associations.order_rows``,
customers, currencies, categories, order_states, order_slip with ``order_slip_details``); values
are strings and multilingual fields ``[{"id": "1", "value": …}]`` as PrestaShop's JSON output
writes them. ``order_returns`` are not a core webservice resource: they are written with the
columns of PrestaShop's ``order_return`` / ``order_return_detail`` tables, as a module exposing
them returns them. Dates are the shop's local time (Europe/Paris), without offset.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .model import Order, Product, ShopModel

PARIS = ZoneInfo("Europe/Paris")

__all__ = ["write_prestashop", "TEST_MODULE"]

TEST_MODULE = "ps_cashondelivery"
STATES = [  # id, name (fr), shipped, paid, delivery, logable
    (2, "Paiement accepté", "0", "1", "0", "1"), (4, "Expédié", "1", "1", "1", "1"), (5, "Livré", "1", "1", "1", "1"),
    (6, "Annulé", "0", "0", "0", "0"), (7, "Remboursé", "1", "1", "0", "0"), (8, "Erreur de paiement", "0", "0", "0", "0"),
]


def small(value: int) -> int:
    return value % 100_000 + 1


def local(at) -> str:
    return at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")


def lang(fr: str, en: str | None = None) -> list[dict]:
    return [{"id": "1", "value": fr}, {"id": "2", "value": en or fr}]


def _groups(products: list[Product]):
    values, vid = {}, 0
    for p in products:
        for size in p.sizes or []:
            if ("size", size) not in values:
                vid += 1
                values[("size", size)] = vid
        for color in p.colors or []:
            if ("color", color) not in values:
                vid += 1
                values[("color", color)] = vid
    return values


def _product(p: Product, categories: dict[str, int]) -> dict:
    return {
        "id": small(p.pid), "id_manufacturer": "1", "id_supplier": "0", "id_category_default": str(categories[p.category]),
        "new": None, "id_default_image": str(small(p.pid)), "id_default_combination": str(small(p.variants[0].vid)),
        "id_tax_rules_group": "1", "type": "virtual" if p.gift_card else "standard", "reference": f"REF-{small(p.pid)}",
        "is_virtual": "1" if p.gift_card else "0", "price": f"{p.price / 1.2:.6f}", "active": "1",
        "date_add": local(p.created), "date_upd": local(p.created), "manufacturer_name": p.brand,
        "name": lang(p.title), "link_rewrite": lang(p.title.lower().replace(" ", "-")),
        "description": lang(f"<p>{p.description}</p>"), "description_short": lang(""),
        "associations": {"categories": [{"id": str(categories[p.category])}],
                         "images": [{"id": str(small(p.pid) * 10 + k)} for k in range(2)],
                         "combinations": [{"id": str(small(v.vid))} for v in p.variants if v.size or v.color]},
    }


def _rows(lines) -> list[dict]:
    return [{"id": str(small(l.lid)), "product_id": str(small(l.product.pid)),
             "product_attribute_id": str(small(l.variant.vid)) if (l.variant.size or l.variant.color) else "0",
             "product_quantity": str(l.quantity), "product_name": l.product.title, "product_reference": f"REF-{small(l.product.pid)}",
             "product_ean13": "", "product_isbn": "", "product_upc": "", "product_price": f"{l.variant.price / 1.2:.6f}",
             "id_customization": "0", "unit_price_tax_incl": f"{l.unit_price:.6f}",
             "unit_price_tax_excl": f"{l.unit_price / 1.2:.6f}"} for l in lines]


def _order(o: Order, customer: int, lines=None, at=None, oid=None) -> dict:
    at, oid, lines = at or o.at, oid or small(o.oid), o.lines if lines is None else lines
    state = "6" if o.cancelled else "5"
    total = sum(l.unit_price * l.quantity for l in lines) + o.shipping
    return {
        "id": oid, "id_address_delivery": str(customer), "id_address_invoice": str(customer), "id_cart": str(oid + 3),
        "id_currency": "2" if o.currency == "CHF" else "1", "id_lang": "1", "id_customer": str(customer), "id_carrier": "2",
        "current_state": state, "module": TEST_MODULE if o.test else "ps_checkout", "invoice_number": str(oid),
        "invoice_date": local(at), "delivery_number": "0" if o.cancelled else str(oid),
        "delivery_date": "0000-00-00 00:00:00" if o.cancelled else local(at + timedelta(days=2)),
        "valid": "0" if o.cancelled else "1", "date_add": local(at), "date_upd": local(at + timedelta(days=2)),
        "shipping_number": "", "id_shop_group": "1", "id_shop": "1", "secure_key": f"{oid:032x}", "payment": "Carte bancaire",
        "recyclable": "0", "gift": "0", "gift_message": "", "mobile_theme": "0", "total_discounts": "0.000000",
        "total_paid": f"{total:.6f}", "total_paid_tax_incl": f"{total:.6f}", "total_paid_tax_excl": f"{total / 1.2:.6f}",
        "total_paid_real": f"{total:.6f}", "total_products": f"{(total - o.shipping) / 1.2:.6f}",
        "total_products_wt": f"{total - o.shipping:.6f}", "total_shipping": f"{o.shipping:.6f}",
        "total_shipping_tax_incl": f"{o.shipping:.6f}", "total_shipping_tax_excl": f"{o.shipping / 1.2:.6f}",
        "carrier_tax_rate": "20.000", "total_wrapping": "0.000000", "round_mode": "2", "round_type": "2",
        "conversion_rate": "0.950000" if o.currency == "CHF" else "1.000000", "reference": f"{'QWERTYUIOP'[oid % 10]}{oid:08d}"[:9],
        "associations": {"order_rows": _rows(lines)},
    }


def _dump(path: Path, payload, compact: bool = True) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":") if compact else None,
                               indent=None if compact else 1) + "\n", encoding="utf-8")


def write_prestashop(model: ShopModel, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    products = model.products
    categories = {c: 10 + k for k, c in enumerate(sorted({p.category for p in products}))}
    values = _groups(products)
    _dump(folder / "categories.json", {"categories": [{"id": i, "id_parent": "2", "active": "1", "name": lang(c.capitalize()),
                                                       "link_rewrite": lang(c.replace(" ", "-"))} for c, i in categories.items()]}, False)
    _dump(folder / "currencies.json", {"currencies": [
        {"id": 1, "names": lang("Euro"), "name": "Euro", "symbol": lang("€"), "iso_code": "EUR", "numeric_iso_code": "978",
         "precision": "2", "conversion_rate": "1.000000", "deleted": "0", "active": "1"},
        {"id": 2, "names": lang("Franc suisse", "Swiss franc"), "name": "Franc suisse", "symbol": lang("CHF"), "iso_code": "CHF",
         "numeric_iso_code": "756", "precision": "2", "conversion_rate": "0.950000", "deleted": "0", "active": "1"}]}, False)
    _dump(folder / "order_states.json", {"order_states": [
        {"id": i, "unremovable": "1", "delivery": d, "hidden": "0", "send_email": "1", "module_name": "", "invoice": p,
         "color": "#32CD32", "logable": lg, "shipped": s, "paid": p, "pdf_delivery": "0", "pdf_invoice": p, "deleted": "0",
         "name": lang(n), "template": lang("")} for i, n, s, p, d, lg in STATES]}, False)
    _dump(folder / "product_options.json", {"product_options": [
        {"id": 1, "is_color_group": "0", "group_type": "select", "position": "0", "name": lang("Taille", "Size"),
         "public_name": lang("Taille", "Size"), "associations": {"product_option_values": [
             {"id": str(v)} for (k, _), v in values.items() if k == "size"]}},
        {"id": 2, "is_color_group": "1", "group_type": "color", "position": "1", "name": lang("Couleur", "Color"),
         "public_name": lang("Couleur", "Color"), "associations": {"product_option_values": [
             {"id": str(v)} for (k, _), v in values.items() if k == "color"]}}]}, False)
    _dump(folder / "product_option_values.json", {"product_option_values": [
        {"id": v, "id_attribute_group": "1" if k == "size" else "2", "color": "" if k == "size" else "#000000",
         "position": str(v), "name": lang(label)} for (k, label), v in values.items()]}, False)
    _dump(folder / "products.json", {"products": [_product(p, categories) for p in products]}, False)
    _dump(folder / "combinations.json", {"combinations": [
        {"id": small(v.vid), "id_product": str(small(p.pid)), "location": "", "ean13": "", "reference": f"REF-{small(v.vid)}",
         "wholesale_price": "0.000000", "price": "0.000000", "ecotax": "0.000000", "weight": "0.000000",
         "unit_price_impact": "0.000000", "minimal_quantity": "1", "default_on": None, "available_date": "0000-00-00",
         "associations": {"product_option_values": ([{"id": str(values[("size", v.size)])}] if v.size else [])
                          + ([{"id": str(values[("color", v.color)])}] if v.color else [])}}
        for p in products for v in p.variants if v.size or v.color]}, True)
    customers, orders, slips, returns = {}, [], [], []
    next_guest = 90_000
    for o in model.orders():
        if o.customer_id:
            cid = small(o.customer_id)
            customers.setdefault(cid, {"id": cid, "id_default_group": "3", "id_lang": "1", "lastname": "Client",
                                       "firstname": f"N{cid}", "email": o.email, "is_guest": "0", "active": "1",
                                       "newsletter": "0", "optin": "0", "date_add": local(o.at), "date_upd": local(o.at)})
        else:  # PrestaShop creates a guest account at each guest checkout
            next_guest += 1
            cid = next_guest
            customers[cid] = {"id": cid, "id_default_group": "2", "id_lang": "1", "lastname": "Invité", "firstname": "Client",
                              "email": o.email, "is_guest": "1", "active": "1", "newsletter": "0", "optin": "0",
                              "date_add": local(o.at), "date_upd": local(o.at)}
        orders.append(_order(o, cid))
        for line, at in o.exchange_lines:  # the replacement of an exchange is a new order
            orders.append(_order(o, cid, lines=[line], at=at, oid=small(o.oid) + 50_000))
        for event in o.returns:
            returns.append({"id": small(event.rid), "id_customer": str(cid), "id_order": str(small(o.oid)),
                            "state": "4" if event.declined else "5", "question": f"<p>{event.text}</p>",
                            "date_add": local(event.at), "date_upd": local(event.at),
                            "associations": {"order_return_details": [
                                {"id_order_detail": str(small(event.line.lid)), "product_quantity": str(event.quantity),
                                 "id_customization": "0"}]}})
        for r in o.refunds:
            lines_value = sum(v for _, _, _, v in r.items)
            slips.append({"id": small(r.fid), "id_customer": str(cid), "id_order": str(small(o.oid)),
                          "conversion_rate": "1.000000", "total_products_tax_excl": f"{lines_value / 1.2:.6f}",
                          "total_products_tax_incl": f"{lines_value:.6f}",
                          "total_shipping_tax_excl": f"{(r.amount - lines_value) / 1.2:.6f}",
                          "total_shipping_tax_incl": f"{r.amount - lines_value:.6f}", "amount": f"{r.amount:.6f}",
                          "shipping_cost": "1" if not r.items else "0", "shipping_cost_amount": f"{r.amount - lines_value:.6f}",
                          "partial": "1", "date_add": local(r.at), "date_upd": local(r.at), "order_slip_type": "0",
                          "associations": {"order_slip_details": [
                              {"id": str(small(r.fid) + k + 1), "id_order_detail": str(small(line.lid)), "product_quantity": str(q),
                               "amount_tax_excl": f"{v / 1.2:.6f}", "amount_tax_incl": f"{v:.6f}"}
                              for k, (line, q, goods, v) in enumerate(r.items)]}})
    _dump(folder / "customers.json", {"customers": list(customers.values())})
    for k in range(0, len(orders), 250):  # limit=offset,250
        _dump(folder / f"orders-{k}-{k + 249}.json", {"orders": orders[k:k + 250]})
    _dump(folder / "order_slips.json", {"order_slips": slips})
    _dump(folder / "order_returns.json", {"order_returns": returns})
