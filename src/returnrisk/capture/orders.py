"""An order as its customer sees it: lines with title, image, size, quantity and what is already back."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from returnrisk.data.loader import Shop

__all__ = ["OrderLineView", "OrderView", "order_lines_of", "order_view"]


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


def order_lines_of(shop: Shop, order_id: str) -> pd.DataFrame:
    """The order's lines (in the file's order), with the product's title, image, brand and category."""
    lines = shop.order_lines
    rows = lines[lines["order_id"] == str(order_id)]
    if rows.empty:
        return rows
    products = shop.products.set_index("product_id")
    wanted = [c for c in ("title", "image_url", "brand", "category", "price") if c in products.columns]
    info = products.reindex(rows["product_id"].astype(str))[wanted].reset_index(drop=True)
    return pd.concat([rows.reset_index(drop=True), info.add_prefix("product_")], axis=1)


def _title(row) -> str:
    title = _text(row.get("product_title"))
    if title:
        return title
    words = [w for w in (_text(row.get("product_brand")), _text(row.get("product_category"))) if w]
    return " · ".join(words + [str(row["product_id"])]) if words else str(row["product_id"])


def order_view(shop: Shop, order_id: str, returned: dict[str, int]) -> OrderView | None:
    """The order ``order_id`` (``None`` if the shop has no such order); ``returned``: units back per line."""
    rows = order_lines_of(shop, order_id)
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
