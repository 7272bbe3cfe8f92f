"""Partial returns in the returns store (issue 13, defect 6): return_id idempotency, quantities,
over-returns refused, returns without a reason, dates refused, migration 0002 — on SQLite, and on
PostgreSQL (``db_url`` of conftest.py: ``RETURNRISK_TEST_POSTGRES_URL``, required when
``RETURNRISK_REQUIRE_POSTGRES=1``)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from conftest import write_shop
from returnrisk.data.loader import load_shop
from returnrisk.db import migrate, upgrade
from returnrisk.db.schema import RETURNS_TABLE, VERSION_TABLE
from returnrisk.operations.export import export_returns
from returnrisk.operations.return_events import DERIVED_PREFIX
from returnrisk.operations.store import (
    InvalidReturn,
    OverReturn,
    RefundEvent,
    ReturnConflict,
    ReturnEvent,
    ReturnIdRequired,
    ReturnNotRecorded,
    ReturnStore,
    derived_return_id,
)

UTC = timezone.utc
BEFORE_MIGRATIONS = Path(__file__).with_name("fixtures") / "returns-before-migrations.db"


@pytest.fixture
def store(db_url):
    s = ReturnStore(db_url)
    s.prepare()
    yield s
    s.dispose()


def ev(line="L6", at="2025-03-10T10:00:00Z", channel="api", **kw):
    return ReturnEvent(line, pd.Timestamp(at), channel, **kw)


# ---- return_id is the idempotency key ---------------------------------------------------------------
def test_parts_of_a_line_each_have_their_id_and_sum_to_at_most_the_line(store):
    first = store.record(ev(return_id="R1", quantity=2), ordered_quantity=5)
    second = store.record(ev(at="2025-03-12T10:00:00Z", return_id="R2", quantity=2, reason_code="too_small"),
                          ordered_quantity=5)
    assert (first.status, second.status) == ("created", "created")
    assert (first.record.return_id, first.record.quantity) == ("R1", 2)
    with pytest.raises(OverReturn) as refused:
        store.record(ev(at="2025-03-14T10:00:00Z", return_id="R3", quantity=2), ordered_quantity=5)
    assert str(refused.value).startswith("line 'L6' was ordered 5 units, 4 already returned; this return asks 2: "
                                         "at most 1 can still come back — send quantity ≤ 1")
    assert refused.value.code == "over_returned"
    assert refused.value.details == {"ordered": 5, "already_returned": 4, "asked": 2, "remaining": 1}
    with pytest.raises(OverReturn, match="asks the whole line, 5: at most 1"):
        store.record(ev(at="2025-03-14T10:00:00Z", return_id="R4"), ordered_quantity=5)
    assert store.get("L6", "R3") is None and store.count() == 2
    assert store.record(ev(at="2025-03-14T10:00:00Z", return_id="R3", quantity=1),
                        ordered_quantity=5).status == "created"
    assert [r.return_id for r in store.returns_of("L6")] == ["R1", "R2", "R3"]


def test_same_id_same_content_is_unchanged_a_refund_is_added_a_contradiction_is_409(store):
    store.record(ev(return_id="R1", quantity=2, reason_text="trop petit"), ordered_quantity=5)
    again = store.record(ev(at="2025-03-10T11:00:00+01:00", channel="webhook", return_id="R1", quantity=2,
                            reason_text="trop petit"), ordered_quantity=5)
    assert again.status == "unchanged" and again.record.channel == "api"
    added = store.record(ev(return_id="R1", quantity=2, reason_text="trop petit",
                            refunded_at=pd.Timestamp("2025-03-11T00:00:00Z"), return_cost=4.0), ordered_quantity=5)
    assert added.status == "updated" and added.record.return_cost == 4.0
    with pytest.raises(ReturnConflict) as caught:
        store.record(ev(return_id="R1", quantity=3, reason_text="trop grand"), ordered_quantity=5)
    assert caught.value.code == "return_conflict"
    assert [d.field for d in caught.value.differences] == ["reason_text", "quantity"]
    message = str(caught.value)
    assert "return 'R1' of line 'L6' is already recorded with other values" in message
    assert "quantity: recorded 2, sent 3" in message and "send another return_id for another return" in message
    assert store.count() == 1 and store.get("L6", "R1").quantity == 2


def test_the_same_id_on_another_line_is_another_event(store):
    """One return (a parcel) may cover several lines: (line_id, return_id) is the key."""
    assert store.record(ev(line="L1", return_id="R9"), ordered_quantity=1).status == "created"
    assert store.record(ev(line="L2", return_id="R9"), ordered_quantity=1).status == "created"
    assert store.count() == 2


def test_without_return_id_a_line_keeps_one_return_as_before(store):
    first = store.record(ev(line="L1", reason_code="too_small"), ordered_quantity=1)
    assert first.status == "created" and first.record.return_id == derived_return_id("L1") == "line:L1"
    assert first.record.quantity is None  # the whole line
    assert store.record(ev(line="L1", reason_code="too_small"), ordered_quantity=1).status == "unchanged"
    with pytest.raises(ReturnConflict) as caught:
        store.record(ev(line="L1", at="2025-03-11T10:00:00Z", reason_code="too_small"), ordered_quantity=1)
    assert "a different return is already recorded for line 'L1' (return_id 'line:L1')" in str(caught.value)
    assert "send it with its own return_id and its quantity" in str(caught.value)
    # a line whose one return came with the platform's id: an id-less repeat is that return
    store.record(ev(line="L7", return_id="gid://shopify/Return/5", quantity=1), ordered_quantity=3)
    repeat = store.record(ev(line="L7", quantity=1), ordered_quantity=3)
    assert repeat.status == "unchanged" and repeat.record.return_id == "gid://shopify/Return/5"


def test_without_return_id_a_line_with_several_returns_must_match_one(store):
    store.record(ev(return_id="R1", quantity=2), ordered_quantity=5)
    store.record(ev(at="2025-03-12T10:00:00Z", return_id="R2", quantity=1), ordered_quantity=5)
    same = store.record(ev(at="2025-03-12T10:00:00Z", quantity=1), ordered_quantity=5)
    assert same.status == "unchanged" and same.record.return_id == "R2"
    with pytest.raises(ReturnConflict, match="If this is another return of the same line"):
        store.record(ev(at="2025-03-13T10:00:00Z", quantity=1), ordered_quantity=5)
    assert store.count() == 2


def test_a_whole_line_and_its_ordered_quantity_are_the_same_return(store):
    store.record(ev(return_id="R1"), ordered_quantity=3)
    assert store.record(ev(return_id="R1", quantity=3), ordered_quantity=3).status == "unchanged"
    with pytest.raises(ReturnConflict, match="quantity: recorded the whole line, sent 2"):
        store.record(ev(return_id="R1", quantity=2), ordered_quantity=3)


def test_returns_of_the_shops_own_file_count_towards_the_line(store):
    outside = {"S1": 3}  # the shop's returns file already has 3 units back under its return id S1
    with pytest.raises(OverReturn, match="3 already returned; this return asks 3: at most 2"):
        store.record(ev(return_id="R1", quantity=3), ordered_quantity=5, outside=outside)
    assert store.record(ev(return_id="R1", quantity=2), ordered_quantity=5, outside=outside).status == "created"
    # the same return recorded in the store too (same id): counted once
    assert store.record(ev(line="L8", return_id="S1", quantity=3), ordered_quantity=5,
                        outside={"S1": 3}).status == "created"
    assert store.record(ev(line="L8", return_id="S2", quantity=2), ordered_quantity=5,
                        outside={"S1": 3}).status == "created"


def test_parts_sent_at_once_never_exceed_the_line(store):
    outcomes, lock = [], threading.Lock()

    def post(i):
        try:
            status = store.record(ev(line="L9", return_id=f"R{i}", quantity=2), ordered_quantity=5).status
        except OverReturn:
            status = "over"
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] * 2 + ["over"] * 6
    assert sum(r.quantity for r in store.returns_of("L9")) == 4


def test_a_refund_names_its_return_when_the_line_has_several(store):
    store.record(ev(return_id="R1", quantity=2), ordered_quantity=5)
    assert store.record_refund(RefundEvent("L6", pd.Timestamp("2025-03-11T00:00:00Z"))).status == "updated"
    store.record(ev(at="2025-03-12T10:00:00Z", return_id="R2", quantity=1), ordered_quantity=5)
    with pytest.raises(ReturnIdRequired) as ambiguous:
        store.record_refund(RefundEvent("L6", pd.Timestamp("2025-03-13T00:00:00Z")))
    assert ambiguous.value.code == "return_id_required" and ambiguous.value.details == {"return_ids": ["R1", "R2"]}
    assert "line 'L6' has 2 returns — 'R1' (2025-03-10T10:00:00Z, 2 units), 'R2'" in str(ambiguous.value)
    done = store.record_refund(RefundEvent("L6", pd.Timestamp("2025-03-13T00:00:00Z"), 3.0, return_id="R2"))
    assert done.status == "updated" and done.record.return_id == "R2" and done.record.return_cost == 3.0
    with pytest.raises(ReturnNotRecorded, match="line 'L6' has no return 'R7' \\(its returns: R1, R2\\)"):
        store.record_refund(RefundEvent("L6", pd.Timestamp("2025-03-13T00:00:00Z"), return_id="R7"))
    assert store.get("L6", "R1").refunded_at == datetime(2025, 3, 11, tzinfo=UTC)


def test_a_return_without_a_reason_is_valid(store):
    record = store.record(ev(line="L3"), ordered_quantity=1).record
    assert (record.reason_code, record.reason_text, record.reason) == (None, None, None)
    assert record.to_dict()["reason_source"] == "none"


@pytest.mark.parametrize("value, message", [
    ("9999-12-31", "returned_at 9999-12-31 is outside the dates returnrisk can store (1677-09-22 … 2262-04-11)"),
    ("0001-01-01", "returned_at 0001-01-01 is outside the dates"),
    ("2200-01-01", "returned_at 2200-01-01T00:00:00Z is in the future"),
])
def test_impossible_dates_are_refused(store, value, message):
    with pytest.raises(InvalidReturn, match=re.escape(message)):
        ev(at=value)
    with pytest.raises(InvalidReturn, match=re.escape(message.replace("returned_at", "refunded_at"))):
        RefundEvent("L6", pd.Timestamp(value))
    tomorrow = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=20)   # clocks differ: up to a day ahead is fine
    assert store.record(ev(at=tomorrow.isoformat())).status == "created"


# ---- into training ----------------------------------------------------------------------------------------
def test_exported_parts_load_as_one_returned_line_with_its_units(store, tmp_path):
    shop_dir = write_shop(tmp_path / "shop")
    lines = (shop_dir / "order_lines.csv").read_text().replace("L4,O3,C3,P3,,2,89.00", "L4,O3,C3,P3,,5,89.00")
    (shop_dir / "order_lines.csv").write_text(lines)
    (shop_dir / "returns.csv").write_text(
        "line_id,returned_at,reason_code,reason_text,refunded_at,return_cost,quantity,return_id\n"
        "L2,2025-03-09,too_large,,2025-03-11,7.50,,\n"                      # replaced: the store has L2
        "L4,2025-03-08,damaged,,,,1,S1\n"                                   # another part of L4: kept
        "L5,2025-03-15,changed_mind,,,,,\n")
    store.record(ev(line="L2", at="2025-03-09T00:00:00Z", reason_code="too_small"), ordered_quantity=1)
    store.record(ev(line="L4", at="2025-03-10T08:00:00Z", return_id="R1", quantity=2, reason_code="damaged"),
                 ordered_quantity=5, outside={"S1": 1})
    store.record(ev(line="L4", at="2025-03-12T08:00:00Z", return_id="R2", quantity=2), ordered_quantity=5,
                 outside={"S1": 1})
    result = export_returns(store, tmp_path / "merged", merge_with=shop_dir)
    assert (result.n_shop, result.n_replaced, result.n_stored, result.n_written) == (3, 1, 3, 5)
    written = pd.read_csv(result.path, dtype=str, keep_default_na=False)
    assert written[["line_id", "quantity", "return_id"]].values.tolist() == [
        ["L4", "1", "S1"], ["L5", "", ""], ["L2", "", "line:L2"], ["L4", "2", "R1"], ["L4", "2", "R2"]]
    shop = load_shop(tmp_path / "merged")
    assert shop.problems == []
    l4 = shop.returns.set_index("line_id").loc["L4"]
    assert (l4["quantity"], l4["n_parts"], l4["return_id"]) == (5, 3, "S1")
    assert shop.returns.set_index("line_id").loc["L2", "reason_code"] == "too_small"
    assert sorted(shop.return_events.loc[shop.return_events["line_id"] == "L4", "quantity"]) == [1, 2, 2]


# ---- migration 0002 -------------------------------------------------------------------------------------------
def test_the_derived_id_of_the_migration_is_the_stores():
    path = next((migrate.MIGRATIONS / "versions").glob("0002_*.py"))
    spec = importlib.util.spec_from_file_location("m0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DERIVED_PREFIX == DERIVED_PREFIX and module.down_revision == "0001"


def _raw_rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.text(f"select * from {RETURNS_TABLE} order by line_id"))]
    engine.dispose()
    return out


def test_a_database_made_before_migrations_keeps_every_return(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(BEFORE_MIGRATIONS, path)
    url = f"sqlite:///{path}"
    before = _raw_rows(url)
    assert upgrade(url).after == migrate.head_revision()
    after = _raw_rows(url)
    assert after == [{**r, "return_id": f"line:{r['line_id']}", "quantity": None} for r in before]
    store = ReturnStore(url)
    # an old client repeating its event (no return_id) meets the migrated return
    assert store.record(ev(line="L2", at="2025-03-09T10:00:00Z", channel="form", reason_code="too_large",
                           refunded_at=pd.Timestamp("2025-03-11T00:00:00Z")), ordered_quantity=1).status == "unchanged"
    with pytest.raises(OverReturn, match="line 'L2' was ordered 1 unit, 1 already returned"):
        store.record(ev(line="L2", at="2025-03-12T10:00:00Z", return_id="R2"), ordered_quantity=1)
    store.dispose()


def _downgrade(url: str, revision: str) -> None:
    with migrate._migration_connection(url) as connection:
        command.downgrade(migrate._config(connection), revision)


def test_a_database_at_0001_with_returns_upgrades_and_downgrades(db_url):
    assert upgrade(db_url, "0001").after == "0001"
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        for line, at in (("L1", "2025-03-01 10:00:00"), ("L2", "2025-03-02 11:00:00")):
            conn.execute(sa.text(
                f"insert into {RETURNS_TABLE} (line_id, returned_at, reason_code, reason_review, channel, "
                "recorded_at, updated_at) values (:l, :t, 'too_small', false, 'form', :t, :t)"), {"l": line, "t": at})
    assert upgrade(db_url).after == migrate.head_revision()
    store = ReturnStore(db_url)
    records = list(store.iter_all())
    assert [(r.line_id, r.return_id, r.quantity, r.reason_code) for r in records] == [
        ("L1", "line:L1", None, "too_small"), ("L2", "line:L2", None, "too_small")]
    assert records[0].returned_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    store.dispose()
    _downgrade(db_url, "0001")   # one whole return per line: the old table holds them
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"select count(*) from {RETURNS_TABLE}")).scalar_one() == 2
    upgrade(db_url)
    store = ReturnStore(db_url)
    store.record(ev(line="L1", at="2025-03-05T10:00:00Z", return_id="R2", quantity=1))
    store.dispose()
    with pytest.raises(RuntimeError, match="1 lines have several returns and 1 returns have a quantity"):
        _downgrade(db_url, "0001")
    engine.dispose()
