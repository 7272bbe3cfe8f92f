"""An order as its customer sees it: lines with title, image, size, quantity and what is already back.

An order is looked for in the shop's files first, else among the order lines the platform sent by
webhook (an :class:`OrderLineLookup`, in the service
:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore`): the files are exported nightly,
so the orders of the day are known only from the webhook until then. When both have an order, the
files win (the webhook rows are kept only until the files have them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from returnrisk.data.loader import Shop

__all__ = ["OrderLineLookup", "OrderLineView", "OrderView", "order_lines_of", "order_view", "order_view_of"]


class OrderLineLookup(Protocol):
    """Order lines known apart from the shop's files — the webhook order lines
    (:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore` is one). Frames have the contract's
    ``order_lines`` columns plus the product's ``title`` and ``brand`` (``ordered_at`` aware UTC)."""

    def order_lines(self, order_id: str) -> pd.DataFrame:
        """The lines of one order (empty: no such order)."""
        ...

    def lines(self, line_ids: Iterable[str]) -> pd.DataFrame:
        """The lines among ``line_ids`` it has (the others are left out)."""
        ...

    def order_numbers(self) -> pd.DataFrame:
        """``order_id`` and ``order_number`` of every order it has."""
        ...


@dataclass(frozen=True)
class OrderLineView:
    position: int             # 1, 2, … in the order (the form's field names use it, never the line id)
    line_id: str
    product_id: str
    title: str
    image_url: str | None
    size: str | None
    quantity: int
    unit_price: float | None
    currency: str | None
    returned: int             # units already back or declared

    @property
    def left(self) -> int:
        return max(self.quantity - self.returned, 0)


@dataclass(frozen=True)
class OrderView:
    order_id: str
    order_number: str         # what the customer knows: order_lines.order_number, else the order id
    customer_id: str
    ordered_at: pd.Timestamp
    lines: tuple[OrderLineView, ...]

    def line(self, position: int) -> OrderLineView | None:
        return next((ln for ln in self.lines if ln.position == position), None)

    @property
    def returnable(self) -> bool:
        return any(ln.left > 0 for ln in self.lines)


def _text(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def order_lines_of(shop: Shop, order_id: str, orders: OrderLineLookup | None = None) -> pd.DataFrame:
    """The order's lines (in the file's order), with the product's title, image, brand and category.

    The shop's files first; an order they do not have is looked up in ``orders`` (the webhook order
    lines), whose own ``title`` and ``brand`` come before the catalogue's (a new product has none there).
    """
    lines = shop.order_lines
    rows = lines[lines["order_id"] == str(order_id)]
    own: dict[str, pd.Series] = {}
    if rows.empty:
        if orders is None:
            return rows
        found = orders.order_lines(str(order_id))
        if found.empty:
            return rows
        rows = found.reset_index(drop=True)
        own = {c: rows.pop(c) for c in ("title", "brand") if c in rows.columns}
    products = shop.products.set_index("product_id")
    wanted = [c for c in ("title", "image_url", "brand", "category", "price") if c in products.columns]
    info = products.reindex(rows["product_id"].astype(str))[wanted].reset_index(drop=True)
    for column, values in own.items():
        given = values.map(_text)
        info[column] = given.where(given.notna(), info[column]) if column in info.columns else given
    return pd.concat([rows.reset_index(drop=True), info.add_prefix("product_")], axis=1)


def _title(row) -> str:
    title = _text(row.get("product_title"))
    if title:
        return title
    words = [w for w in (_text(row.get("product_brand")), _text(row.get("product_category"))) if w]
    return " · ".join(words + [str(row["product_id"])]) if words else str(row["product_id"])


def order_view(shop: Shop, order_id: str, returned: dict[str, int],
               orders: OrderLineLookup | None = None) -> OrderView | None:
    """The order ``order_id`` (``None`` if neither the shop's files nor ``orders`` have it); ``returned``:
    units back per line."""
    return order_view_of(order_lines_of(shop, order_id, orders), order_id, returned)


def order_view_of(rows: pd.DataFrame, order_id: str, returned: dict[str, int]) -> OrderView | None:
    """The order whose lines are ``rows`` (:func:`order_lines_of`; ``None`` if empty); ``returned``: units
    back per line."""
    if rows.empty:
        return None
    lines = []
    for position, row in enumerate(rows.to_dict("records"), start=1):
        price = row.get("unit_price")
        lines.append(OrderLineView(
            position=position, line_id=str(row["line_id"]), product_id=str(row["product_id"]), title=_title(row),
            image_url=_image(row.get("product_image_url")), size=_text(row.get("size")),
            quantity=int(row["quantity"]), unit_price=None if price is None or pd.isna(price) else float(price),
            currency=_text(row.get("currency")), returned=int(returned.get(str(row["line_id"]), 0))))
    first = rows.iloc[0]
    number = _text(first.get("order_number")) if "order_number" in rows.columns else None
    return OrderView(str(order_id), number or str(order_id), str(first["customer_id"]),
                     pd.Timestamp(rows["ordered_at"].min()), tuple(lines))


def _image(value) -> str | None:
    """Only https images are shown (the portal's Content-Security-Policy allows nothing else)."""
    text = _text(value)
    return text if text and text.lower().startswith("https://") else None
