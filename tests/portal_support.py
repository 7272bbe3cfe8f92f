"""Shared by the portal tests: a shop the portal can show (titles, order numbers) and form helpers."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pandas as pd
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

SECRET = "portal-test-secret-0123456789"


def portal_shop(source: Path, out: Path) -> Path:
    """``source`` (a demo shop) with the contract's optional titles, images and order numbers."""
    out.mkdir(parents=True, exist_ok=True)
    products = pd.read_csv(source / "products.csv", dtype=str, keep_default_na=False)
    products["title"] = products["brand"].str.cat(products["category"], sep=" ").str.title() + " " + \
        products["product_id"].str[-3:]
    products["image_url"] = ""
    products.to_csv(out / "products.csv", index=False)
    lines = pd.read_csv(source / "order_lines.csv", dtype=str, keep_default_na=False)
    lines["order_number"] = "#" + lines["order_id"].str.lstrip("O").str.lstrip("0")
    lines.to_csv(out / "order_lines.csv", index=False)
    shutil.copy(source / "returns.csv", out / "returns.csv")
    return out


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1).replace("&#34;", '"').replace("&amp;", "&")


def expired_token(order_id: str, days_ago: float = 31, secret: str = SECRET) -> str:
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - days_ago * 86400)

    return URLSafeTimedSerializer(secret, salt="returnrisk-portal", signer=PastSigner).dumps({"order_id": order_id})


class Orders:
    """Orders of the shop none of whose lines came back, newest first, handed out once each."""

    def __init__(self, folder: Path):
        lines = pd.read_csv(folder / "order_lines.csv", dtype=str, keep_default_na=False)
        returned = set(pd.read_csv(folder / "returns.csv", dtype=str, keep_default_na=False)["line_id"])
        lines["position"] = lines.groupby("order_id").cumcount() + 1
        lines["returned"] = lines["line_id"].isin(returned)
        self.lines = lines
        untouched = lines.groupby("order_id")["returned"].transform("any") == False  # noqa: E712
        fresh = lines[untouched].sort_values("ordered_at", ascending=False, kind="stable")
        self._fresh = list(dict.fromkeys(fresh["order_id"]))
        self._used: set[str] = set()

    def of(self, order_id: str) -> pd.DataFrame:
        return self.lines[self.lines["order_id"] == order_id].reset_index(drop=True)

    def take(self, accept=lambda rows: True) -> pd.DataFrame:
        for order_id in self._fresh:
            if order_id in self._used:
                continue
            rows = self.of(order_id)
            if accept(rows):
                self._used.add(order_id)
                return rows
        raise LookupError("no order left that fits")

    def with_a_returned_line(self) -> pd.DataFrame:
        counts = self.lines.groupby("order_id")["returned"].agg(["sum", "size"])
        order_id = counts[(counts["sum"] >= 1) & (counts["size"] > counts["sum"])].index[0]
        return self.of(order_id)
