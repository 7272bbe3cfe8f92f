"""The return portal (/returns): signed links, the form, the exchange offer, photos, CSRF, limits, headers.

One service on the session's trained model; its shop is the model's training data with the
contract's optional titles and order numbers added (tests/portal_support.py).
"""

from __future__ import annotations

import io
import json
import random
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from portal_support import SECRET, Orders, expired_token, hidden, portal_shop
from returnrisk.capture.exchange import exchange_offer
from returnrisk.capture.links import PortalLinks
from returnrisk.capture.settings import PortalSettings
from returnrisk.cli import main
from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

KEY = {"Authorization": "Bearer merchant-key"}
LINKS = PortalLinks(SECRET, 30 * 86400)


def run_cli(*argv) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return exc.code or 0
    return 0


def make_app(bundle, db: Path, data: Path, photos: Path, **portal):
    settings = Settings(
        _env_file=None, merchant_api_keys=["merchant-key"], database_url=f"sqlite:///{db}", data_dir=str(data),
        secure_cookies=False,
        portal=PortalSettings(_env_file=None, portal_photo_dir=str(photos), **{
            "portal_secret": SECRET, "portal_rate_limit": "100000/minute",
            "portal_submit_rate_limit": "100000/minute", **portal}))
    info = {"version": "7", "alias": "champion", "uri": "models:/returnrisk/7", "run_id": None}
    return create_app(settings, loader=lambda: (bundle, info))


@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle()


@pytest.fixture(scope="module")
def shop(trained, tmp_path_factory) -> Path:
    return portal_shop(trained.data, tmp_path_factory.mktemp("portal-shop"))


@pytest.fixture(scope="module")
def orders(shop) -> Orders:
    return Orders(shop)


@pytest.fixture(scope="module")
def client(bundle, shop, tmp_path_factory):
    work = tmp_path_factory.mktemp("portal-service")
    with TestClient(make_app(bundle, work / "service.db", shop, work / "photos",
                             portal_photo_max_bytes=300_000)) as c:
        c.work = work
        c.get("/returns/" + LINKS.token("warm-up"))   # loads the shop once
        yield c


def services(client):
    return client.app.state.services


def open_order(client, order_id: str, lang: str = "en"):
    page = client.get(f"/returns/{LINKS.token(order_id)}?lang={lang}")
    assert page.status_code == 200, page.text[:500]
    return page


def form(page, **fields) -> dict:
    return {"form_id": hidden(page.text, "form_id"), "csrf": hidden(page.text, "csrf"), "lang": "en",
            "step": "choose", **fields}


def submit(client, order_id: str, fields: dict, files=None):
    return client.post(f"/returns/{LINKS.token(order_id)}", data=fields, files=files, follow_redirects=False)


def details(client, line_id: str) -> list[dict]:
    return services(client).capture.returns_of_lines([line_id])


def sized_with_offer(client, orders: Orders, direction: int = +1):
    """An order with a known customer's sized line for which an exchange exists; (rows, position, offer)."""
    scorer = services(client).holder.current.scorer
    found = {}

    def accept(rows: pd.DataFrame) -> bool:
        for row in rows.itertuples():
            offer = exchange_offer(scorer, row.product_id, row.size, row.customer_id, direction)
            if offer is not None and offer.source == "size_advice":
                found["hit"] = (int(row.position), offer)
                return True
        return False

    rows = orders.take(accept)
    return (rows, *found["hit"])


# ---- links ---------------------------------------------------------------------------------------
def test_without_a_token_the_portal_explains_how_to_get_a_link(client):
    page = client.get("/returns")
    assert page.status_code == 200
    assert "open the return link in the e-mail we sent when your order shipped" in page.text
    assert "no account or password" in page.text
    french = client.get("/returns", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Pour retourner des articles" in french.text and '<html lang="fr">' in french.text


def test_expired_forged_and_altered_links_show_no_order(client, orders):
    rows = orders.take()
    order_id = rows.loc[0, "order_id"]
    number = "#" + order_id.lstrip("O").lstrip("0")
    good = LINKS.token(order_id)
    cases = {
        expired_token(order_id): (410, "This return link has expired", "valid for 30 days"),
        PortalLinks("another-secret-0123456789", 86400).token(order_id): (403, "This return link is not valid", ""),
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"): (403, "This return link is not valid", ""),
        "not-a-token": (403, "This return link is not valid", ""),
    }
    for token, (status, heading, text) in cases.items():
        page = client.get(f"/returns/{token}")
        assert page.status_code == status and heading in page.text and text in page.text
        for secret_thing in (order_id, number, rows.loc[0, "line_id"], 'name="csrf"'):
            assert secret_thing not in page.text
        assert "returnrisk_portal_csrf" not in page.headers.get("set-cookie", "")
        assert client.post(f"/returns/{token}", data={"qty-1": "1"}).status_code == status
    assert client.get(f"/returns/{LINKS.token('O-NOT-THERE')}").status_code == 404


def test_the_portal_is_off_without_a_secret(bundle, shop, tmp_path):
    app = make_app(bundle, tmp_path / "db.sqlite", shop, tmp_path / "photos", portal_secret=None)
    with TestClient(app) as c:
        page = c.get("/returns/" + LINKS.token("O00000001"))
        assert page.status_code == 503 and "Returns are unavailable for a moment" in page.text
        assert c.get("/returns").status_code == 200


def test_portal_link_command_prints_a_link_the_service_opens(client, orders, capsys, monkeypatch):
    order_id = orders.take().loc[0, "order_id"]
    monkeypatch.setenv("RETURNRISK_PORTAL_SECRET", SECRET)
    monkeypatch.setenv("RETURNRISK_PORTAL_BASE_URL", "https://returns.shop.example/")
    assert run_cli("portal-link", "--order", order_id) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://returns.shop.example/returns/")
    assert open_order(client, order_id) and client.get(url.removeprefix("https://returns.shop.example")).status_code == 200
    assert run_cli("portal-link", "--order", order_id, "--json") == 0
    payload = json.loads(capsys.readouterr().out.strip())
    assert payload["order_id"] == order_id and payload["valid_days"] == 30 and payload["url"].endswith(payload["token"])
    monkeypatch.delenv("RETURNRISK_PORTAL_SECRET")
    assert run_cli("portal-link", "--order", order_id) == 2
    assert "RETURNRISK_PORTAL_SECRET is not set" in capsys.readouterr().err


def test_a_link_made_by_the_documented_stdlib_code_is_accepted(client, orders):
    import runpy

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "portal_link.py"))
    order_id = orders.take().loc[0, "order_id"]
    token = example["portal_token"](SECRET, order_id)
    assert LINKS.order_id(token) == order_id
    assert client.get(f"/returns/{token}").status_code == 200


# ---- the order page ------------------------------------------------------------------------------
def test_the_order_page_shows_the_lines_and_sets_a_strict_csrf_cookie(client, orders, shop):
    rows = orders.take(lambda r: len(r) >= 2)
    client.cookies.clear()        # a first visit: the cookie is set
    page = open_order(client, rows.loc[0, "order_id"])
    products = pd.read_csv(shop / "products.csv", dtype=str, keep_default_na=False).set_index("product_id")
    for row in rows.itertuples():
        assert products.loc[row.product_id, "title"] in page.text
        assert f'name="qty-{row.position}"' in page.text and f'<label for="reason-{row.position}">' in page.text
    assert "Order #" + rows.loc[0, "order_id"].lstrip("O").lstrip("0") in page.text
    cookie = page.headers["set-cookie"]
    assert "returnrisk_portal_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace(
        "Strict", "strict") and "Path=/returns" in cookie
    for label in ("Too small", "Too large", "Doesn&#39;t look like the photos", "Not as described", "Poor quality",
                  "Arrived damaged", "Wrong item", "Changed my mind", "Other"):
        assert f">{label}</option>" in page.text
    french = open_order(client, rows.loc[0, "order_id"], "fr")
    assert "Combien en retourner" in french.text and ">Trop petit</option>" in french.text
    assert "<script" not in page.text and "onclick" not in page.text     # works without JavaScript


@pytest.mark.parametrize("path", ["/returns", "/returns/assets/portal.css", "/returns/bad-token", "__order__"])
def test_every_portal_response_has_the_security_headers(client, orders, path):
    if path == "__order__":
        path = "/returns/" + LINKS.token(orders.take().loc[0, "order_id"])
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    if path != "/returns/assets/portal.css":
        assert response.headers["cache-control"] == "no-store"


# ---- recording -----------------------------------------------------------------------------------
def test_a_return_is_recorded_once_and_confirmed(client, orders):
    rows = orders.take()
    order_id, line_id = rows.loc[0, "order_id"], rows.loc[0, "line_id"]
    page = open_order(client, order_id)
    fields = form(page, **{"qty-1": "1", "reason-1": "changed_mind", "comment-1": "found it cheaper elsewhere"})
    answer = submit(client, order_id, fields)
    assert answer.status_code == 303
    done = answer.headers["location"]
    assert done.startswith(f"/returns/{LINKS.token(order_id)[:10]}") or "/done/" in done
    record = services(client).store.get(line_id)
    assert record.channel == "portal" and record.reason_code == "changed_mind"
    assert record.reason_text == "found it cheaper elsewhere"
    [row] = details(client, line_id)
    assert row["quantity"] == 1 and row["resolution"] == "refund" and not row["exchange_offered"]
    assert row["return_id"] == f"{fields['form_id']}-1" and row["order_id"] == order_id
    confirmation = client.get(done)
    assert confirmation.status_code == 200 and "Your return is recorded" in confirmation.text
    assert "Refunded within 5 days of receipt." in confirmation.text
    assert "Pack the items in their original packaging" in confirmation.text
    # the same form sent again (double click, back button): the same confirmation, nothing more recorded
    again = submit(client, order_id, fields)
    # (the link is signed again by the test: the token may differ by its timestamp, the form by nothing)
    assert again.status_code == 303 and again.headers["location"].split("/done/")[1] == done.split("/done/")[1]
    assert len(details(client, line_id)) == 1 and services(client).store.get(line_id) == record
    # the line is now shown as returned, with nothing left to choose
    after = open_order(client, order_id)
    if len(rows) == 1 and int(rows.loc[0, "quantity"]) == 1:     # the whole order is back
        assert "Every item of this order has already been returned." in after.text
    else:
        assert "Already returned: 1" in after.text
    assert 'name="qty-1"' not in after.text


def test_the_form_needs_the_csrf_cookie_and_its_token(client, orders):
    rows, other = orders.take(), orders.take()
    order_id, other_id = rows.loc[0, "order_id"], other.loc[0, "order_id"]
    page = open_order(client, order_id)
    fields = form(page, **{"qty-1": "1", "reason-1": "wrong_item"})
    saved = dict(client.cookies)
    client.cookies.clear()
    refused = submit(client, order_id, fields)
    assert refused.status_code == 403 and "This form has expired" in refused.text
    client.cookies.update(saved)
    assert submit(client, order_id, {**fields, "csrf": "0" * 64}).status_code == 403
    # a form of one order cannot be sent to another
    assert submit(client, other_id, fields).status_code == 403
    assert services(client).store.get(rows.loc[0, "line_id"]) is None
    assert services(client).store.get(other.loc[0, "line_id"]) is None


def test_form_mistakes_are_explained_and_nothing_is_recorded(client, orders):
    rows = orders.take(lambda r: len(r) >= 2 and (r["quantity"] == "1").all())
    order_id = rows.loc[0, "order_id"]
    first, second = rows.loc[0, "line_id"], rows.loc[1, "line_id"]
    page = open_order(client, order_id)
    cases = [
        ({}, "Choose at least one item to return"),
        ({"qty-1": "2", "reason-1": "too_small"}, "only 1 left to return"),
        ({"qty-1": "1"}, "choose a reason"),
        ({"qty-1": "1", "reason-1": "other"}, "tell us in a few words why"),
        ({"qty-1": "1", "reason-1": "bogus"}, "choose a reason"),
        ({"qty-1": "x"}, "only 1 left to return"),
    ]
    for extra, message in cases:
        answer = submit(client, order_id, form(page, **extra))
        assert answer.status_code == 422 and message in answer.text, (extra, answer.text[-1500:])
        assert 'role="alert"' in answer.text
    kept = submit(client, order_id, form(page, **{"qty-2": "1", "reason-2": "other", "comment-2": "",
                                                  "reason-1": "poor_quality"}))
    assert '<option value="poor_quality" selected>' in kept.text      # what was chosen is kept
    photo = ("p.png", png_bytes(), "image/png")
    answer = submit(client, order_id, form(page, **{"qty-1": "1", "reason-1": "too_large"}),
                    files=[("photos-1", photo)])
    assert answer.status_code == 422 and "photos can only be added for “Arrived damaged”" in answer.text
    assert services(client).store.get(first) is None and services(client).store.get(second) is None


def test_other_with_words_goes_through_the_reason_classifier(client, orders):
    rows = orders.take()
    order_id, line_id = rows.loc[0, "order_id"], rows.loc[0, "line_id"]
    page = open_order(client, order_id)
    words = "the colour is completely different from the photos on the website"
    assert submit(client, order_id, form(page, **{"qty-1": "1", "reason-1": "other",
                                                  "comment-1": words})).status_code == 303
    record = services(client).store.get(line_id)
    assert record.reason_code is None and record.reason_text == words
    assert record.reason_code_inferred == "looks_different" and record.reason_confidence > 0.5
    assert details(client, line_id)[0]["reason_code"] is None


def test_a_line_already_returned_in_the_history_cannot_be_returned_again(client, orders):
    rows = orders.with_a_returned_line()
    order_id = rows.loc[0, "order_id"]
    done = rows[rows["returned"]].iloc[0]
    page = open_order(client, order_id)
    assert f'name="qty-{done.position}"' not in page.text and "Already returned" in page.text
    answer = submit(client, order_id, form(page, **{f"qty-{done.position}": "1",
                                                    f"reason-{done.position}": "too_small"}))
    assert answer.status_code == 422 and "only 0 left to return" in answer.text
    assert services(client).store.get(done.line_id) is None


# ---- the exchange offer --------------------------------------------------------------------------
def test_too_small_offers_the_recommended_size_and_the_exchange_is_stored(client, orders, tmp_path, capsys):
    rows, position, offer = sized_with_offer(client, orders, +1)
    order_id = rows.loc[0, "order_id"]
    line = rows.loc[position - 1]
    page = open_order(client, order_id)
    answer = submit(client, order_id, form(page, **{f"qty-{position}": "1", f"reason-{position}": "too_small"}))
    assert answer.status_code == 200 and "Would an exchange suit you better?" in answer.text
    assert f'value="exchange:{offer.recommended}" data-recommended="true"' in answer.text
    assert f"Exchange for size {offer.recommended} <span class=\"tag\">recommended for you</span>" in answer.text
    assert 'value="refund"' in answer.text and services(client).store.get(line.line_id) is None   # not yet
    # no choice: asked again
    step = {"form_id": hidden(answer.text, "form_id"), "csrf": hidden(answer.text, "csrf"), "lang": "en",
            "step": "offer", "state": hidden(answer.text, "state")}
    missing = submit(client, order_id, step)
    assert missing.status_code == 422 and "choose an exchange or a refund" in missing.text
    # the state cannot be altered
    assert submit(client, order_id, {**step, "state": step["state"][:-2] + "xx",
                                     f"choice-{position}": f"exchange:{offer.recommended}"}).status_code == 403
    done = submit(client, order_id, {**step, f"choice-{position}": f"exchange:{offer.recommended}"})
    assert done.status_code == 303
    confirmation = client.get(done.headers["location"])
    assert f"Exchange for size {offer.recommended}" in confirmation.text
    assert f"We will send size {offer.recommended} as soon as your parcel arrives." in confirmation.text
    record = services(client).store.get(line.line_id)
    assert record.reason_code == "too_small" and record.channel == "portal"
    [row] = details(client, line.line_id)
    assert row["resolution"] == "exchange" and row["size_asked"] == offer.recommended
    assert row["size_offered"] == offer.recommended and row["offer_source"] == "size_advice"
    assert row["size_ordered"] == line["size"] and row["exchange_offered"]
    # listed for the merchant, counted in the KPIs, exported
    listed = client.get("/v1/returns?exchange=true", headers=KEY).json()["returns"]
    mine = next(r for r in listed if r["line_id"] == line.line_id)
    assert mine["size_asked"] == offer.recommended and mine["reason"] == "too_small" and mine["quantity"] == 1
    assert all(r["resolution"] == "exchange" for r in listed)
    assert all(r["line_id"] != line.line_id for r in client.get("/v1/returns?exchange=false", headers=KEY).json()[
        "returns"])
    capture = client.get("/v1/kpis", headers=KEY).json()["capture"]
    assert capture["exchanges"]["exchanges"] >= 1 and capture["exchanges"]["units_kept"] >= 1
    assert capture["exchanges"]["value_kept"] >= float(line["unit_price"]) - 1e-6
    assert capture["by_channel"]["portal"] >= 1 and capture["portal_since"] is not None
    monkey_db = f"sqlite:///{client.work / 'service.db'}"
    assert run_cli("export-returns", "--out", str(tmp_path / "export"), "--db", monkey_db) == 0
    capsys.readouterr()
    exported = pd.read_csv(tmp_path / "export" / "exchanges.csv", dtype=str, keep_default_na=False)
    row = exported[exported["line_id"] == line.line_id].iloc[0]
    assert row["resolution"] == "exchange" and row["size_asked"] == offer.recommended and row["channel"] == "portal"


def test_too_large_refund_chosen_is_stored_as_a_refused_offer(client, orders):
    rows, position, offer = sized_with_offer(client, orders, -1)
    order_id, line_id = rows.loc[0, "order_id"], rows.loc[position - 1, "line_id"]
    page = open_order(client, order_id)
    answer = submit(client, order_id, form(page, **{f"qty-{position}": "1", f"reason-{position}": "too_large"}))
    assert f'value="exchange:{offer.recommended}"' in answer.text
    step = {"form_id": hidden(answer.text, "form_id"), "csrf": hidden(answer.text, "csrf"), "lang": "en",
            "step": "offer", "state": hidden(answer.text, "state"), f"choice-{position}": "refund"}
    assert submit(client, order_id, step).status_code == 303
    [row] = details(client, line_id)
    assert row["resolution"] == "refund" and row["exchange_offered"] and row["size_asked"] is None
    assert row["size_offered"] == offer.recommended
    assert services(client).store.get(line_id).reason_code == "too_large"


# ---- photos --------------------------------------------------------------------------------------
def png_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"          # Make
    exif[0x0132] = "2026:10:15 09:30:00"  # DateTime
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_damaged_items_take_photos_checked_by_content_and_stored_privately(client, orders):
    rows = orders.take()
    order_id, line_id = rows.loc[0, "order_id"], rows.loc[0, "line_id"]
    page = open_order(client, order_id)
    fields = form(page, **{"qty-1": "1", "reason-1": "damaged", "comment-1": "the box was crushed"})
    fake = ("broken.jpg", b"%PDF-1.4 this is not a photo at all", "image/jpeg")
    refused = submit(client, order_id, fields, files=[("photos-1", fake)])
    assert refused.status_code == 422 and "broken.jpg: not a JPEG, PNG or WebP photo" in refused.text, (refused.headers, refused.text[-3000:])
    noise = io.BytesIO()
    Image.frombytes("RGB", (400, 400), random.Random(0).randbytes(480_000)).save(noise, format="PNG")
    assert len(noise.getvalue()) > 300_000                  # noise does not compress
    big = submit(client, order_id, fields, files=[("photos-1", ("big.png", noise.getvalue(), "image/png"))])
    assert big.status_code == 422 and "larger than 0.3 MB" in big.text
    assert services(client).store.get(line_id) is None
    photo = jpeg_with_exif()
    assert Image.open(io.BytesIO(photo)).getexif()          # the upload carries EXIF data
    answer = submit(client, order_id, fields, files=[("photos-1", ("IMG_1.jpg", photo, "image/jpeg")),
                                                     ("photos-1", ("IMG_2.png", png_bytes(), "image/png"))])
    assert answer.status_code == 303
    assert "2 photo(s) received" in client.get(answer.headers["location"]).text
    listed = next(r for r in client.get("/v1/returns", headers=KEY).json()["returns"] if r["line_id"] == line_id)
    assert [p["content_type"] for p in listed["photos"]] == ["image/jpeg", "image/png"]
    folder = client.work / "photos"
    for item in listed["photos"]:
        path = folder / item["file_name"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = Image.open(path)
        assert stored.size in ((64, 48), (40, 30)) and not stored.getexif()   # metadata dropped
        # never served: no route of the service gives the file
        for url in (f"/returns/{item['file_name']}", f"/returns/assets/{item['file_name']}",
                    f"/photos/{item['file_name']}", f"/returns/{LINKS.token(order_id)}/{item['file_name']}"):
            assert client.get(url).status_code in (403, 404)


# ---- rate limits ---------------------------------------------------------------------------------
def test_the_portal_is_rate_limited_per_client(bundle, shop, tmp_path):
    app = make_app(bundle, tmp_path / "db.sqlite", shop, tmp_path / "photos", portal_rate_limit="3/minute",
                   portal_submit_rate_limit="2/minute")
    with TestClient(app) as c:
        statuses = [c.get("/returns").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        busy = c.get("/returns/anything")
        assert busy.status_code == 429 and "Too many attempts" in busy.text and int(busy.headers["retry-after"]) >= 1
        assert busy.headers["x-content-type-options"] == "nosniff"
        posts = [c.post("/returns/x", data={}).status_code for _ in range(3)]
        assert posts[:2] == [403, 403] and posts[2] == 429


# ---- partial returns (the returns store's return_id and quantity) --------------------------------
def test_asking_more_than_was_ordered_is_refused_before_anything_is_written(client, orders):
    from returnrisk.capture.recording import CustomerReturn, OverReturn, record_customer_return

    rows = orders.take()
    svc = services(client)
    request = CustomerReturn(return_id="t-over-1", request_id="t-over", line_id=rows.loc[0, "line_id"],
                             order_id=rows.loc[0, "order_id"], quantity=int(rows.loc[0, "quantity"]) + 1,
                             channel="portal", returned_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
                             reason_code="too_small")
    ordered = int(rows.loc[0, "quantity"])
    with pytest.raises(OverReturn, match=rf"ordered {ordered} units?, 0 already returned; this return asks "
                                         rf"{ordered + 1}: at most {ordered} can still come back") as refused:
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request)
    assert refused.value.code == "over_returned" and svc.store.get(rows.loc[0, "line_id"]) is None
    assert svc.capture.get_return("t-over-1") is None          # the claim was not kept


def test_a_line_comes_back_in_several_partial_returns_through_the_portal(client, orders):
    rows = orders.take(lambda r: (r["quantity"].astype(int) >= 2).any())
    position = int(rows[rows["quantity"].astype(int) >= 2].iloc[0]["position"])
    line = rows.loc[position - 1]
    order_id = rows.loc[0, "order_id"]
    for n in range(int(line["quantity"])):
        page = open_order(client, order_id)
        if n:
            assert f"Already returned: {n}" in page.text
        fields = form(page, **{f"qty-{position}": "1", f"reason-{position}": "changed_mind"})
        assert submit(client, order_id, fields).status_code == 303
    rows_back = details(client, line["line_id"])
    assert len(rows_back) == int(line["quantity"]) and {r["quantity"] for r in rows_back} == {1}
    page = open_order(client, order_id)
    assert f'name="qty-{position}"' not in page.text          # nothing left on the line


def test_returning_more_than_is_left_after_partial_returns_is_refused_with_a_clear_message(client, orders):
    from returnrisk.capture.recording import CustomerReturn, OverReturn, record_customer_return

    rows = orders.take(lambda r: (r["quantity"].astype(int) >= 2).any())
    line = rows[rows["quantity"].astype(int) >= 2].iloc[0]
    svc = services(client)
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    base = dict(order_id=line["order_id"], line_id=line["line_id"], channel="portal", returned_at=now,
                reason_code="too_small", request_id="partial")
    first = record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons,
                                   CustomerReturn(return_id="partial-1", quantity=1, **base))
    assert first.status == "created"
    left = int(line["quantity"]) - 1
    with pytest.raises(OverReturn, match=rf"ordered {int(line['quantity'])} units, 1 already returned; this return "
                                         rf"asks {left + 1}: at most {left} can still come back"):
        record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons,
                               CustomerReturn(return_id="partial-2", quantity=left + 1, **base))
    second = record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons,
                                    CustomerReturn(return_id="partial-2", quantity=left, **base))
    assert second.status == "created"
    # the API refuses the same over-return with 409
    answer = TestClient(client.app).post("/v1/returns", headers=KEY, json={
        "line_id": line["line_id"], "returned_at": "2026-12-01T10:00:00Z", "reason_code": "too_small",
        "channel": "api", "quantity": 1, "return_id": "partial-3"})
    assert answer.status_code == 409


def test_repeating_a_return_id_records_it_once(client, orders):
    from returnrisk.capture.recording import CustomerReturn, record_customer_return

    rows = orders.take()
    svc = services(client)
    request = CustomerReturn(return_id="t-once-1", request_id="t-once", line_id=rows.loc[0, "line_id"],
                             order_id=rows.loc[0, "order_id"], quantity=1, channel="email",
                             returned_at=pd.Timestamp.now(tz="UTC").to_pydatetime(), reason_code=None,
                             reason_text="trop petit, il me faut la taille au-dessus")
    first = record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request)
    second = record_customer_return(svc.store, svc.capture, svc.shop.get(), svc.reasons, request)
    assert (first.status, second.status) == ("created", "unchanged")
    assert first.record.reason_code_inferred == "too_small" and second.record == first.record
    assert len(svc.capture.returns_of_request("t-once")) == 1


def test_the_overview_shows_channels_reason_share_and_exchanges(client, orders):
    # its own data (the test does not rely on the returns other tests recorded): one portal return with
    # a reason, for which the exchange offered is taken
    rows, position, offer = sized_with_offer(client, orders, +1)
    order_id = rows.loc[0, "order_id"]
    answer = submit(client, order_id, form(open_order(client, order_id),
                                           **{f"qty-{position}": "1", f"reason-{position}": "too_small"}))
    assert f'value="exchange:{offer.recommended}"' in answer.text
    step = {"form_id": hidden(answer.text, "form_id"), "csrf": hidden(answer.text, "csrf"), "lang": "en",
            "step": "offer", "state": hidden(answer.text, "state"),
            f"choice-{position}": f"exchange:{offer.recommended}"}
    assert submit(client, order_id, step).status_code == 303
    page = client.get("/dashboard", headers=KEY)
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "Returns by channel" in text and "Return portal" in text and "Import (history)" in text
    assert "Returns with a reason" in text and "since the portal" in text
    assert "Exchanges vs refunds (size offer)" in text and "Sales kept" in text
    figures = services(client).captured.figures()
    portal_row = re.search(r'data-channel="portal"><td>Return portal</td><td class="num">([\d,]+)<', page.text)
    assert portal_row and int(portal_row.group(1).replace(",", "")) == figures["by_channel"]["portal"] >= 1
    assert figures["reason_share"]["after"] == 1.0 and figures["reason_share"]["before"] < 1.0
    exchanges = figures["exchanges"]
    assert exchanges["exchanges"] >= 1 and exchanges["offered"] >= 1
    assert f"{exchanges['exchanges']} exchanges, {exchanges['refunds']} refunds of {exchanges['offered']} offered" in text
    assert exchanges["units_kept"] >= 1 and f"Sales kept: {exchanges['units_kept']} unit(s)" in text
