"""Orders known only from the Shopify webhook (not yet in the shop's nightly files) on the customer channels.

An order sent by ``POST /v1/webhooks/shopify`` (``orders/create``) and absent from the shop's files:
its portal page shows its lines (title and brand of the webhook rows, size, quantity, units already
returned), the portal form records its returns in the returns store, over-returns are refused, a link
that is not the order's shows nothing, and the e-mail inbox finds it by its order number. When the
shop's files have an order, the files win.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import write_shop
from portal_support import SECRET, hidden
from returnrisk.capture.links import PortalLinks
from returnrisk.capture.recording import CustomerReturn, OverReturn, record_customer_return
from returnrisk.capture.settings import PortalSettings
from returnrisk.cli import main
from returnrisk.errors import InputError, NotFoundError
from returnrisk.operations.shopify_webhooks import shopify_signature
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import LINE_COLUMNS, WebhookOrderStore
from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

WEBHOOK_SECRET = "shpss_portal_test_secret"
KEY = {"Authorization": "Bearer merchant-key"}
LINKS = PortalLinks(SECRET, 30 * 86400)

ORDER_ID = "5550001"
CUSTOMER = "115310627314723954"
DRESS, JEANS = "7001", "7002"
ORDER = {
    "id": int(ORDER_ID), "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}", "name": "#2001",
    "email": "jon@example.com", "created_at": "2025-03-20T10:00:00-04:00",
    "processed_at": "2025-03-20T10:00:00-04:00",
    "updated_at": "2025-03-20T10:00:05-04:00", "cancelled_at": None, "test": False, "currency": "EUR",
    "presentment_currency": "EUR", "fulfillment_status": "fulfilled",
    "customer": {"id": int(CUSTOMER), "email": "jon@example.com"},
    "line_items": [
        {"id": int(DRESS), "admin_graphql_api_id": f"gid://shopify/LineItem/{DRESS}", "product_id": 8001,
         "variant_id": 9001, "title": "Robe Lune", "name": "Robe Lune - M / Rouge", "variant_title": "M / Rouge",
         "vendor": "Lune", "quantity": 2, "price": "79.90", "gift_card": False, "requires_shipping": True,
         "discount_allocations": []},
        {"id": int(JEANS), "admin_graphql_api_id": f"gid://shopify/LineItem/{JEANS}", "product_id": 8002,
         "variant_id": 9002, "title": "Jean Droit Nord", "name": "Jean Droit Nord - W30", "variant_title": "W30",
         "vendor": "Nord", "quantity": 1, "price": "69.00", "gift_card": False, "requires_shipping": True,
         "discount_allocations": []},
    ],
    "shipping_lines": [], "refunds": [],
}


def deliver(client, topic: str, payload: dict):
    body = json.dumps(payload).encode()
    return client.post("/v1/webhooks/shopify", content=body, headers={
        "X-Shopify-Topic": topic, "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shopify_signature(WEBHOOK_SECRET, body),
        "X-Shopify-Triggered-At": "2025-03-20T14:00:10Z"})


@pytest.fixture()
def service(tiny_bundle, tmp_path, db_url):
    """A service on the tiny shop (orders O1…O4 in its files) with the portal and the webhook on (SQLite and
    PostgreSQL)."""
    shop = write_shop(tmp_path / "shop")
    url = db_url
    settings = Settings(
        _env_file=None, merchant_api_keys=["merchant-key"], data_dir=str(shop), database_url=url,
        shopify_webhook_secret=WEBHOOK_SECRET, secure_cookies=False,
        portal=PortalSettings(_env_file=None, portal_secret=SECRET, portal_photo_dir=str(tmp_path / "photos"),
                              portal_rate_limit="100000/minute", portal_submit_rate_limit="100000/minute"))
    with TestClient(create_app(settings, loader=lambda: (tiny_bundle, {"version": "1"}))) as client:
        client.url, client.shop = url, shop
        yield client


def services(client):
    return client.app.state.services


def open_order(client, order_id: str = ORDER_ID):
    return client.get(f"/returns/{LINKS.token(order_id)}?lang=en")


def form(page, **fields) -> dict:
    return {"form_id": hidden(page.text, "form_id"), "csrf": hidden(page.text, "csrf"), "lang": "en",
            "step": "choose", **fields}


def submit(client, fields: dict, order_id: str = ORDER_ID):
    return client.post(f"/returns/{LINKS.token(order_id)}", data=fields, follow_redirects=False)


def request(line_id: str = DRESS, quantity: int = 1, return_id: str = "t-1", order_id: str = ORDER_ID,
            channel: str = "portal") -> CustomerReturn:
    return CustomerReturn(return_id=return_id, request_id=return_id.rsplit("-", 1)[0], line_id=line_id,
                          order_id=order_id, quantity=quantity, channel=channel,
                          returned_at=pd.Timestamp.now(tz="UTC").to_pydatetime(), reason_code="changed_mind")


# ---- the webhook order lines, read back ---------------------------------------------------------
def test_the_webhook_store_answers_an_order_its_lines_and_the_order_numbers(db_url):
    def line(line_id, order_id, number, quantity=1):
        return {"line_id": line_id, "order_id": order_id, "customer_id": "C1", "product_id": "P1", "size": "M",
                "quantity": quantity, "unit_price": None, "ordered_at": pd.Timestamp("2025-03-20T14:00:00Z"),
                "order_number": number, "currency": "EUR", "title": f"Title {line_id}", "brand": None}

    store = ReturnStore(db_url)
    try:
        orders = WebhookOrderStore(store.engine)
        orders.record_order("A", pd.DataFrame([line("A2", "A", "#1", 3), line("A1", "A", "#1")])[LINE_COLUMNS])
        orders.record_order("B", pd.DataFrame([line("B1", "B", None)])[LINE_COLUMNS])
        a = orders.order_lines("A")
        assert list(a.columns) == LINE_COLUMNS and a["line_id"].tolist() == ["A1", "A2"]
        assert a["quantity"].tolist() == [1, 3] and a["title"].tolist() == ["Title A1", "Title A2"]
        assert str(a["ordered_at"].dt.tz) == "UTC" and a["ordered_at"].iloc[0] == pd.Timestamp("2025-03-20T14:00Z")
        assert orders.order_lines("NOPE").empty and list(orders.order_lines("NOPE").columns) == LINE_COLUMNS
        assert orders.lines(["B1", "A2", "ZZ", "A2"])["line_id"].tolist() == ["A2", "B1"]
        assert orders.lines([]).empty
        numbers = orders.order_numbers()
        assert [(r.order_id, r.order_number) for r in numbers.itertuples()] == [("A", "#1"), ("B", None)]
    finally:
        store.dispose()


# ---- the order page ------------------------------------------------------------------------------
def test_the_portal_page_of_a_webhook_only_order_shows_its_lines(service):
    client = service
    before = open_order(client)
    assert before.status_code == 404 and "We can&#39;t find this order yet" in before.text
    assert deliver(client, "orders/create", ORDER).json()["status"] == "created"
    assert services(client).shop.get().shop.order_lines["order_id"].eq(ORDER_ID).sum() == 0   # not in the files

    page = open_order(client)
    assert page.status_code == 200, page.text[:500]
    assert "Order #2001" in page.text and "2025-03-20" in page.text
    assert "<legend>Robe Lune</legend>" in page.text and "<legend>Jean Droit Nord</legend>" in page.text
    assert "Size <strong>M</strong>" in page.text and "Size <strong>W30</strong>" in page.text
    assert "Ordered: 2" in page.text and "Ordered: 1" in page.text and "Already returned" not in page.text
    assert 'name="qty-1"' in page.text and 'name="qty-2"' in page.text
    view = services(client).portal.open_order(LINKS.token(ORDER_ID))
    assert view.customer_id == CUSTOMER and view.order_number == "#2001"
    assert [(ln.line_id, ln.title, ln.size, ln.quantity, ln.unit_price, ln.currency) for ln in view.lines] == [
        (DRESS, "Robe Lune", "M", 2, 79.9, "EUR"), (JEANS, "Jean Droit Nord", "W30", 1, 69.0, "EUR")]


def test_the_shops_files_win_over_the_webhook_rows_of_the_same_order(service):
    svc = services(service)
    lines = pd.DataFrame([{"line_id": "LW-1", "order_id": "O1", "customer_id": "C9", "product_id": "P9",
                           "size": "XL", "quantity": 5, "unit_price": 10.0,
                           "ordered_at": pd.Timestamp("2025-03-01T10:00:00Z"), "order_number": "#W1",
                           "currency": "EUR", "title": "Webhook-only title", "brand": "Elsewhere"}])[LINE_COLUMNS]
    assert svc.orders.record_order("O1", lines).status == "created"
    page = open_order(service, "O1")
    assert page.status_code == 200
    assert "Webhook-only title" not in page.text and "#W1" not in page.text
    view = svc.portal.open_order(LINKS.token("O1"))
    assert [ln.line_id for ln in view.lines] == ["L1", "L2"] and view.customer_id == "C1"
    assert view.order_number == "O1"                    # the files have no number: the order id, not #W1


# ---- recording -----------------------------------------------------------------------------------
def test_the_portal_form_records_a_return_of_a_webhook_only_line(service):
    client = service
    deliver(client, "orders/create", ORDER)
    page = open_order(client)
    fields = form(page, **{"qty-1": "1", "reason-1": "changed_mind", "comment-1": "finalement non"})
    answer = submit(client, fields)
    assert answer.status_code == 303, answer.text[:800]
    svc = services(client)
    [record] = svc.store.returns_of(DRESS)
    assert (record.line_id, record.quantity, record.channel, record.reason_code, record.return_id) == \
        (DRESS, 1, "portal", "changed_mind", f"{fields['form_id']}-1")
    [row] = svc.capture.returns_of_lines([DRESS])
    assert (row["order_id"], row["quantity"], row["size_ordered"], row["unit_price"], row["currency"]) == \
        (ORDER_ID, 1, "M", 79.9, "EUR")
    assert svc.store.returns_of(JEANS) == []
    confirmation = client.get(answer.headers["location"])
    assert confirmation.status_code == 200 and "Your return is recorded" in confirmation.text
    assert "Robe Lune" in confirmation.text
    # the same form again: recorded once
    assert submit(client, fields).status_code == 303 and len(svc.store.returns_of(DRESS)) == 1
    after = open_order(client)
    assert "Already returned: 1" in after.text
    from returnrisk.capture.recording import customer_order

    assert customer_order(svc.store, svc.shop.get(), ORDER_ID, svc.orders).line(1).left == 1


def test_more_units_than_are_left_on_a_webhook_line_are_refused(service):
    client = service
    deliver(client, "orders/create", ORDER)
    stale = open_order(client)                                   # 2 left on the dress when the page was shown
    # meanwhile one unit comes back through the API (the returns desk accepts webhook lines)
    api = client.post("/v1/returns", headers=KEY, json={
        "line_id": DRESS, "returned_at": "2025-03-25T10:00:00Z", "reason_code": "too_small", "channel": "api",
        "return_id": "API-1", "quantity": 1})
    assert api.status_code == 201, api.json()
    refused = submit(client, form(stale, **{"qty-1": "2", "reason-1": "changed_mind"}))
    assert refused.status_code == 422 and "“Robe Lune”: only 1 left to return." in refused.text
    svc = services(client)
    assert [r.return_id for r in svc.store.returns_of(DRESS)] == ["API-1"]
    fresh = open_order(client)
    assert "Already returned: 1" in fresh.text
    # the recording itself refuses it too (another tab or the e-mail between the form's check and the write)
    with pytest.raises(OverReturn, match="ordered 2 units, 1 already returned; this return asks 2") as over:
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request(quantity=2),
                               svc.orders)
    assert over.value.code == "over_returned" and svc.capture.get_return("t-1") is None
    # the last unit goes through; then nothing is left
    assert submit(client, form(fresh, **{"qty-1": "1", "reason-1": "changed_mind"})).status_code == 303
    assert sum(r.quantity for r in svc.store.returns_of(DRESS)) == 2
    assert 'name="qty-1"' not in open_order(client).text
    with pytest.raises(OverReturn):
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request(return_id="t-2"),
                               svc.orders)


# ---- who may return what -------------------------------------------------------------------------
def test_a_link_or_form_that_is_not_the_webhook_orders_shows_and_records_nothing(service):
    client = service
    deliver(client, "orders/create", ORDER)
    good = LINKS.token(ORDER_ID)
    for token in (PortalLinks("another-secret-0123456789", 86400).token(ORDER_ID),
                  good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"), "not-a-token"):
        page = client.get(f"/returns/{token}")
        assert page.status_code == 403 and "This return link is not valid" in page.text
        for secret_thing in ("Robe Lune", "#2001", DRESS, 'name="csrf"'):
            assert secret_thing not in page.text
        assert client.post(f"/returns/{token}", data={"qty-1": "1"}).status_code == 403
    # the webhook order's form sent with another order's link (O2, of the files) is refused
    fields = form(open_order(client), **{"qty-1": "1", "reason-1": "changed_mind"})
    crossed = submit(client, fields, order_id="O2")
    assert crossed.status_code == 403 and "This form has expired" in crossed.text
    svc = services(client)
    assert svc.store.returns_of(DRESS) == [] and svc.store.returns_of("L3") == []
    # the webhook line under another order, and a line nobody has, are refused before anything is written
    with pytest.raises(InputError, match=f"line '{DRESS}' is not in order 'O2'") as wrong:
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request(order_id="O2"),
                               svc.orders)
    assert wrong.value.code == "line_not_in_order"
    with pytest.raises(NotFoundError, match="nor among the order lines received by webhook") as unknown:
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request("L-NONE"), svc.orders)
    assert unknown.value.code == "line_not_found"
    # without the webhook lookup (the earlier signature) the line stays unknown, as before
    with pytest.raises(NotFoundError):
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request(return_id="t-3"))
    assert svc.store.returns_of(DRESS) == [] and svc.capture.get_return("t-1") is None


# ---- the e-mail inbox ----------------------------------------------------------------------------
def _mail(folder: Path, name: str, message_id: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        "From: Jon <jon@example.com>\nTo: returns@shop.example\nSubject: Retour commande #2001\n"
        "Date: Tue, 25 Mar 2025 09:30:00 +0100\n"
        f"Message-ID: <{message_id}@mail.example>\nContent-Type: text/plain; charset=\"utf-8\"\n"
        "MIME-Version: 1.0\n\n"
        "Bonjour, je renvoie la Robe Lune, elle est trop petite aux épaules.\n")


def _inbox(capsys, folder: Path, client) -> dict:
    try:
        main(["inbox", "--eml-dir", str(folder), "--once", "--data", str(client.shop), "--db", client.url,
              "--json"])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_the_inbox_records_a_return_of_a_webhook_only_order(service, tmp_path, capsys):
    client = service
    _mail(tmp_path / "early", "1.eml", "before-webhook")
    early = _inbox(capsys, tmp_path / "early", client)
    assert early["review"] == 1 and early["outcomes"][0]["why"] == "order_not_found"

    deliver(client, "orders/create", ORDER)
    _mail(tmp_path / "later", "2.eml", "after-webhook")
    later = _inbox(capsys, tmp_path / "later", client)
    [outcome] = later["outcomes"]
    assert outcome["status"] == "recorded" and outcome["order_id"] == ORDER_ID and outcome["why"] is None
    svc = services(client)
    [record] = svc.store.returns_of(DRESS)
    assert (record.channel, record.quantity, record.reason_code_inferred) == ("email", 2, "too_small")
    assert svc.store.returns_of(JEANS) == []
    [row] = svc.capture.returns_of_lines([DRESS])
    assert row["order_id"] == ORDER_ID and row["size_ordered"] == "M" and row["quantity"] == 2
    # the portal sees it: the dress is back, the jeans are still returnable
    page = open_order(client)
    assert "Already returned: 2" in page.text and 'name="qty-1"' not in page.text and 'name="qty-2"' in page.text
