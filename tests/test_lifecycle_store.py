"""The fix lifecycle's library without a model: the status trail in the database, the effective
status of a dismissed fix, the list (filters, search, sort, paging, currencies), CSV, money."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from returnrisk.db import make_engine, upgrade
from returnrisk.db.schema import fix_status_changes_table
from returnrisk.errors import ConflictError
from returnrisk.fixes.ids import fix_id
from returnrisk.fixes.status import InvalidTransition, ReturnRule, StatusChange
from returnrisk.lifecycle import FixQuery, FixStatusStore, build_rows, select, set_status
from returnrisk.lifecycle.catalogue import ProductInfo, safe_url
from returnrisk.lifecycle.changes import FixNotFound
from returnrisk.lifecycle.export import fixes_csv
from returnrisk.lifecycle.money import money, money_totals, percent

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")
RULE = ReturnRule()


def make_fix(product: str, lever: str, rank: int, savings: float, *, size=None, sales=200, exposure=200.0,
             returns=30.0, reference=0.05, flagged="2026-04-01", category="dresses") -> dict:
    return {"fix_id": fix_id(product, size, lever), "product_id": product, "size": size, "lever": lever,
            "priority_rank": rank, "category": category, "brand": "Lune", "expected_savings_per_month": savings,
            "expected_returns_avoided_per_month": savings / 10, "flagged_since": flagged, "confidence": 0.99,
            "evidence": {"sales": sales, "exposure": exposure, "returns": returns, "reference_rate": reference},
            "message": {"en": f"{product} comes back", "fr": f"{product} revient"}}


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield FixStatusStore(engine)
    engine.dispose()


def test_every_change_is_appended_with_who_and_when_and_the_current_status_follows(store):
    fix = make_fix("P1", "improve_photos", 1, 120.0)
    assert store.latest(fix["fix_id"]) is None and store.version() == 0
    first = set_status(store, fix["fix_id"], StatusChange("in_progress", note="booked"), by="anna", at=NOW, fix=fix,
                       rule=RULE)
    later = NOW + pd.Timedelta(days=2)
    second = set_status(store, fix["fix_id"], StatusChange("done", live_at=dt.date(2026, 6, 2)), by="bob",
                        at=later, fix=fix, rule=RULE)
    latest = store.latest(fix["fix_id"])
    assert latest.change_id == second.change_id > first.change_id and store.version() == second.change_id
    assert (latest.status.status, latest.status.changed_by, latest.status.live_at) == ("done", "bob",
                                                                                       dt.date(2026, 6, 2))
    assert latest.status.changed_at == later and latest.suggestion == fix
    assert [(h.status.status, h.status.changed_by, h.status.note) for h in store.history(fix["fix_id"])] == \
        [("in_progress", "anna", "booked"), ("done", "bob", None)]
    with pytest.raises(InvalidTransition):
        set_status(store, fix["fix_id"], StatusChange("dismissed", dismiss_reason="wrong"), by="anna", at=later,
                   fix=fix, rule=RULE)
    assert len(store.history(fix["fix_id"])) == 2          # a refused change writes nothing
    # no longer suggested (fix=None): still changeable, known from its trail
    reopened = set_status(store, fix["fix_id"], StatusChange("open"), by="anna", at=later, fix=None, rule=RULE)
    assert (reopened.product_id, reopened.lever, reopened.suggestion) == ("P1", "improve_photos", fix)
    with pytest.raises(FixNotFound):
        set_status(store, "0123456789ab", StatusChange("open"), by="anna", at=later, fix=None, rule=RULE)


def test_concurrent_changes_of_one_fix_never_interleave(store):
    """Eight people flip one fix between open and in progress at once: every change lands, in a
    chain where each one was decided on the one before it."""
    fix = make_fix("P2", "quality_review", 1, 50.0)
    errors = []

    def flip(i):
        try:
            set_status(store, fix["fix_id"], StatusChange("in_progress" if i % 2 else "open", note=str(i)),
                       by=f"user{i}", at=NOW, fix=fix, rule=RULE)
        except ConflictError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=flip, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trail = store.history(fix["fix_id"])
    assert errors == [] and len(trail) == 8
    assert store.latest(fix["fix_id"]).change_id == trail[-1].change_id
    engine = store.engine
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fix_status_changes_table)).scalar_one() == 8


def test_a_dismissed_fix_comes_back_to_the_list_only_when_its_evidence_grew_materially(store):
    fix = make_fix("P3", "improve_description", 1, 80.0, exposure=200.0, returns=30.0, reference=0.05)
    set_status(store, fix["fix_id"], StatusChange("dismissed", dismiss_reason="wrong"), by="anna", at=NOW, fix=fix,
               rule=RULE)
    stored = store.latest(fix["fix_id"])
    assert stored.status.evidence.exposure == 200.0        # what it was dismissed on is kept
    query = FixQuery()
    # a little more evidence: stays dismissed, out of the to-do list
    grown = dict(fix, evidence={**fix["evidence"], "exposure": 260.0, "returns": 36.0})
    rows = build_rows([grown], store.all_latest(), {}, {}, RULE)
    assert rows[0].status == "dismissed" and select(rows, query).total == 0
    # twice the evidence, the new sales alone in excess: back in the list, and changeable from open
    doubled = dict(fix, evidence={**fix["evidence"], "exposure": 420.0, "returns": 62.0})
    rows = build_rows([doubled], store.all_latest(), {}, {}, RULE)
    assert rows[0].status == "open" and "since the dismissal" in rows[0].returned
    assert select(rows, query).total == 1
    moved = set_status(store, fix["fix_id"], StatusChange("in_progress"), by="bob", at=NOW, fix=doubled, rule=RULE)
    assert moved.status.status == "in_progress"
    # no longer suggested at all: a dismissed fix never comes back
    set_status(store, fix["fix_id"], StatusChange("dismissed", dismiss_reason="not_worth_it"), by="bob", at=NOW,
               fix=doubled, rule=RULE)
    rows = build_rows([], store.all_latest(), {}, {}, RULE)
    assert [r.status for r in rows] == ["dismissed"] and select(rows, query).total == 0


def test_the_list_filters_searches_sorts_pages_and_keeps_currencies_apart(store):
    fixes = [make_fix("P10", "runs_small", 1, 300.0, sales=900), make_fix("P11", "improve_photos", 2, 200.0, sales=50),
             make_fix("P12", "runs_small", 3, 100.0, sales=400, size="W32/L34"),
             make_fix("P13", "quality_review", 4, 90.0, sales=120)]
    catalogue = {"P10": ProductInfo("P10", "Linen dress", "https://shop.example/p10", None, "EUR"),
                 "P11": ProductInfo("P11", "Wool coat", None, None, "CHF"),
                 "P12": ProductInfo("P12", "Slim jeans", None, None, "EUR"),
                 "P13": ProductInfo("P13", None, None, None, "EUR")}
    done = fixes[3]
    set_status(store, done["fix_id"], StatusChange("done", live_at=dt.date(2026, 5, 1)), by="anna", at=NOW,
               fix=done, rule=RULE)
    rows = build_rows(fixes[:3], store.all_latest(), {}, catalogue, RULE)   # the done fix is no longer suggested
    assert [r.product_id for r in rows] == ["P10", "P11", "P12", "P13"] and rows[3].suggested is False

    todo = select(rows, FixQuery())
    assert [r.product_id for r in todo.rows] == ["P10", "P11", "P12"]
    assert todo.savings_by_currency == {"EUR": 400.0, "CHF": 200.0}        # never added together
    assert money_totals(todo.savings_by_currency, "EUR", "en") == ["€400.00", "CHF200.00"]
    assert [r.product_id for r in select(rows, FixQuery(status=("done",))).rows] == ["P13"]
    assert [r.phase for r in select(rows, FixQuery(status=("measuring",))).rows] == ["measuring"]
    assert [r.product_id for r in select(rows, FixQuery(search="coat")).rows] == ["P11"]   # by title
    assert [r.product_id for r in select(rows, FixQuery(search="p12")).rows] == ["P12"]    # by id
    assert [r.product_id for r in select(rows, FixQuery(lever="runs_small")).rows] == ["P10", "P12"]
    assert [r.product_id for r in select(rows, FixQuery(status=("all",), sort="sales")).rows] == \
        ["P10", "P12", "P13", "P11"]
    assert [r.product_id for r in select(rows, FixQuery(sort="title")).rows] == ["P10", "P12", "P11"]
    assert [r.product_id for r in select(rows, FixQuery(sort="savings", descending=False)).rows] == \
        ["P12", "P11", "P10"]
    page = select(rows, FixQuery(status=("all",), offset=1, limit=2))
    assert (page.total, [r.product_id for r in page.rows]) == (4, ["P11", "P12"])
    assert select(rows, FixQuery(sort="effect")).total == 3       # no effect yet: still listed, last

    text = fixes_csv(page.rows, "fr")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["produit"] for r in table] == ["P11", "P12"]
    assert [r["correction"] for r in table] == ["Améliorer les photos", "Taille petit"]
    assert [r["devise"] for r in table] == ["CHF", "EUR"] and table[1]["taille"] == "W32/L34"
    assert [r["ventes derrière le constat"] for r in table] == ["50", "400"]
    with pytest.raises(Exception, match="sort 'price' is not one of"):
        FixQuery(sort="price")


def test_money_is_formatted_per_language_and_urls_are_checked():
    assert money(1234.56, "EUR", "fr").replace("\u202f", " ").replace("\xa0", " ") == "1 234,56 €"
    assert money(1234.56, "EUR", "en") == "€1,234.56"
    assert money(1234.56, "USD", "fr", whole=True).replace("\u202f", " ").replace("\xa0", " ") == "1 235 $US"
    assert percent(-0.0123, "fr", signed=True).replace("\xa0", " ") == "−1,2 %"
    assert safe_url("javascript:alert(1)") is None and safe_url("https://shop.example/p1") == "https://shop.example/p1"
    assert safe_url("/relative") is None and safe_url(None) is None
