"""``--append``: the same pages twice give the same folder; a changed order replaces its rows."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from returnrisk.importers import import_shop

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_same_pages_twice_leave_the_folder_identical(tmp_path):
    out = tmp_path / "shop"
    first = import_shop("shopify", FIXTURES / "shopify", out)
    before = digest(out)
    second = import_shop("shopify", FIXTURES / "shopify", out, append=True)
    assert digest(out) == before
    assert second.append["rows_before"] == second.append["rows_after"]
    assert second.append["rows_after"]["order_lines"] == first.order_lines.written


def test_pages_imported_in_two_parts_equal_one_import(tmp_path):
    whole = tmp_path / "whole"
    import_shop("woocommerce", FIXTURES / "woocommerce", whole)
    part1, part2 = tmp_path / "p1", tmp_path / "p2"
    part1.mkdir(), part2.mkdir()
    for path in (FIXTURES / "woocommerce").iterdir():
        target = part2 if path.name.startswith("orders-page1") or path.name.startswith("orders-page2") else part1
        shutil.copy(path, target / path.name)
    for path in (FIXTURES / "woocommerce").iterdir():  # catalogue and refunds in both parts
        if not path.name.startswith("orders-"):
            shutil.copy(path, part2 / path.name)
    merged = tmp_path / "merged"
    import_shop("woocommerce", part1, merged)
    import_shop("woocommerce", part2, merged, append=True)
    for name in ("products", "order_lines", "returns"):
        a = pd.read_parquet(whole / f"{name}.parquet")
        b = pd.read_parquet(merged / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_like=False)


def test_a_changed_order_updates_its_rows_and_duplicates_nothing(tmp_path):
    out = tmp_path / "shop"
    import_shop("shopify", FIXTURES / "shopify", out)
    page = json.loads((FIXTURES / "shopify" / "orders-rest-page1.json").read_text())
    order = next(o for o in page["orders"] if len(o["line_items"]) >= 2 and not o["refunds"])
    removed = order["line_items"].pop()  # an order edit removed a line …
    order["line_items"][0]["quantity"] = 3  # … and changed a quantity
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "order.json").write_text(json.dumps({"orders": [order]}))
    before = pd.read_parquet(out / "order_lines.parquet")
    report = import_shop("shopify", changed, out, append=True)
    after = pd.read_parquet(out / "order_lines.parquet")
    assert len(after) == len(before) - 1
    assert not after["line_id"].duplicated().any()
    assert str(removed["id"]) not in set(after["line_id"])
    row = after[after["line_id"] == str(order["line_items"][0]["id"])]
    assert row["quantity"].tolist() == [3]
    assert report.append["order_lines_replaced"] == len(order["line_items"]) + 1
    products = pd.read_parquet(out / "products.parquet")
    assert not products["product_id"].duplicated().any()
