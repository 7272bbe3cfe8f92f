"""The API of partial returns (issue 13, defect 6) and its date refusals (defect 11): POST/PATCH/GET
/v1/returns with return_id and quantity, /v1/score's non-finite prices, /v1/forecast's impossible as_of."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conftest import ORDER_LINES, write_shop
from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

KEY = {"Authorization": "Bearer merchant-key"}


@pytest.fixture(scope="module")
def client(tiny_bundle, tmp_path_factory):
    """A service on the tiny bundle whose shop is the hand-written one, with line L4 of 5 units."""
    folder = tmp_path_factory.mktemp("parts")
    shop = write_shop(folder / "shop", lines=ORDER_LINES.replace("L4,O3,C3,P3,,2,89.00", "L4,O3,C3,P3,,5,89.00"))
    settings = Settings(_env_file=None, merchant_api_keys=["merchant-key"], data_dir=str(shop),
                        database_url=f"sqlite:///{folder / 'returns.db'}")
    with TestClient(create_app(settings, loader=lambda: (tiny_bundle, {"version": "1"}))) as c:
        yield c


def post(client, **body):
    return client.post("/v1/returns", json={"line_id": "L4", "returned_at": "2025-03-10T10:00:00Z",
                                            "channel": "api", **body}, headers=KEY)


def test_parts_of_a_line_are_recorded_once_each_and_never_exceed_it(client):
    first = post(client, return_id="R1", quantity=2, reason_code="damaged")
    assert first.status_code == 201
    assert {k: first.json()[k] for k in ("return_id", "quantity", "status", "reason")} == \
        {"return_id": "R1", "quantity": 2, "status": "created", "reason": "damaged"}
    again = post(client, return_id="R1", quantity=2, reason_code="damaged", channel="webhook")
    assert again.status_code == 200 and again.json()["status"] == "unchanged" and again.json()["channel"] == "api"
    refund = post(client, return_id="R1", quantity=2, reason_code="damaged", refunded_at="2025-03-12T00:00:00Z")
    assert refund.status_code == 200 and refund.json()["status"] == "updated"
    contradicting = post(client, return_id="R1", quantity=3, reason_code="damaged")
    assert contradicting.status_code == 409 and contradicting.json()["code"] == "return_conflict"
    assert contradicting.json()["differences"] == [{"field": "quantity", "recorded": 2, "sent": 3}]
    assert post(client, return_id="R2", quantity=3, returned_at="2025-03-14T10:00:00Z").status_code == 201
    over = post(client, return_id="R3", quantity=1, returned_at="2025-03-15T10:00:00Z")
    assert over.status_code == 409
    answer = over.json()
    assert answer["code"] == "over_returned"
    assert (answer["ordered"], answer["already_returned"], answer["asked"], answer["remaining"]) == (5, 5, 1, 0)
    assert answer["detail"].startswith("line 'L4' was ordered 5 units, 5 already returned; this return asks 1: "
                                       "at most 0 can still come back — nothing is left to return on this line")

    line = client.get("/v1/returns/L4", headers=KEY).json()
    assert (line["n_returns"], line["ordered_quantity"], line["returned_quantity"]) == (2, 5, 5)
    assert [(r["return_id"], r["quantity"]) for r in line["returns"]] == [("R1", 2), ("R2", 3)]
    # the old fields are the line's first return
    assert (line["return_id"], line["returned_at"], line["refunded_at"], line["status"]) == \
        ("R1", "2025-03-10T10:00:00Z", "2025-03-12T00:00:00Z", "recorded")

    ambiguous = client.patch("/v1/returns/L4", json={"refunded_at": "2025-03-16T00:00:00Z"}, headers=KEY)
    assert ambiguous.status_code == 409 and ambiguous.json()["code"] == "return_id_required"
    assert ambiguous.json()["return_ids"] == ["R1", "R2"]
    assert "send the return_id of the one refunded" in ambiguous.json()["detail"]
    named = client.patch("/v1/returns/L4", json={"refunded_at": "2025-03-16T00:00:00Z", "return_id": "R2"},
                         headers=KEY)
    assert named.status_code == 200 and (named.json()["return_id"], named.json()["status"]) == ("R2", "updated")
    unknown = client.patch("/v1/returns/L4", json={"refunded_at": "2025-03-16T00:00:00Z", "return_id": "R9"},
                           headers=KEY)
    assert unknown.status_code == 404 and unknown.json()["code"] == "return_not_found"


def test_a_client_without_return_ids_keeps_one_return_per_line(client):
    first = client.post("/v1/returns", json={"line_id": "L2", "returned_at": "2025-03-09T00:00:00Z",
                                             "reason_code": "too_large", "channel": "form"}, headers=KEY)
    assert first.status_code == 201 and first.json()["return_id"] == "line:L2" and first.json()["quantity"] is None
    repeat = client.post("/v1/returns", json={"line_id": "L2", "returned_at": "2025-03-09T00:00:00Z",
                                              "reason_code": "too_large", "channel": "form"}, headers=KEY)
    assert repeat.status_code == 200 and repeat.json()["status"] == "unchanged"
    other = client.post("/v1/returns", json={"line_id": "L2", "returned_at": "2025-03-10T00:00:00Z",
                                             "reason_code": "too_large", "channel": "form"}, headers=KEY)
    assert other.status_code == 409 and other.json()["code"] == "return_conflict"
    assert "send it with its own return_id and its quantity" in other.json()["detail"]
    patched = client.patch("/v1/returns/L2", json={"refunded_at": "2025-03-11T00:00:00Z"}, headers=KEY)
    assert patched.status_code == 200 and patched.json()["status"] == "updated"
    line = client.get("/v1/returns/L2", headers=KEY).json()
    assert (line["n_returns"], line["returned_quantity"], line["reason_code"]) == (1, 1, "too_large")


def test_a_return_without_a_reason_is_recorded_as_unknown(client):
    answer = client.post("/v1/returns", json={"line_id": "L5", "returned_at": "2025-03-15T00:00:00Z",
                                              "channel": "import"}, headers=KEY)
    assert answer.status_code == 201
    assert (answer.json()["reason"], answer.json()["reason_source"], answer.json()["reason_code_inferred"]) == \
        (None, "none", None)


@pytest.mark.parametrize("payload, field, message", [
    ({"returned_at": "9999-12-31"}, "returned_at",
     "returned_at 9999-12-31 is outside the dates returnrisk can store (1677-09-22 … 2262-04-11)"),
    ({"returned_at": "2200-01-01T00:00:00Z"}, "returned_at", "returned_at 2200-01-01T00:00:00Z is in the future"),
    ({"refunded_at": "9999-12-31T00:00:00Z"}, "refunded_at", "refunded_at 9999-12-31 is outside the dates"),
    ({"quantity": 0}, "quantity", "greater than or equal to 1"),
    ({"quantity": 1.5}, "quantity", "Input should be a valid integer"),
    ({"return_id": ""}, "return_id", "at least 1 character"),
    ({"channel": "fax"}, "channel", "Input should be 'portal', 'email', 'api', 'import', 'webhook', 'form' or 'other'"),
])
def test_bad_returns_are_422_and_name_the_value(client, payload, field, message):
    answer = client.post("/v1/returns", json={"line_id": "L1", "returned_at": "2025-03-10T00:00:00Z",
                                              "channel": "api", **payload}, headers=KEY)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"
    assert any(e["field"] == field and message in e["message"] for e in answer.json()["errors"]), answer.json()
    assert client.get("/v1/returns/L1", headers=KEY).status_code == 404


def test_dates_before_the_order_and_impossible_refunds_are_422(client):
    early = client.post("/v1/returns", json={"line_id": "L3", "returned_at": "2025-03-01T00:00:00Z",
                                             "channel": "api"}, headers=KEY)
    assert early.status_code == 422 and early.json()["code"] == "returned_before_ordered"
    assert post(client, line_id="L3", returned_at="2025-03-10T00:00:00Z").status_code == 201
    for value, message in (("9999-12-31", "refunded_at 9999-12-31 is outside the dates"),
                           ("2200-06-01", "refunded_at 2200-06-01T00:00:00Z is in the future")):
        bad = client.patch("/v1/returns/L3", json={"refunded_at": value}, headers=KEY)
        assert bad.status_code == 422 and message in bad.json()["detail"], bad.json()


def test_score_refuses_non_finite_prices_and_impossible_dates(client, tiny_bundle):
    product = str(tiny_bundle.snapshot.products.index[0])
    for raw in (b"1e309", b"Infinity", b"-Infinity", b"NaN"):
        body = b'{"lines": [{"product_id": "' + product.encode() + b'", "unit_price": ' + raw + b"}]}"
        answer = client.post("/v1/score", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (raw, answer.text)
        assert "is not a finite number: send a number ≥ 0" in answer.json()["detail"]
    new = {"product_id": "NEW-1", "product": {"category": "dresses", "price": 1e309}}
    answer = client.post("/v1/score", content=b'{"lines": [{"product_id": "NEW-1", "product": {"price": 1e309}}]}',
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "lines.0.product.price", new
    late = client.post("/v1/score", json={"lines": [{"product_id": product, "ordered_at": "9999-01-01T00:00:00Z"}]})
    assert late.status_code == 422 and "ordered_at 9999-01-01 is outside the dates" in late.json()["detail"]
    fine = client.post("/v1/score", json={"lines": [{"product_id": product, "unit_price": 12.5}]})
    assert fine.status_code == 200


def test_forecast_and_kpis_answer_a_plain_422_for_impossible_dates(client):
    for url, name in (("/v1/forecast?as_of=9999-01-01", "as_of"), ("/v1/kpis?from=0001-01-01", "from"),
                      ("/v1/kpis?to=9999-12-31", "to")):
        answer = client.get(url, headers=KEY)
        assert answer.status_code == 422, (url, answer.text)
        detail = answer.json()["detail"]
        assert detail.startswith(f"{name} '") and "is outside the dates returnrisk handles (1677-09-22 … 2262-04-11)" \
            in detail, detail
        assert "Out of bounds" not in detail and "nanosecond" not in detail
