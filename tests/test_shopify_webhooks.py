"""POST /v1/webhooks/shopify (issue 14): signed deliveries, orders as order lines in the service database,
returns like POST /v1/returns (channel webhook), refunds by the importer's rule, replays change nothing;
export-returns exports the webhook order lines.

The bodies follow Shopify's webhook payloads (REST shapes): an order (``orders/create``: ``id``,
``line_items`` with ``variant_title``, ``shipping_lines``, ``updated_at``), a return
(``returns/request``: ``admin_graphql_api_id``, ``return_line_items[].fulfillment_line_item.line_item``,
``return_reason`` in lower case) and a refund (``refunds/create``: ``refund_line_items`` with
``restock_type``)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from conftest import write_shop
from returnrisk.data.loader import load_shop
from returnrisk.importers.webhooks import parse_order, size_from_variant_title
from returnrisk.operations.export import export_returns
from returnrisk.operations.shopify_webhooks import shopify_signature
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import WebhookOrderStore
from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

SECRET = "shpss_test_secret"
KEY = {"Authorization": "Bearer merchant-key"}

ORDER = {
    "id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "name": "#9999", "email": "jon@example.com", "created_at": "2025-03-20T10:00:00-04:00",
    "processed_at": "2025-03-20T10:00:00-04:00", "updated_at": "2025-03-20T10:00:05-04:00",
    "cancelled_at": None, "test": False, "currency": "EUR", "presentment_currency": "EUR",
    "fulfillment_status": "fulfilled", "customer": {"id": 115310627314723954, "email": "jon@example.com"},
    "line_items": [
        {"id": 866550311766439020, "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020",
         "product_id": 788032119674292922, "variant_id": 642667041472713922, "title": "Robe Lune",
         "name": "Robe Lune - M / Rouge", "variant_title": "M / Rouge", "vendor": "Lune", "quantity": 2,
         "price": "79.90", "price_set": {"shop_money": {"amount": "79.90", "currency_code": "EUR"},
                                         "presentment_money": {"amount": "79.90", "currency_code": "EUR"}},
         "gift_card": False, "requires_shipping": True, "discount_allocations": []},
        {"id": 141249953214522974, "admin_graphql_api_id": "gid://shopify/LineItem/141249953214522974",
         "product_id": 9001, "variant_id": 9002, "title": "Carte cadeau", "variant_title": "50 €", "quantity": 1,
         "price": "50.00", "gift_card": True, "requires_shipping": False, "discount_allocations": []},
    ],
    "shipping_lines": [{"id": 271878346596884015, "title": "Colissimo", "price": "4.90"}],
    "refunds": [],
}
DRESS = "866550311766439020"
RETURN = {
    "id": 1001, "admin_graphql_api_id": "gid://shopify/Return/1001", "status": "requested",
    "order": {"id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508"},
    "total_return_line_items": 1, "name": "#9999-R1",
    "return_line_items": [{
        "id": 61, "admin_graphql_api_id": "gid://shopify/ReturnLineItem/61",
        "fulfillment_line_item": {"id": 71, "admin_graphql_api_id": "gid://shopify/FulfillmentLineItem/71",
                                  "line_item": {"id": 866550311766439020,
                                                "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020"}},
        "quantity": 1, "return_reason": "size_too_small", "return_reason_note": "", "customer_note": "serre trop"}],
}


def refund(refund_id: int, line_id: str, restock_type: str, quantity: int = 1, created="2025-03-28T12:00:00Z",
           return_=None) -> dict:
    return {"id": refund_id, "order_id": 820982911946154508, "created_at": created, "processed_at": created,
            "note": "remboursé", "restock": restock_type == "return", "return": return_,
            "refund_line_items": [{"id": refund_id + 1, "line_item_id": int(line_id), "quantity": quantity,
                                   "restock_type": restock_type, "subtotal": 79.9,
                                   "subtotal_set": {"shop_money": {"amount": "79.90", "currency_code": "EUR"},
                                                    "presentment_money": {"amount": "79.90", "currency_code": "EUR"}}}],
            "transactions": [{"kind": "refund", "amount": "79.90", "currency": "EUR"}]}


def deliver(client, topic: str, payload: dict, *, secret: str | None = SECRET, signature: str | None = None,
            triggered_at: str = "2025-03-25T09:00:00Z"):
    body = json.dumps(payload).encode()
    headers = {"X-Shopify-Topic": topic, "Content-Type": "application/json", "X-Shopify-Triggered-At": triggered_at}
    if signature is None and secret is not None:
        signature = shopify_signature(secret, body)
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    return client.post("/v1/webhooks/shopify", content=body, headers=headers)


@pytest.fixture()
def service(tiny_bundle, tmp_path):
    shop = write_shop(tmp_path / "shop")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = Settings(_env_file=None, merchant_api_keys=["merchant-key"], data_dir=str(shop), database_url=url,
                        shopify_webhook_secret=SECRET)
    with TestClient(create_app(settings, loader=lambda: (tiny_bundle, {"version": "1"}))) as client:
        yield client, url, shop


def table_rows(url: str, name: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1, 2"))]
    engine.dispose()
    for row in rows:   # bookkeeping times differ between deliveries by design
        row.pop("recorded_at", None), row.pop("updated_at", None)
    return rows


# ---- the door -----------------------------------------------------------------------------------
def test_a_wrong_or_missing_signature_is_401_and_writes_nothing(service):
    client, url, _ = service
    wrong = deliver(client, "orders/create", ORDER, secret="another-secret")
    assert wrong.status_code == 401 and wrong.json()["code"] == "webhook_signature_invalid"
    assert "does not match" in wrong.json()["detail"]
    missing = deliver(client, "orders/create", ORDER, secret=None)
    assert missing.status_code == 401 and "X-Shopify-Hmac-Sha256 header missing" in missing.json()["detail"]
    # a body changed after signing is refused too
    body = json.dumps(ORDER).encode()
    tampered = client.post("/v1/webhooks/shopify", content=body.replace(b'"quantity": 2', b'"quantity": 9'),
                           headers={"X-Shopify-Topic": "orders/create",
                                    "X-Shopify-Hmac-Sha256": shopify_signature(SECRET, body)})
    assert tampered.status_code == 401
    assert table_rows(url, "returnrisk_webhook_order_lines") == []


def test_without_a_secret_the_endpoint_answers_404_naming_the_variable(tiny_bundle, tmp_path):
    settings = Settings(_env_file=None, data_dir=str(write_shop(tmp_path / "shop")),
                        database_url=f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(create_app(settings, loader=lambda: (tiny_bundle, {"version": "1"}))) as client:
        answer = deliver(client, "orders/create", ORDER)
    assert answer.status_code == 404 and answer.json()["code"] == "webhooks_not_configured"
    assert "RETURNRISK_SHOPIFY_WEBHOOK_SECRET" in answer.json()["detail"]


def test_bad_bodies_and_unknown_topics_are_clear(service):
    client, _, _ = service
    signed_garbage = client.post("/v1/webhooks/shopify", content=b"{not json", headers={
        "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": shopify_signature(SECRET, b"{not json")})
    assert signed_garbage.status_code == 422 and "is not JSON" in signed_garbage.json()["detail"]
    no_topic = client.post("/v1/webhooks/shopify", content=b"{}",
                           headers={"X-Shopify-Hmac-Sha256": shopify_signature(SECRET, b"{}")})
    assert no_topic.status_code == 422 and "X-Shopify-Topic header missing" in no_topic.json()["detail"]
    other = deliver(client, "products/update", {"id": 1})
    assert other.status_code == 200 and other.json()["status"] == "ignored"


# ---- orders → returns → replays --------------------------------------------------------------------
def test_a_return_for_an_order_not_in_the_files_is_accepted_after_orders_create(service):
    client, url, _ = service
    body = {"line_id": DRESS, "returned_at": "2025-03-26T10:00:00Z", "reason_code": "too_small", "channel": "api",
            "return_id": "API-1", "quantity": 1}
    before = client.post("/v1/returns", json=body, headers=KEY)
    assert before.status_code == 404 and before.json()["code"] == "line_not_found"
    assert "POST /v1/webhooks/shopify" in before.json()["detail"]

    created = deliver(client, "orders/create", ORDER)
    assert created.status_code == 200
    assert created.json()["status"] == "created"
    assert created.json()["order_lines"] == {"status": "created", "written": 1, "removed": 0,
                                             "skipped": {"gift_card": 1, "shipping_line": 1}}
    [line] = table_rows(url, "returnrisk_webhook_order_lines")
    assert {k: line[k] for k in ("line_id", "order_id", "customer_id", "product_id", "size", "quantity",
                                 "unit_price", "order_number", "currency", "title", "brand")} == {
        "line_id": DRESS, "order_id": "820982911946154508", "customer_id": "115310627314723954",
        "product_id": "788032119674292922", "size": "M", "quantity": 2, "unit_price": 79.9,
        "order_number": "#9999", "currency": "EUR", "title": "Robe Lune", "brand": "Lune"}
    assert pd.Timestamp(line["ordered_at"]) == pd.Timestamp("2025-03-20T14:00:00")   # UTC

    after = client.post("/v1/returns", json=body, headers=KEY)
    assert after.status_code == 201 and after.json()["status"] == "created"
    # the line's ordered quantity (2) comes from the webhook line: a third unit is refused
    over = client.post("/v1/returns", json={**body, "return_id": "API-2", "quantity": 2}, headers=KEY)
    assert over.status_code == 409 and over.json()["code"] == "over_returned" and over.json()["ordered"] == 2


def test_create_return_and_replays_change_nothing(service):
    client, url, _ = service
    assert deliver(client, "orders/create", ORDER).json()["status"] == "created"
    first = deliver(client, "returns/request", RETURN)
    assert first.status_code == 200, first.json()
    assert first.json()["status"] == "recorded"
    assert first.json()["returns"] == [{"line_id": DRESS, "return_id": "1001", "status": "created", "what": "return"}]
    stored = client.get(f"/v1/returns/{DRESS}", headers=KEY).json()
    assert (stored["return_id"], stored["quantity"], stored["reason"], stored["channel"], stored["returned_at"]) == \
        ("1001", 1, "too_small", "webhook", "2025-03-25T09:00:00Z")
    assert stored["reason_text"] == "serre trop"
    snapshot = (table_rows(url, "returnrisk_webhook_order_lines"), table_rows(url, "returnrisk_returns"))

    # Shopify retries a delivery (a later X-Shopify-Triggered-At too), then approves the same return
    assert deliver(client, "orders/create", ORDER).json()["status"] == "unchanged"
    assert deliver(client, "returns/request", RETURN, triggered_at="2025-03-25T09:05:00Z").json()["status"] == \
        "unchanged"
    approved = dict(RETURN, status="open")
    assert deliver(client, "returns/approve", approved, triggered_at="2025-03-26T08:00:00Z").json()["status"] == \
        "unchanged"
    assert (table_rows(url, "returnrisk_webhook_order_lines"), table_rows(url, "returnrisk_returns")) == snapshot

    # a contradiction of the stored return is refused as POST /v1/returns refuses it
    contradicting = copy.deepcopy(RETURN)
    contradicting["return_line_items"][0]["quantity"] = 2
    clash = deliver(client, "returns/request", contradicting)
    assert clash.status_code == 409 and clash.json()["code"] == "return_conflict"
    assert (table_rows(url, "returnrisk_webhook_order_lines"), table_rows(url, "returnrisk_returns")) == snapshot

    # its refund (goods back) dates the return, once
    paid = deliver(client, "refunds/create", refund(5001, DRESS, "return", return_={"id": 1001}))
    assert paid.json()["returns"] == [{"line_id": DRESS, "return_id": "1001", "status": "updated", "what": "refund"}]
    assert deliver(client, "refunds/create", refund(5001, DRESS, "return", return_={"id": 1001})).json()["status"] \
        == "unchanged"
    [row] = table_rows(url, "returnrisk_returns")
    assert pd.Timestamp(row["refunded_at"]) == pd.Timestamp("2025-03-28T12:00:00")


def test_refunds_follow_the_importer_rule(service):
    client, url, _ = service
    deliver(client, "orders/create", ORDER)
    # a price adjustment (no goods back) is not a return
    adjustment = deliver(client, "refunds/create", refund(6001, DRESS, "no_restock"))
    assert adjustment.status_code == 200
    assert adjustment.json()["status"] == "not_a_return"
    assert adjustment.json()["refunds_without_return"] == {"lines": 1, "units": 1}
    assert table_rows(url, "returnrisk_returns") == []
    # a refund with restock type "return" and no Shopify return is a return, refunded when it is made
    goods = deliver(client, "refunds/create", refund(6101, DRESS, "return", created="2025-03-29T08:00:00Z"))
    assert goods.json()["returns"] == [{"line_id": DRESS, "return_id": "refund-6101", "status": "created",
                                        "what": "return"}]
    [row] = table_rows(url, "returnrisk_returns")
    assert (row["return_id"], row["quantity"], row["channel"], row["reason_text"]) == \
        ("refund-6101", 1, "webhook", "remboursé")
    assert pd.Timestamp(row["returned_at"]) == pd.Timestamp(row["refunded_at"]) == pd.Timestamp("2025-03-29T08:00:00")
    assert deliver(client, "refunds/create", refund(6101, DRESS, "return", created="2025-03-29T08:00:00Z")) \
        .json()["status"] == "unchanged"
    assert len(table_rows(url, "returnrisk_returns")) == 1


def test_declined_returns_are_withdrawn_and_order_updates_replace_the_order(service):
    client, url, _ = service
    deliver(client, "orders/create", ORDER)
    deliver(client, "returns/request", RETURN)
    declined = deliver(client, "returns/decline", {"id": 1001, "admin_graphql_api_id": "gid://shopify/Return/1001",
                                                   "status": "declined", "decline": {"reason": "final_sale"}})
    assert declined.json()["status"] == "withdrawn" and table_rows(url, "returnrisk_returns") == []

    edited = copy.deepcopy(ORDER)
    edited["updated_at"] = "2025-03-21T09:00:00Z"
    edited["line_items"][0]["quantity"] = 1
    assert deliver(client, "orders/updated", edited).json()["order_lines"]["status"] == "updated"
    assert table_rows(url, "returnrisk_webhook_order_lines")[0]["quantity"] == 1
    # an older version delivered late changes nothing
    assert deliver(client, "orders/updated", ORDER).json()["order_lines"]["status"] == "stale"
    assert table_rows(url, "returnrisk_webhook_order_lines")[0]["quantity"] == 1
    # an order that turns out to be a test order loses its lines
    test_order = dict(edited, test=True, updated_at="2025-03-22T09:00:00Z")
    answer = deliver(client, "orders/updated", test_order).json()["order_lines"]
    assert (answer["status"], answer["written"], answer["removed"]) == ("updated", 0, 1)
    assert answer["skipped"]["test_order"] == 3
    assert table_rows(url, "returnrisk_webhook_order_lines") == []


# ---- parsing shared with the importer --------------------------------------------------------------
def test_sizes_come_from_the_variant_title_never_from_the_colour():
    assert size_from_variant_title("M / Rouge") == "M"
    assert size_from_variant_title("Bleu / EU 38") == "EU 38"
    assert size_from_variant_title("Rouge") is None
    assert size_from_variant_title(None) is None
    assert size_from_variant_title("One size / Gris") is None
    order = parse_order(dict(ORDER, customer=None))
    assert order.lines["customer_id"].iloc[0].startswith("guest-")   # the importer's guest pseudonym
    assert "jon@example.com" not in order.lines.to_string()


# ---- export -------------------------------------------------------------------------------------
def test_export_contains_the_webhook_lines_once_and_the_shop_loads(service, tmp_path):
    client, url, shop = service
    deliver(client, "orders/create", ORDER)
    deliver(client, "returns/request", RETURN)
    store = ReturnStore(url)
    try:
        alone = export_returns(store, tmp_path / "alone")
        lines = pd.read_csv(tmp_path / "alone" / "webhook_order_lines.csv", dtype=str, keep_default_na=False)
        assert lines["line_id"].tolist() == [DRESS] and lines["quantity"].tolist() == ["2"]
        assert lines["ordered_at"].tolist() == ["2025-03-20T14:00:00Z"]
        assert alone.webhook_lines == 1

        merged = export_returns(store, tmp_path / "merged", merge_with=shop)
        assert (merged.webhook_lines_added, merged.webhook_lines_already_in_shop, merged.products_added) == (1, 0, 1)
        assert merged.unknown_lines == 0
        loaded = load_shop(tmp_path / "merged")
        assert loaded.problems == []
        assert DRESS in set(loaded.order_lines["line_id"]) and len(loaded.order_lines) == 6
        assert loaded.returns.set_index("line_id").loc[DRESS, "reason_code"] == "too_small"
        product = loaded.products.set_index("product_id").loc["788032119674292922"]
        assert (product["category"], product["price"], product["title"]) == ("uncategorized", 79.9, "Robe Lune")

        # once the shop's files have the line, the merge does not write it twice
        again = export_returns(store, tmp_path / "again", merge_with=tmp_path / "merged")
        assert (again.webhook_lines_added, again.webhook_lines_already_in_shop) == (0, 1)
        assert len(load_shop(tmp_path / "again").order_lines) == 6
    finally:
        store.dispose()


def test_order_store_is_idempotent_without_the_service(tmp_path):
    store = ReturnStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.prepare()
    orders = WebhookOrderStore(store.engine)
    order = parse_order(ORDER)
    assert orders.record_order(order.order_id, order.lines, updated_at=order.updated_at).status == "created"
    assert orders.record_order(order.order_id, order.lines, updated_at=order.updated_at).status == "unchanged"
    assert orders.line(DRESS)[1] == 2 and orders.line("nope") is None
    store.dispose()


def test_a_database_failure_is_503_and_shopify_retries(service, monkeypatch):
    client, _, _ = service

    def down(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(client.app.state.services.orders, "record_order", down)
    answer = deliver(client, "orders/create", ORDER)
    assert answer.status_code == 503 and answer.json()["code"] == "store_unavailable"
    assert "Shopify retries the delivery" in answer.json()["detail"]
