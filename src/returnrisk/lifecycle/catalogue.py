"""What a merchandiser recognises a product by: its title, page, image, and the currency it sells in.

From the data contract's optional ``products.title``, ``products.url``, ``products.image_url``
and ``order_lines.currency``. A product's currency is the one most of its lines were sold in
(lines without a currency count as the shop's main currency, ``RETURNRISK_CURRENCY``): amounts of
products sold in another currency are shown apart, never added to the main currency's.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pandas as pd

from returnrisk.data.loader import Shop

__all__ = ["ProductInfo", "product_catalogue", "safe_url"]


@dataclass(frozen=True)
class ProductInfo:
    product_id: str
    title: str | None
    url: str | None
    image_url: str | None
    currency: str


def safe_url(value) -> str | None:
    """``value`` if it is an absolute http(s) URL (or a data: image), else ``None`` (never a javascript: link)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text.startswith("data:image/"):
        return text
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc else None


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def product_catalogue(shop: Shop, main_currency: str) -> dict[str, ProductInfo]:
    """Every product of ``shop`` by id."""
    products = shop.products.drop_duplicates("product_id")
    ids = products["product_id"].astype(str).tolist()

    def column(name: str) -> list:
        return products[name].tolist() if name in products.columns else [None] * len(ids)

    currencies: dict[str, str] = {}
    lines = shop.order_lines
    if "currency" in lines.columns and lines["currency"].notna().any():
        frame = pd.DataFrame({"product_id": lines["product_id"].astype(str),
                              "currency": lines["currency"].astype(object).where(lines["currency"].notna(),
                                                                                 main_currency)})
        counts = frame.groupby(["product_id", "currency"]).size().reset_index(name="n")
        counts = counts.sort_values(["product_id", "n", "currency"], ascending=[True, False, True])
        currencies = dict(zip(counts.drop_duplicates("product_id")["product_id"],
                              counts.drop_duplicates("product_id")["currency"].astype(str).str.upper()))
    return {pid: ProductInfo(pid, _text(title), safe_url(url), safe_url(image), currencies.get(pid, main_currency))
            for pid, title, url, image in zip(ids, column("title"), column("url"), column("image_url"))}
