"""The fix list in the dashboard (server side): status buttons behind CSRF-protected forms, the
session remembering the key's label, search, paging, CSV of exactly the rows shown, money per
language, titles and shop links from the catalogue."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from returnrisk.serving import Settings, create_app


@pytest.fixture(scope="module")
def shop_with_titles(trained, tmp_path_factory):
    """The trained shop with titles, pages and images in its catalogue, and some lines sold in CHF."""
    folder = tmp_path_factory.mktemp("titled") / "shop"
    shutil.copytree(trained.data, folder)
    products = pd.read_csv(folder / "products.csv", dtype=str, keep_default_na=False)
    products["title"] = [f"Item {i} {c}" for i, c in enumerate(products["category"])]
    products["url"] = [f"https://shop.example/p/{p}" for p in products["product_id"]]
    products["image_url"] = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    products.to_csv(folder / "products.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def browser_client(trained, shop_with_titles, tmp_path_factory):
    db = tmp_path_factory.mktemp("dash") / "service.db"
    settings = Settings(_env_file=None, merchant_api_keys="anna:key-anna", database_url=f"sqlite:///{db}",
                        data_dir=str(shop_with_titles), secure_cookies=False)
    app = create_app(settings, loader=lambda: (trained.bundle(), {"version": "1"}))
    with TestClient(app, base_url="http://testserver") as client:
        answer = client.post("/dashboard/login", data={"key": "key-anna", "next": "/dashboard/fixes"},
                             follow_redirects=False)
        assert answer.status_code == 303
        yield client


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-lever="[^"]+" data-fix="([0-9a-f]{12})"', html)


def test_the_list_shows_titles_labels_money_and_evidence_not_codes(browser_client):
    page = browser_client.get("/dashboard/fixes?lang=fr")
    assert page.status_code == 200
    html = page.text
    assert "Ventes derrière le constat" in html and "Confiance" not in html
    assert "Item " in html and "https://shop.example/p/" in html and 'class="thumb"' in html
    assert re.search(r'<span class="pill">(Taille petit|Ajouter un guide des tailles|Améliorer les photos|'
                     r'Améliorer la description|Revoir la qualité|Revoir l&#39;emballage|Taille grand)</span>', html)
    assert not re.search(r'<span class="pill">[a-z]+_[a-z_]+</span>', html)      # no lever codes
    assert re.search(r"\d+,\d\d\xa0€", html)                                       # French money (Babel)
    english = browser_client.get("/dashboard/fixes?lang=en").text
    assert re.search(r"€\d[\d,]*\.\d\d", english)


def test_search_paging_and_the_csv_of_exactly_the_rows_shown(browser_client):
    first = browser_client.get("/dashboard/fixes?limit=5&lang=en").text
    shown = _rows(first)
    assert len(shown) == 5 and "Next →" in first
    second = browser_client.get("/dashboard/fixes?limit=5&offset=5&lang=en").text
    assert not set(_rows(second)) & set(shown)
    exported = browser_client.get("/dashboard/fixes.csv?limit=5&offset=5&lang=en")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["fix id"] for r in table] == _rows(second)
    # search by title
    title = re.search(r'class="product-link" href="[^"]+">(Item \d+ [a-z]+)</a>', first).group(1)
    found = browser_client.get("/dashboard/fixes", params={"q": title.lower(), "lang": "en"}).text
    assert _rows(found) and all(title in row for row in re.findall(r'class="product-link"[^>]*>([^<]+)<', found))


def test_marking_a_fix_done_needs_the_forms_token_and_records_the_sessions_label(browser_client):
    page = browser_client.get("/dashboard/fixes?lang=en").text
    fix_id = _rows(page)[0]
    form = {"status": "done", "live_at": "2026-02-01", "note": "guide added", "next": "/dashboard/fixes"}
    forged = browser_client.post(f"/dashboard/fixes/{fix_id}/status", data=form, follow_redirects=False)
    assert forged.status_code == 403 and "security token" in forged.text
    other_site = browser_client.post(f"/dashboard/fixes/{fix_id}/status", data={**form, "csrf_token": _token(page)},
                                     headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert other_site.status_code == 403 and "another site" in other_site.text
    done = browser_client.post(f"/dashboard/fixes/{fix_id}/status", data={**form, "csrf_token": _token(page)},
                               follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/fixes"
    assert fix_id not in _rows(browser_client.get("/dashboard/fixes").text)      # left the to-do list
    listed = browser_client.get("/dashboard/fixes?status=done&lang=en").text
    assert _rows(listed) == [fix_id] and "Done by anna on" in listed
    impossible = browser_client.post(f"/dashboard/fixes/{fix_id}/status", follow_redirects=False, data={
        "status": "dismissed", "dismiss_reason": "wrong", "csrf_token": _token(listed), "next": "/dashboard/fixes"})
    assert impossible.status_code == 409 and "cannot become dismissed" in impossible.text
    api = browser_client.get(f"/v1/fixes/{fix_id}", headers={"Authorization": "Bearer key-anna"}).json()
    assert [(h["status"], h["changed_by"], h["note"]) for h in api["history"]] == [("done", "anna", "guide added")]


def test_the_product_page_has_each_fixs_buttons_and_a_change_there_comes_back_to_it(browser_client):
    page = browser_client.get("/dashboard/fixes?status=open&lang=en").text
    fix_id = _rows(page)[0]
    product = re.search(rf'data-fix="{fix_id}".*?href="/dashboard/products/([^"?]+)\?', page, re.DOTALL).group(1)
    back = f"/dashboard/products/{product}?lang=en"
    html = browser_client.get(back).text
    assert f'action="/dashboard/fixes/{fix_id}/status"' in html
    assert re.search(rf'<tr data-fix="{fix_id}" data-status="open" data-phase="open">', html)
    started = browser_client.post(f"/dashboard/fixes/{fix_id}/status", follow_redirects=False, data={
        "status": "in_progress", "csrf_token": _token(html), "next": back})
    assert started.status_code == 303 and started.headers["location"] == back
    again = browser_client.get(back).text
    assert re.search(rf'<tr data-fix="{fix_id}" data-status="in_progress" data-phase="in_progress">', again)
    assert "In progress by anna on" in again
    # an outside address in `next` is not followed
    elsewhere = browser_client.post(f"/dashboard/fixes/{fix_id}/status", follow_redirects=False, data={
        "status": "open", "csrf_token": _token(again), "next": "https://evil.example/x"})
    assert elsewhere.status_code == 303 and not elsewhere.headers["location"].startswith("https://evil")


def test_the_overview_lists_the_alerts_in_the_pages_language(browser_client):
    from returnrisk.db.engine import make_engine
    from returnrisk.lifecycle.alerts import Alert, alert_id
    from returnrisk.lifecycle.outbox import AlertOutbox

    empty = browser_client.get("/dashboard?lang=en").text
    assert 'id="alerts"' in empty and "No alert yet" in empty
    engine = make_engine(browser_client.app.state.services.settings.database_url)
    alert = Alert(alert_id("recurrence", "abc123abc123", "2026-01-05"), "recurrence", "P000007", "abc123abc123",
                  {"en": "Problem back on P000007: runs small again", "fr": "Problème revenu sur P000007"})
    AlertOutbox(engine).enqueue([alert], [], now=pd.Timestamp("2026-01-06", tz="UTC"))
    engine.dispose()
    french = browser_client.get("/dashboard?lang=fr").text
    item = re.search(r'<li data-kind="recurrence">(.*?)</li>', french, re.DOTALL).group(1)
    assert "problème revenu" in item and "Problème revenu sur P000007" in item and "2026-01-06" in item
    assert 'href="/dashboard/products/P000007' in item


def test_a_status_form_with_a_bad_date_or_id_says_what_to_send():
    import datetime as dt

    from returnrisk.dashboard.fix_pages import form_change
    from returnrisk.errors import InputError

    with pytest.raises(InputError, match=r"live date '2026-13-01' is not a date: use YYYY-MM-DD"):
        form_change("0123456789ab", "done", "2026-13-01", "", "")
    with pytest.raises(InputError, match=r"'\.\./x' is not a fix id"):
        form_change("../x", "done", "", "", "")
    change = form_change("0123456789ab", "done", " 2026-02-01 ", "  guide added ", "")
    assert (change.status, change.live_at, change.note, change.dismiss_reason) == (
        "done", dt.date(2026, 2, 1), "guide added", None)
