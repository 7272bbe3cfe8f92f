"""The return portal in a real browser (issue 16's "done when"): headless Chromium drives the service.

A customer opens a signed link, returns one line as "Too small", is offered the recommended size
and accepts the exchange; the return is then in the returns store, in ``GET /v1/kpis`` and on the
dashboard's overview; an expired link shows no order. Everything works without JavaScript (the
pages have none; the test turns it off). Screenshots go to ``docs/screenshots/portal-*.png``.

Chromium comes from the system (``/usr/bin/chromium``, Debian's package); Playwright only drives
it. Without Chromium the tests are skipped, unless ``RETURNRISK_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

import pytest

from browser_support import launched_browser, running_service
from portal_support import SECRET, Orders, expired_token, portal_shop
from returnrisk.capture.exchange import exchange_offer
from returnrisk.capture.links import PortalLinks
from returnrisk.scoring import ExplainedScorer

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
KEY = "portal-browser-merchant-key"
LINKS = PortalLinks(SECRET, 30 * 86400)


def _get_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=240) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def shop(trained, tmp_path_factory) -> Path:
    return portal_shop(trained.data, tmp_path_factory.mktemp("portal-browser-shop"))


@pytest.fixture(scope="module")
def portal_service(trained, shop, tmp_path_factory):
    work = tmp_path_factory.mktemp("portal-browser-service")
    env = {**os.environ, "RETURNRISK_TRACKING_URI": trained.tracking_uri, "RETURNRISK_MERCHANT_API_KEYS": KEY,
           "RETURNRISK_DATA_DIR": str(shop), "RETURNRISK_SECURE_COOKIES": "false",
           "RETURNRISK_DATABASE_URL": f"sqlite:///{work}/service.db", "RETURNRISK_PORTAL_SECRET": SECRET,
           "RETURNRISK_PORTAL_SHOP_NAME": "Maison Demo"}
    env.pop("RETURNRISK_RETURNS_DB_URL", None)
    with running_service(env, work) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with launched_browser() as b:
        yield b


@pytest.fixture(scope="module")
def sized_order(trained, shop):
    """An order whose customer is known and one of whose sized lines has a recommended larger size."""
    bundle = trained.bundle()
    scorer = ExplainedScorer(bundle, "browser")
    orders = Orders(shop)
    found = {}

    def accept(rows) -> bool:
        for row in rows.itertuples():
            offer = exchange_offer(scorer, row.product_id, row.size, row.customer_id, +1)
            if offer is not None and offer.source == "size_advice":
                found["hit"] = (int(row.position), offer)
                return True
        return False

    rows = orders.take(accept)
    return (rows, *found["hit"])


def _context(browser, width=390, height=844, lang="en-GB"):
    """A phone-sized page without JavaScript (the portal needs none), recording console errors and
    failed loads (but the favicon Chromium asks for on its own: the portal has none)."""
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False,
                                  locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and
            not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and
            r.request.resource_type != "document" and not r.url.endswith("/favicon.ico") else None)
    return context, page, errors


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_customer_returns_a_line_as_too_small_and_accepts_the_exchange(portal_service, browser, sized_order):
    rows, position, offer = sized_order
    order_id = rows.loc[0, "order_id"]
    line = rows.loc[position - 1]
    context, page, errors = _context(browser)
    try:
        answer = page.goto(f"{portal_service}/returns/{LINKS.token(order_id)}", wait_until="load", timeout=240_000)
        assert answer.status == 200
        assert answer.headers["content-security-policy"].find("frame-ancestors 'none'") >= 0
        assert answer.headers["x-content-type-options"] == "nosniff"
        # the order's lines are listed with their labels; the customer picks one line, "Too small"
        assert page.locator(f"label[for=qty-{position}]").count() == 1
        assert page.locator(f"label[for=reason-{position}]").count() == 1
        assert str(line["size"]) in page.locator("main").inner_text()
        page.select_option(f"#qty-{position}", "1")
        page.select_option(f"#reason-{position}", "too_small")
        _shot(page, "portal-order")
        # keyboard only: the submit button is reached with Tab and pressed with Enter
        page.locator("button[type=submit]").focus()
        with page.expect_navigation(wait_until="load", timeout=240_000):
            page.keyboard.press("Enter")
        assert "Would an exchange suit you better?" in page.content()
        recommended = page.locator(f"input[name=choice-{position}][data-recommended=true]")
        assert recommended.get_attribute("value") == f"exchange:{offer.recommended}"
        text = page.locator("main").inner_text()
        assert f"Exchange for size {offer.recommended}" in text and "recommended for you" in text
        recommended.check()
        _shot(page, "portal-exchange-offer")
        with page.expect_navigation(wait_until="load", timeout=240_000):
            page.click("button[type=submit]")
        assert "/done/" in page.url
        done = page.locator("main").inner_text()
        assert "Your return is recorded" in done
        assert f"We will send size {offer.recommended} as soon as your parcel arrives." in done
        assert "Refunded within" not in done          # an exchange, not a refund: no refund promise
        _shot(page, "portal-confirmation")
        assert errors == []
    finally:
        context.close()

    # in the store (through the merchant API), exchange and size asked included
    listed = _get_json(f"{portal_service}/v1/returns?exchange=true")["returns"]
    mine = [r for r in listed if r["line_id"] == line["line_id"]]
    assert len(mine) == 1 and mine[0]["channel"] == "portal" and mine[0]["reason"] == "too_small"
    assert mine[0]["size_asked"] == offer.recommended and mine[0]["quantity"] == 1
    stored = _get_json(f"{portal_service}/v1/returns/{line['line_id']}")
    assert stored["returns"][0]["return_id"] == mine[0]["return_id"] and stored["returns"][0]["quantity"] == 1
    # in the KPIs
    capture = _get_json(f"{portal_service}/v1/kpis")["capture"]
    assert capture["by_channel"]["portal"] == 1
    assert capture["exchanges"]["exchanges"] == 1 and capture["exchanges"]["units_kept"] == 1
    assert capture["exchanges"]["value_kept"] == pytest.approx(float(line["unit_price"]), abs=0.01)


def test_the_dashboard_shows_the_portal_return_and_the_exchange(portal_service, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{portal_service}/dashboard/login", wait_until="load", timeout=240_000)
        page.fill("input[name=key]", KEY)
        page.click("button[type=submit]", timeout=240_000)
        page.wait_for_load_state("load", timeout=240_000)
        row = page.locator('tr[data-channel="portal"]')
        assert row.count() == 1
        assert re.sub(r"\s+", " ", row.inner_text()).startswith("Return portal 1")
        text = re.sub(r"\s+", " ", page.locator("main").inner_text())
        assert "Exchanges vs refunds (size offer)" in text and "Sales kept" in text
        section = page.locator("#capture")
        section.scroll_into_view_if_needed()
        SHOTS.mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(SHOTS / "portal-dashboard-channels.png"))
    finally:
        context.close()


def test_an_expired_link_shows_no_order(portal_service, browser, shop):
    order_id = Orders(shop).take().loc[0, "order_id"]
    context, page, errors = _context(browser, lang="fr-FR")
    try:
        answer = page.goto(f"{portal_service}/returns/{expired_token(order_id)}", wait_until="load",
                           timeout=240_000)
        assert answer.status in (403, 410)
        content = page.content()
        assert order_id not in content and "qty-1" not in content and "<select" not in content
        assert '<html lang="fr">' in content
        _shot(page, "portal-expired-link")
    finally:
        context.close()
