"""Issue 17 in a real browser: a merchandiser finds a fix, marks it done, and sees its measured effect.

The service runs (``returnrisk serve``) on the demo shop with planted fixes (conftest ``planted``:
improve_photos on P000122 went live on 2025-08-12 and really cut its "looks different" returns);
headless Chromium (the system's ``/usr/bin/chromium``, driven by Playwright) logs in with a labelled
key, searches the fix list, opens the fix's status buttons, marks it done with its live date, and
then reads the measured effect with its interval on the fix list and on the product page (the
before/after chart included). Screenshots go to ``test-output/screenshots/``. Without Chromium the
test is skipped, unless ``RETURNRISK_REQUIRE_BROWSER=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browser_support import launched_browser, running_service
from returnrisk.db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
KEY = "anna-browser-key"
PRODUCT, LEVER, LIVE = "P000122", "improve_photos", "2025-08-12"


@pytest.fixture(scope="module")
def browser():
    with launched_browser() as b:
        yield b


@pytest.fixture(scope="module")
def service(planted, tmp_path_factory):
    work = tmp_path_factory.mktemp("fix_service")
    db_url = f"sqlite:///{work}/service.db"
    upgrade(db_url)
    env = {**os.environ, "RETURNRISK_TRACKING_URI": planted.tracking_uri,
           "RETURNRISK_MERCHANT_API_KEYS": f"anna:{KEY}", "RETURNRISK_DATA_DIR": str(planted.data),
           "RETURNRISK_SECURE_COOKIES": "false", "RETURNRISK_DATABASE_URL": db_url}
    with running_service(env, work) as base:
        yield base


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_find_a_fix_mark_it_done_and_see_its_measured_effect_with_its_interval(service, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    wait = 240_000

    # log in with the labelled key, straight to the fix list
    page.goto(f"{service}/dashboard/login?next=/dashboard/fixes&lang=en", wait_until="load", timeout=wait)
    page.fill("input[name=key]", KEY)
    page.click("button[type=submit]", timeout=wait)
    page.wait_for_load_state("load", timeout=wait)
    assert "/dashboard/fixes" in page.url

    # find the fix: search by product id, filter by lever
    page.fill("#fix-search", PRODUCT)
    page.select_option("select[name=lever]", LEVER)
    page.click("form.filters button[type=submit]", timeout=wait)
    page.wait_for_load_state("load", timeout=wait)
    rows = page.locator("#fix-table tbody tr")
    assert rows.count() >= 1
    row = rows.first
    fix_id = row.get_attribute("data-fix")
    assert row.get_attribute("data-lever") == LEVER and row.get_attribute("data-status") == "open"
    assert PRODUCT in row.inner_text() and "Improve the photos" in row.inner_text()   # a label, not the code
    _shot(page, "fix-lifecycle-found")

    # mark it done: the status buttons of that row, its live date and a note
    row.locator("details.actions summary").click()
    done = row.locator("form.done-form")
    done.locator("input[name=live_at]").fill(LIVE)
    done.locator("input[name=note]").fill("new photos with the true colour")
    done.locator("button[type=submit]").click(timeout=wait)
    page.wait_for_load_state("load", timeout=wait)
    assert "/dashboard/fixes" in page.url and "cannot" not in page.inner_text("main").lower()
    assert page.locator(f'#fix-table tr[data-fix="{fix_id}"]').count() == 0          # left the to-do list

    # the done fixes: recorded under the session's label, and its measured effect with the interval
    page.goto(f"{service}/dashboard/fixes?status=done&lang=en", wait_until="load", timeout=wait)
    done_row = page.locator(f'#fix-table tr[data-fix="{fix_id}"]')
    assert done_row.count() == 1
    assert done_row.get_attribute("data-phase") == "measured"
    text = done_row.inner_text()
    assert re.search(r"Done by anna on \d{4}-\d{2}-\d{2}", text)
    effect = done_row.locator("td.effect").inner_text()
    # e.g. "−4.1 pts (−6.0 … −2.2) · fewer returns": an estimate and an interval that excludes zero
    numbers = [float(x.replace("−", "-")) for x in re.findall(r"[−-]?\d+(?:\.\d+)?", effect)]
    assert len(numbers) >= 3, effect
    estimate, low, high = numbers[:3]
    assert low <= estimate <= high < 0, effect
    cell, card = done_row.locator("td.effect").bounding_box(), page.locator(".fix-list").bounding_box()
    assert cell["x"] + cell["width"] <= card["x"] + card["width"] + 1, "the effect column is cut off"
    assert page.evaluate("document.querySelector('.fix-list').scrollWidth - document.querySelector('.fix-list')"
                         ".clientWidth") <= 2, "the fix list scrolls sideways on a desktop screen"
    _shot(page, "fix-lifecycle-done-list")

    # the product page: status, the effect panel with its sentences and the before/after chart
    page.goto(f"{service}/dashboard/products/{PRODUCT}?lang=en", wait_until="load", timeout=wait)
    panel = page.locator(f'.effect-panel[data-effect="{fix_id}"]')
    assert panel.count() == 1 and panel.get_attribute("data-effect-status") == "measured"
    words = panel.inner_text()
    assert "interval" in words and "the suggestion had estimated" in words and "fewer returns" in words
    chart = panel.locator("svg.chart")
    box = chart.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 40
    assert chart.locator(".mark").count() == 2 and chart.locator(".marker").count() == 1   # two lines, the live date
    assert page.locator(f'#product-fixes tr[data-fix="{fix_id}"]').get_attribute("data-phase") == "measured"
    _shot(page, "fix-lifecycle-product-effect")

    # in French, money and numbers per Babel
    page.goto(f"{service}/dashboard/products/{PRODUCT}?lang=fr", wait_until="load", timeout=wait)
    assert "intervalle à" in page.locator(f'.effect-panel[data-effect="{fix_id}"]').inner_text()
    page.goto(f"{service}/dashboard/fixes?lang=en", wait_until="load", timeout=wait)   # back to English
    assert errors == [], errors
    context.close()


def test_the_fix_list_fits_a_phone(service, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{service}/dashboard/login?next=/dashboard/fixes&lang=en", wait_until="load", timeout=240_000)
    page.fill("input[name=key]", KEY)
    page.click("button[type=submit]", timeout=240_000)
    page.wait_for_load_state("load", timeout=240_000)
    assert page.locator("#fix-table tbody tr").count() > 0
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 2, f"the fix list scrolls sideways by {overflow}px on a phone"
    # every cell of the first row is visible within the screen's width (a card, not a cut-off table)
    cells = page.locator("#fix-table tbody tr").first.locator("td")
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        assert box is None or box["x"] + box["width"] <= 392, f"cell {i} is cut off: {box}"
    _shot(page, "fix-list-phone")
    context.close()
