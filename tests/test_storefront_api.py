"""The storefront API as a browser meets it: customer tokens, the Shopify App Proxy, raw ids refused
without a merchant key, HTTP caching (ETag, 304, Cache-Control), CORS preflight, the widget script."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from returnrisk.serving import Settings, create_app

MERCHANT = "merchant-key-1"
SECRET = "s" * 40
SHOPIFY = "shopify-app-secret"
ORIGIN = "https://shop.example"


def _loader(bundle):
    return lambda: (bundle, {"version": "3", "alias": "champion", "uri": "models:/returnrisk@champion",
                             "run_id": "test"})


@pytest.fixture(scope="module")
def client(tiny_bundle):
    settings = Settings(merchant_api_keys=MERCHANT, customer_token_secret=SECRET, shopify_app_secret=SHOPIFY,
                        cors_origins=ORIGIN, visitor_cache_max_age=120)
    with TestClient(create_app(settings, loader=_loader(tiny_bundle))) as c:
        yield c


@pytest.fixture(scope="module")
def product(client):
    scorer = client.app.state.services.holder.current.scorer
    return next(p for p in scorer.sizes if scorer.has_product(p))


@pytest.fixture(scope="module")
def customer(tiny_bundle, product):
    """A customer with a size profile in the product's size system (their advice differs from a visitor's)."""
    system = str(tiny_bundle.snapshot.products.at[product, "size_system"])
    profiles = tiny_bundle.snapshot.profiles
    keys = [k for k in profiles.sort_values("count", ascending=False).index if str(k).endswith("\x1f" + system)]
    return str(keys[0]).split("\x1f")[0]


def token(sub, secret=SECRET, hours=1.0, **claims):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + int(hours * 3600), **claims}, secret, algorithm="HS256")


def shopify_query(customer_id: str, secret=SHOPIFY, stamp=None, **extra) -> dict:
    params = {"shop": "demo.myshopify.com", "path_prefix": "/apps/returnrisk", "timestamp": str(stamp or int(time.time())),
              "logged_in_customer_id": customer_id, **extra}
    message = "".join(sorted(f"{k}={v}" for k, v in params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return params


# ---- privacy ----------------------------------------------------------------------------------
def test_raw_customer_id_needs_a_merchant_key_everywhere(client, product, customer):
    size = client.app.state.services.holder.current.scorer.offered_sizes(product)[0]
    for path, params in ((f"/v1/products/{product}/risk", {"size": size, "customer_id": customer}),
                         (f"/v1/products/{product}/size-advice", {"customer_id": customer})):
        r = client.get(path, params=params)
        assert r.status_code == 401 and r.json()["code"] == "customer_token_required", r.text
        assert "customer_token" in r.json()["detail"]
        ok = client.get(path, params=params, headers={"Authorization": f"Bearer {MERCHANT}"})
        assert ok.status_code == 200 and ok.json()["customer_known"] is True
        assert ok.headers["cache-control"] == "private, no-store"
    r = client.post("/v1/score", json={"lines": [{"product_id": product, "size": size},
                                                 {"product_id": product, "size": size, "customer_id": customer}]})
    assert r.status_code == 401 and r.json()["code"] == "customer_token_required"
    assert "lines[1].customer_id" in r.json()["detail"]


def test_the_old_behaviour_behind_the_setting(tiny_bundle, product, customer):
    settings = Settings(allow_raw_customer_ids=True)
    with TestClient(create_app(settings, loader=_loader(tiny_bundle))) as c:
        r = c.get(f"/v1/products/{product}/size-advice", params={"customer_id": customer})
        assert r.status_code == 200 and r.json()["customer_known"] is True


def test_a_customer_token_identifies_the_shopper(client, product, customer):
    path = f"/v1/products/{product}/size-advice"
    by_key = client.get(path, params={"customer_id": customer}, headers={"Authorization": f"Bearer {MERCHANT}"}).json()
    visitor = client.get(path).json()
    for r in (client.get(path, params={"customer_token": token(customer)}),
              client.get(path, headers={"X-Customer-Token": token(customer)})):
        assert r.status_code == 200, r.text
        assert r.json() == by_key and r.json()["customer_known"] is True
        assert r.headers["cache-control"] == "private, no-store" and "etag" not in r.headers
    assert by_key["usual_size"] is not None and visitor["usual_size"] is None


@pytest.mark.parametrize("bad, words", [
    (lambda c: token(c, hours=-1), "expired"),
    (lambda c: token(c, secret="x" * 40), "signature"),
    (lambda c: token(c, hours=48), "24 hours"),
    (lambda c: jwt.encode({"sub": c}, SECRET, algorithm="HS256"), "'exp'"),
    (lambda c: jwt.encode({"sub": c, "exp": int(time.time()) + 60}, SECRET, algorithm="HS512"), "HS256"),
    (lambda c: "not-a-jwt", "not a valid JWT"),
])
def test_a_rejected_token_is_401_never_the_visitor_answer(client, product, customer, bad, words):
    size = client.app.state.services.holder.current.scorer.offered_sizes(product)[0]
    for path, params in ((f"/v1/products/{product}/size-advice", {}),
                         (f"/v1/products/{product}/risk", {"size": size})):
        r = client.get(path, params={**params, "customer_token": bad(customer)})
        assert r.status_code == 401 and r.json()["code"] == "invalid_customer_token", r.text
        assert words in r.json()["detail"]
        r = client.get(path, params=params, headers={"X-Customer-Token": bad(customer)})
        assert r.status_code == 401 and r.json()["code"] == "invalid_customer_token"
    r = client.post("/v1/score", json={"lines": [{"product_id": product, "size": size}]},
                    params={"customer_token": bad(customer)})
    assert r.status_code == 401 and r.json()["code"] == "invalid_customer_token"


def test_a_token_in_score_lines_names_their_customer(client, product, customer):
    size = client.app.state.services.holder.current.scorer.offered_sizes(product)[0]
    body = {"lines": [{"product_id": product, "size": size}]}
    anonymous = client.post("/v1/score", json=body).json()["lines"][0]
    known = client.post("/v1/score", json=body, headers={"X-Customer-Token": token(customer)}).json()["lines"][0]
    assert anonymous["customer_known"] is False and known["customer_known"] is True
    assert known["customer_id"] == customer and known["p_return"] != anonymous["p_return"]
    assert "drivers" not in known                                        # explanations only when asked
    explained = client.post("/v1/score", json=body, params={"explain": "true"}).json()["lines"][0]
    assert explained["drivers"] and explained["p_return"] == anonymous["p_return"]


def test_token_secret_must_be_long_and_is_required_to_read_tokens(tiny_bundle, product, customer, monkeypatch):
    from returnrisk.config import read_settings
    from returnrisk.errors import InputError

    monkeypatch.setenv("RETURNRISK_CUSTOMER_TOKEN_SECRET", "short-secret")
    with pytest.raises(InputError) as caught:
        read_settings(Settings)
    assert "too short" in str(caught.value) and "short-secret" not in str(caught.value)   # never echoed
    monkeypatch.delenv("RETURNRISK_CUSTOMER_TOKEN_SECRET")
    with TestClient(create_app(Settings(), loader=_loader(tiny_bundle))) as c:
        r = c.get(f"/v1/products/{product}/size-advice", params={"customer_token": token(customer)})
        assert r.status_code == 403 and "RETURNRISK_CUSTOMER_TOKEN_SECRET" in r.json()["detail"]


def test_shopify_app_proxy_signature(client, product, customer):
    path = f"/v1/products/{product}/size-advice"
    r = client.get(path, params=shopify_query(customer))
    assert r.status_code == 200 and r.json()["customer_known"] is True and r.json()["customer_id"] == customer
    assert r.headers["cache-control"] == "private, no-store"
    logged_out = client.get(path, params=shopify_query(""))
    assert logged_out.status_code == 200 and logged_out.json()["customer_known"] is False
    forged = shopify_query(customer)
    forged["logged_in_customer_id"] = "someone-else"
    r = client.get(path, params=forged)
    assert r.status_code == 401 and r.json()["code"] == "invalid_customer_token"
    r = client.get(path, params=shopify_query(customer, secret="wrong"))
    assert r.status_code == 401 and "RETURNRISK_SHOPIFY_APP_SECRET" in r.json()["detail"]
    r = client.get(path, params=shopify_query(customer, stamp=int(time.time()) - 3600))
    assert r.status_code == 401 and "old" in r.json()["detail"]


# ---- HTTP caching -----------------------------------------------------------------------------
def test_visitor_answers_carry_an_etag_and_answer_304(client, product):
    size = client.app.state.services.holder.current.scorer.offered_sizes(product)[0]
    tags = set()
    for path, params in ((f"/v1/products/{product}/risk", {"size": size}),
                         (f"/v1/products/{product}/risk", {"size": size, "lang": "fr"}),
                         (f"/v1/products/{product}/size-advice", {}),
                         (f"/v1/products/{product}/size-advice", {"lang": "fr"})):
        r = client.get(path, params=params)
        assert r.status_code == 200
        etag = r.headers["etag"]
        assert etag.startswith('"v3-') and r.headers["cache-control"] == "public, max-age=120"
        tags.add(etag)
        again = client.get(path, params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        weak = client.get(path, params=params, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak.status_code == 304
        stale = client.get(path, params=params, headers={"If-None-Match": '"v2-0000"'})
        assert stale.status_code == 200 and stale.content == r.content
        # the route (an extra parameter skips the fast path) gives the same headers and 304
        routed = client.get(path, params={**params, "explain": "false"} if "risk" in path else params,
                            headers={"If-None-Match": etag})
        assert routed.status_code == 304
    assert len(tags) == 4                                           # language and endpoint are in the tag


def test_the_etag_changes_with_the_model(tiny_bundle, product):
    etags = []
    for version in ("3", "4"):
        loader = lambda v=version: (tiny_bundle, {"version": v, "alias": "champion", "uri": "u", "run_id": "r"})
        with TestClient(create_app(Settings(), loader=loader)) as c:
            etags.append(c.get(f"/v1/products/{product}/size-advice").headers["etag"])
    assert etags[0] != etags[1] and etags[1].startswith('"v4-')


def test_cors_preflight_for_the_widget(client, product):
    r = client.options(f"/v1/products/{product}/size-advice",
                       headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                "Access-Control-Request-Headers": "x-customer-token"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "x-customer-token" in r.headers["access-control-allow-headers"].lower()
    assert int(r.headers["access-control-max-age"]) > 0
    other = client.options(f"/v1/products/{product}/size-advice",
                           headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in other.headers
    got = client.get(f"/v1/products/{product}/size-advice", headers={"Origin": ORIGIN})
    assert got.headers["access-control-allow-origin"] == ORIGIN


# ---- the widget ---------------------------------------------------------------------------------
def test_widget_script_is_small_cacheable_and_cookie_free(client):
    r = client.get("/widget/returnrisk.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/javascript")
    assert len(gzip.compress(r.content)) <= 10 * 1024
    text = r.text
    assert "customElements.define(\"returnrisk-size-advice\"" in text
    assert "aria-live" in text and "--returnrisk-" in text and "800" in text
    assert "document.cookie" not in text and "localStorage" not in text and "import " not in text
    assert "set-cookie" not in r.headers
    again = client.get("/widget/returnrisk.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


# ---- widget events ------------------------------------------------------------------------------
def test_widget_events_are_counted_per_product_size_and_event(client, product):
    sizes = client.app.state.services.holder.current.scorer.offered_sizes(product)
    for body in ({"product_id": product, "event": "shown"}, {"product_id": product, "event": "shown"},
                 {"product_id": product, "event": "size_selected", "size": sizes[0]}):
        r = client.post("/v1/events", json=body, headers={"Origin": ORIGIN})
        assert r.status_code == 202 and r.json() == {"recorded": 1}
        assert r.headers["access-control-allow-origin"] == ORIGIN
    assert client.get("/v1/events").status_code == 401                       # counts are the merchant's
    counts = client.get("/v1/events", params={"product_id": product},
                        headers={"Authorization": f"Bearer {MERCHANT}"}).json()["events"]
    got = {(c["size"], c["event"]): c["count"] for c in counts}
    assert got == {(None, "shown"): 2, (sizes[0], "size_selected"): 1}
    for body, status, code in (({"product_id": "nope", "event": "shown"}, 404, "product_not_found"),
                               ({"product_id": product, "event": "shown", "size": "ZZZ"}, 422, "size_not_offered"),
                               ({"product_id": product, "event": "size_selected"}, 422, "size_required"),
                               ({"product_id": product, "event": "bought"}, 422, None)):
        r = client.post("/v1/events", json=body)
        assert r.status_code == status, r.text
        if code:
            assert r.json()["code"] == code
