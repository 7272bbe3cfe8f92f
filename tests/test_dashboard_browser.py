"""The dashboard in a real browser: the service runs on the demo shop, headless Chromium drives it.

Screenshots of every page are saved under ``test-output/screenshots/``. Chromium comes from the
system (Debian's ``chromium`` package; ``.ci/run`` installs it); Playwright only drives it. When
Chromium is missing the tests are skipped — unless ``RETURNRISK_REQUIRE_BROWSER=1`` (CI), where
they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_support import launched_browser, running_service

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
KEY = "browser-test-merchant-key"


@pytest.fixture(scope="module")
def service(trained, tmp_path_factory):
    work = tmp_path_factory.mktemp("service")
    env = {**os.environ, "RETURNRISK_TRACKING_URI": trained.tracking_uri, "RETURNRISK_MERCHANT_API_KEYS": KEY,
           "RETURNRISK_DATA_DIR": str(trained.data), "RETURNRISK_SECURE_COOKIES": "false",
           "RETURNRISK_RETURNS_DB_URL": f"sqlite:///{work}/returns.db"}
    with running_service(env, work) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with launched_browser() as b:
        yield b


class Page:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, browser, base: str, width: int = 1366, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str):
        return self.page.goto(self.base + path, wait_until="load", timeout=240_000)

    def login(self, key: str = KEY):
        self.goto("/dashboard/login")
        self.page.fill("input[name=key]", key)
        # the click waits for the navigation it starts: the overview's first computation can take
        # longer than Playwright's default 30 s on a busy 2-core machine
        self.page.click("button[type=submit]", timeout=240_000)
        self.page.wait_for_load_state("load", timeout=240_000)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def charts_drawn(self) -> int:
        """Charts on the page, each checked to have drawn at least one visible mark."""
        charts = self.page.locator("svg.chart")
        n = charts.count()
        for i in range(n):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 100 and box["height"] > 40, f"chart {i} is not laid out: {box}"
            marks = charts.nth(i).locator(".mark")
            assert marks.count() > 0, f"chart {i} ({charts.nth(i).get_attribute('data-chart')}) drew nothing"
        return n

    def close(self):
        assert self.errors == [], f"browser console errors: {self.errors}"
        self.context.close()


def test_wrong_key_shows_the_login_again_with_a_message(service, browser):
    p = Page(browser, service)
    p.login("not-the-key")
    assert "/dashboard/login" in p.page.url
    assert p.page.locator("[role=alert]").inner_text().startswith("This key is not valid")
    assert "Traceback" not in p.page.content()
    assert p.page.locator("input[name=key]").count() == 1
    p.shot("login-wrong-key")
    p.close()


def test_overview_shows_kpis_trend_reasons_and_forecast(service, browser):
    p = Page(browser, service)
    p.goto("/dashboard")
    assert "/dashboard/login" in p.page.url              # not logged in: sent to the login form
    p.login()
    assert p.page.url.rstrip("/").endswith("/dashboard")
    text = p.page.inner_text("main")
    for words in ("Last 4 weeks vs the 4 before", "Return rate (units)", "Refunds within 5 days",
                  "Weekly return rate", "Why items come back", "Returns expected in the next 14 days"):
        assert words in text
    assert p.page.locator(".kpi").count() == 6
    assert p.charts_drawn() >= 3
    assert p.page.locator("svg[data-chart=line] .provisional").count() >= 1   # open windows are marked
    assert p.page.locator("#forecast-table tbody tr").count() == 14            # 14 forecast days
    p.shot("overview")
    p.close()


def test_fix_list_filter_and_product_link(service, browser):
    p = Page(browser, service)
    p.login()
    p.goto("/dashboard/fixes")
    rows = p.page.locator("#fix-table tbody tr")
    assert rows.count() > 0
    p.shot("fix-list")
    lever = rows.first.get_attribute("data-lever")
    p.page.select_option("select[name=lever]", lever)
    p.page.click("form.filters button")
    p.page.wait_for_load_state("load")
    levers = {rows.nth(i).get_attribute("data-lever") for i in range(rows.count())}
    assert levers == {lever}
    p.shot("fix-list-filtered")
    link = p.page.locator("a.product-link").first
    product = link.inner_text()
    link.click()
    p.page.wait_for_load_state("load", timeout=240_000)
    assert f"/dashboard/products/{product}" in p.page.url
    text = p.page.inner_text("main")
    assert product in text and "Return reasons vs its category" in text and "What a shopper sees" in text
    assert "Suggested fixes" in text
    assert p.charts_drawn() >= 3
    p.shot("product")
    p.close()


def test_model_page_and_french(service, browser):
    p = Page(browser, service)
    p.login()
    p.goto("/dashboard/model")
    text = p.page.inner_text("main")
    assert "Model — Champion v1" in text and "Validation on the future" in text and "AUC" in text
    assert p.charts_drawn() >= 1
    p.shot("model")
    p.page.click("a.lang")
    p.page.wait_for_load_state("load")
    assert "Modèle — Champion v1" in p.page.inner_text("main")
    p.goto("/dashboard")
    assert "Vue d'ensemble" in p.page.inner_text("header")   # the language is remembered
    assert "Pourquoi les articles reviennent" in p.page.inner_text("main")
    p.shot("overview-fr")
    p.close()


def test_usable_on_a_phone_width(service, browser):
    p = Page(browser, service, width=390, height=844)
    p.login()
    overflow = p.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 2, f"the page scrolls sideways by {overflow}px on a phone"
    assert p.charts_drawn() >= 3
    p.shot("overview-phone")
    p.close()
