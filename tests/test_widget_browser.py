"""The size-advice widget in a real browser: examples/storefront/product.html on a shop origin, the
service on another (CORS), headless Chromium (Debian's package) driven by Playwright.

A visitor sees the product's fit hints, a logged-in customer (customer token) their recommended
size, and with the service stopped or silent the page shows nothing and loads on time. Screenshots
go to ``test-output/screenshots/`` (and to ``docs/screenshots/`` with ``RETURNRISK_UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import jwt
import pytest

from browser_support import free_port, launched_browser
from returnrisk.serving import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "storefront" / "product.html"
SHOTS = ROOT / "test-output" / "screenshots"
SECRET = "widget-browser-test-secret-0123456789abcdef"
KEY = "widget-browser-merchant-key"
class _Api:
    """The service on 127.0.0.1 in a thread (uvicorn), which the test can stop."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 120
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def product(tiny_bundle):
    snapshot = tiny_bundle.snapshot
    return next(str(p) for p in snapshot.product_sizes["product_id"] if str(p) in snapshot.products.index)


@pytest.fixture(scope="module")
def customer(tiny_bundle, product):
    system = str(tiny_bundle.snapshot.products.at[product, "size_system"])
    profiles = tiny_bundle.snapshot.profiles
    keys = [k for k in profiles.sort_values("count", ascending=False).index if str(k).endswith("\x1f" + system)]
    return str(keys[0]).split("\x1f")[0]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop's pages on http://localhost:<port> (another origin than the service)."""
    folder = tmp_path_factory.mktemp("shop")
    shutil.copy(EXAMPLE, folder / "product.html")
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://localhost:{server.server_address[1]}"
    server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api(tiny_bundle, shop):
    loader = lambda: (tiny_bundle, {"version": "5", "alias": "champion", "uri": "models:/returnrisk@champion",
                                    "run_id": "browser"})
    app = create_app(Settings(cors_origins=shop[1], customer_token_secret=SECRET, merchant_api_keys=KEY,
                              database_url=f"sqlite:///{shop[0]}/service.db"), loader=loader)
    server = _Api(app)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with launched_browser() as b:
        yield b


class Page:
    """A page that records console errors, uncaught exceptions and when its load event fired."""

    def __init__(self, browser, **context):
        self.context = browser.new_context(viewport={"width": 900, "height": 640}, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str):
        self.page.goto(url, wait_until="load", timeout=60_000)
        return self

    def load_ms(self) -> float:
        return self.page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                                  " return n.loadEventStart - n.startTime; }")

    def widget_text(self) -> str:
        return self.page.evaluate("() => { const el = document.querySelector('returnrisk-size-advice');"
                                  " const box = el && el.shadowRoot && el.shadowRoot.querySelector('.rr');"
                                  " return box ? box.textContent : ''; }")

    def shot(self, name: str):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / name))
        if os.environ.get("RETURNRISK_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(SHOTS / name, ROOT / "docs" / "screenshots" / name)

    def close(self):
        self.context.close()


def _wait_shown(page: Page):
    page.page.wait_for_selector("returnrisk-size-advice[data-state=shown]", timeout=20_000)


def test_a_visitor_sees_the_fit_hints_of_every_size(browser, api, shop, product, tiny_bundle):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{api.base}/v1/products/{product}/size-advice?lang=en") as r:
        advice = json.loads(r.read())
    sizes = [o["size"] for o in advice["sizes"]]
    page = Page(browser).open(f"{shop[1]}/product.html?api={api.base}&product={product}&sizes={','.join(sizes)}")
    _wait_shown(page)
    items = page.page.eval_on_selector_all(
        "returnrisk-size-advice >> css=li", "els => els.map(e => [e.dataset.size, e.dataset.hint])")
    assert items == [[o["size"], o["fit_hint"]] for o in advice["sizes"]]
    text = page.widget_text()
    assert "Size advice" in text and "Recommended size for you" not in text
    if advice["message"]:
        assert advice["message"] in text
    live = page.page.eval_on_selector("returnrisk-size-advice >> css=[aria-live]",
                                      "e => [e.getAttribute('aria-live'), e.getAttribute('role')]")
    assert live == ["polite", "status"]
    assert page.page.context.cookies() == []                    # no cookie of its own
    page.shot("widget-visitor.png")
    page.page.select_option("#size", sizes[-1])               # the shopper picks a size: counted
    counts = {}
    deadline = time.time() + 10
    while time.time() < deadline and counts.get((sizes[-1], "size_selected")) != 1:
        request = urllib.request.Request(f"{api.base}/v1/events?product_id={product}",
                                         headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request) as r:
            counts = {(c["size"], c["event"]): c["count"] for c in json.loads(r.read())["events"]}
        time.sleep(0.2)
    assert counts[(None, "shown")] >= 1 and counts[(sizes[-1], "size_selected")] == 1
    assert page.errors == [], page.errors
    page.close()


def test_a_logged_in_customer_sees_their_size_in_french(browser, api, shop, product, customer):
    import json
    import urllib.request

    token = jwt.encode({"sub": customer, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    request = urllib.request.Request(f"{api.base}/v1/products/{product}/size-advice?lang=fr",
                                     headers={"X-Customer-Token": token})
    with urllib.request.urlopen(request) as r:
        advice = json.loads(r.read())
    assert advice["customer_known"] and advice["recommended_size"]
    page = Page(browser).open(f"{shop[1]}/product.html?api={api.base}&product={product}&lang=fr&token={token}")
    _wait_shown(page)
    text = page.widget_text()
    assert "Conseil taille" in text and "Taille conseillée pour vous" in text
    strong = page.page.eval_on_selector("returnrisk-size-advice >> css=.rec strong", "e => e.textContent")
    assert strong == advice["recommended_size"]
    page.shot("widget-customer-fr.png")
    assert page.errors == [], page.errors
    page.close()


def test_a_rejected_token_shows_nothing(browser, api, shop, product, customer):
    forged = jwt.encode({"sub": customer, "exp": int(time.time()) + 3600}, "x" * 40, algorithm="HS256")
    page = Page(browser).open(f"{shop[1]}/product.html?api={api.base}&product={product}&token={forged}")
    page.page.wait_for_timeout(1500)
    assert page.widget_text().strip() == ""                 # never the visitor answer in its place
    page.close()


def test_a_silent_service_neither_shows_anything_nor_delays_the_load_event(browser, api, shop, product):
    """The service accepts the connection and never answers: the widget gives up after 800 ms, the
    page's load event does not wait for it."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    silent = f"http://127.0.0.1:{hole.getsockname()[1]}"
    folder, origin = shop
    (folder / "silent.html").write_text(
        f'<!doctype html><html lang="en"><head><link rel="icon" href="data:,"></head><body><h1>Shirt</h1>'
        f'<script async src="{api.base}/widget/returnrisk.js"></script>'
        f'<returnrisk-size-advice product-id="{product}" api-base="{silent}"></returnrisk-size-advice>'
        f'<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt=""></body></html>')
    try:
        page = Page(browser).open(f"{origin}/silent.html")
        assert page.load_ms() < 800
        page.page.wait_for_timeout(1200)
        assert page.widget_text().strip() == ""
        box = page.page.eval_on_selector("returnrisk-size-advice", "e => e.getBoundingClientRect().height")
        assert box == 0
        assert not [e for e in page.errors if "returnrisk" in e.lower() or "uncaught" in e.lower()]
        page.close()
    finally:
        hole.close()


def test_with_the_service_stopped_the_page_shows_nothing_and_loads(browser, tiny_bundle, shop, product):
    loader = lambda: (tiny_bundle, {"version": "5", "alias": "champion", "uri": "u", "run_id": "r"})
    server = _Api(create_app(Settings(cors_origins=shop[1]), loader=loader))
    base = server.base
    server.stop()
    page = Page(browser)
    uncaught = []
    page.page.on("pageerror", lambda e: uncaught.append(str(e)))
    page.open(f"{shop[1]}/product.html?api={base}&product={product}")
    assert page.load_ms() < 5000
    page.page.wait_for_timeout(1000)
    assert page.page.inner_text("h1") == "Linen shirt"          # the shop's page is whole
    assert page.widget_text().strip() == "" and uncaught == []
    page.shot("widget-service-stopped.png")
    page.close()
