"""PrestaShop Webservice pages saved with ``output_format=JSON&display=full``.

Resources: ``products``, ``combinations``, ``product_option_values`` and ``product_options``
(the attribute groups: the size group is the one named Size/Taille/…; a colour group never is),
``orders`` (lines in ``associations.order_rows``), ``customers`` (``is_guest``), ``currencies``,
``categories``, ``order_states``, ``order_slips`` (credit slips: money back) and, where a module
exposes them, ``order_returns`` (goods back, with the customer's ``question``). Everything is
resolved after the last page, so pages may come in any order. PrestaShop dates have no offset:
they are read in the shop's time zone (``--timezone``).
"""

from __future__ import annotations

import re

from returnrisk.errors import InputError
from returnrisk.importers.base import PlatformReader, unknown_page
from returnrisk.importers.customers import guest_id
from returnrisk.importers.pages import Page
from returnrisk.importers.values import amount, first_text, plain_id, strip_html, truthy, whole_number

__all__ = ["PrestaShopReader", "RESOURCES"]

#: list node → single node of each resource read
RESOURCES = {
    "products": "product", "combinations": "combination", "product_option_values": "product_option_value",
    "product_options": "product_option", "orders": "order", "customers": "customer", "currencies": "currency",
    "categories": "category", "order_states": "order_state", "order_slips": "order_slip",
    "order_returns": "order_return", "order_return_details": "order_return_detail",
}
DENIED_RETURN_STATE = "4"
_CANCELLED = re.compile(r"cancel|annul", re.IGNORECASE)


def _assoc(item: dict, *names: str) -> list[dict]:
    links = item.get("associations") or {}
    for name in names:
        rows = links.get(name) if isinstance(links, dict) else None
        if isinstance(rows, list):
            return [r for r in rows if isinstance(r, dict)]
    return []


class PrestaShopReader(PlatformReader):
    platform = "prestashop"
    expected = ('a PrestaShop Webservice JSON page saved with output_format=JSON&display=full, e.g. '
                '{"orders": [{…, "associations": {"order_rows": […]}}]} or {"products": […]}')

    def __init__(self, collector, settings):
        super().__init__(collector, settings)
        self.items: dict[str, dict[str, dict]] = {name: {} for name in RESOURCES}

    def read(self, page: Page) -> None:
        if page.records is not None:  # several saved responses, one per line
            for number, record in enumerate(page.records, start=1):
                self._read_payload(record, page, f" line {number}")
            return
        self._read_payload(page.payload, page, "")

    def _read_payload(self, payload: object, page: Page, where: str) -> None:
        if not isinstance(payload, dict):
            raise unknown_page(self, page, payload, where)
        if payload.get("errors"):
            raise InputError(f"{page.name}{where} holds a PrestaShop webservice error, not data: "
                             f"{str(payload['errors'])[:300]}. Check the key's permissions and save the page again")
        known = False
        for plural, single in RESOURCES.items():
            value = payload.get(plural, payload.get(single))
            if value is None:
                continue
            rows = value if isinstance(value, list) else [value]
            if rows and all(isinstance(r, dict) and set(r) <= {"id"} for r in rows):
                raise InputError(f"{page.name}{where}: the {plural} page lists ids only: save it again with "
                                 "display=full (…/api/{plural}?output_format=JSON&display=full)".replace(
                                     "{plural}", plural))
            for row in rows:
                if isinstance(row, dict):
                    key = plain_id(row.get("id")) or f"{page.name}#{len(self.items[plural])}"
                    self.items[plural][key] = row
            self.collector.page(plural)
            known = True
        if not known:
            raise unknown_page(self, page, payload, where)

    # ---- resolution -------------------------------------------------------------------------
    def _text(self, value: object) -> str | None:
        return first_text(value, self.settings.language_id)

    def finish(self) -> None:
        self._catalogue()
        for order in self.items["orders"].values():
            self._order(order)
        self._slips()
        self._returns()

    def _catalogue(self) -> None:
        categories = {k: self._text(v.get("name")) for k, v in self.items["categories"].items()}
        for product_id, item in self.items["products"].items():
            self.collector.add(
                "products", product_id=product_id, title=self._text(item.get("name")),
                category=categories.get(plain_id(item.get("id_category_default")) or "") or None,
                brand=item.get("manufacturer_name") or None, price=amount(item.get("price")),
                n_photos=len(_assoc(item, "images")),
                description=strip_html(self._text(item.get("description"))) or strip_html(self._text(item.get("description_short"))),
                created_at=item.get("date_add"), url=None, image_url=None,
                shipped=not (truthy(item.get("is_virtual")) or item.get("type") == "virtual"),
            )
        groups = self.items["product_options"]
        size_groups = {gid for gid, g in groups.items() if not truthy(g.get("is_color_group")) and (
            self.settings.is_size_option(self._text(g.get("name")))
            or self.settings.is_size_option(self._text(g.get("public_name"))))}
        values = self.items["product_option_values"]
        for combination_id, item in self.items["combinations"].items():
            size = None
            for link in _assoc(item, "product_option_values"):
                value = values.get(plain_id(link.get("id")) or "", {})
                if plain_id(value.get("id_attribute_group")) in size_groups:
                    size = self._text(value.get("name"))
            self.collector.add("variants", variant_id=combination_id, product_id=plain_id(item.get("id_product")),
                               size_raw=size, price=None)

    def _order_skip(self, order: dict) -> str | None:
        state_id = plain_id(order.get("current_state")) or ""
        state = self.items["order_states"].get(state_id, {})
        delivered = bool(str(order.get("delivery_date") or "").strip("0-: ")) or truthy(state.get("shipped"))
        if state_id in self.settings.cancelled_state_ids or _CANCELLED.search(self._text(state.get("name")) or ""):
            return None if delivered else "cancelled_before_fulfilment"
        if "valid" in order and not truthy(order.get("valid")):
            return "order_not_placed"
        return None

    def _order(self, order: dict) -> None:
        order_id = plain_id(order.get("id"))
        customer_id = plain_id(order.get("id_customer"))
        customer = self.items["customers"].get(customer_id or "", {})
        if truthy(customer.get("is_guest")):
            customer_id = guest_id(customer.get("email"), order_id)
        currency = self.items["currencies"].get(plain_id(order.get("id_currency")) or "", {}).get("iso_code")
        self.collector.add(
            "orders", order_id=order_id, order_number=order.get("reference") or order_id,
            customer_id=customer_id or guest_id(None, order_id), ordered_at=order.get("date_add"),
            currency=currency, test=str(order.get("module")) in self.settings.test_payment_modules,
            skip=self._order_skip(order),
        )
        for row in _assoc(order, "order_rows"):
            price = amount(row.get("unit_price_tax_excl"))
            self.collector.add(
                "lines", line_id=plain_id(row.get("id")), order_id=order_id, kind="item",
                product_id=plain_id(row.get("product_id")), variant_id=plain_id(row.get("product_attribute_id")),
                quantity=whole_number(row.get("product_quantity")),
                unit_price=price if price is not None else amount(row.get("product_price")),
                title=row.get("product_name"),
            )

    def _slips(self) -> None:
        for slip_id, slip in self.items["order_slips"].items():
            details = _assoc(slip, "order_slip_details", "order_slip_detail")
            order_id = plain_id(slip.get("id_order"))
            currency = self.items["currencies"].get(
                plain_id(self.items["orders"].get(order_id or "", {}).get("id_currency")) or "", {}).get("iso_code")
            self.collector.add("refunds", refund_id=slip_id, order_id=order_id, created_at=slip.get("date_add"),
                               amount=amount(slip.get("amount")), currency=currency, n_lines=len(details))
            for detail in details:
                self.collector.add(
                    "refund_lines", refund_id=slip_id, order_id=order_id,
                    line_id=plain_id(detail.get("id_order_detail")), quantity=whole_number(detail.get("product_quantity")),
                    created_at=slip.get("date_add"), goods_back=False,
                    amount=amount(detail.get("amount_tax_incl")) or amount(detail.get("amount_tax_excl")),
                )

    def _returns(self) -> None:
        details: dict[str, list[dict]] = {}
        for detail in self.items["order_return_details"].values():
            details.setdefault(plain_id(detail.get("id_order_return")) or "", []).append(detail)
        for return_id, head in self.items["order_returns"].items():
            rows = _assoc(head, "order_return_details", "order_return_detail") + details.get(return_id, [])
            for row in rows:
                self.collector.add(
                    "returns", return_id=return_id, line_id=plain_id(row.get("id_order_detail")),
                    quantity=whole_number(row.get("product_quantity")), returned_at=head.get("date_add"),
                    reason_code=None, reason_text=strip_html(head.get("question")),
                    declined=plain_id(head.get("state")) == DENIED_RETURN_STATE,
                )
