"""The returns store: idempotency, conflicts, refunds, durability, concurrency; export in the contract."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import ORDER_LINES, write_shop
from returnrisk.data.contract import RETURNS
from returnrisk.data.loader import load_shop
from returnrisk.errors import InputError
from returnrisk.operations.export import export_returns, stored_returns_table
from returnrisk.operations.sources import DataUnavailable, ShopSource, resolve_data_dir
from returnrisk.operations.store import (
    TABLE_NAME,
    RefundEvent,
    ReturnConflict,
    ReturnEvent,
    ReturnNotRecorded,
    ReturnStore,
)
from returnrisk.reasons.fill import default_reason_filler

UTC = timezone.utc


@pytest.fixture
def store(db_url):
    """The store on an empty database of each backend (SQLite file; PostgreSQL, see conftest.db_url)."""
    s = ReturnStore(db_url)
    s.prepare()
    yield s
    s.dispose()


def event(line="L1", at="2025-03-09T10:00:00Z", channel="form", **kw):
    return ReturnEvent(line, pd.Timestamp(at), channel, **{"reason_code": "too_small", **kw})


def test_the_same_event_twice_is_one_return(store):
    first = store.record(event())
    again = store.record(event(at="2025-03-09T11:00:00+01:00"))  # the same instant, another offset
    assert (first.status, again.status) == ("created", "unchanged")
    assert store.count() == 1
    assert again.record == first.record
    assert first.record.returned_at == datetime(2025, 3, 9, 10, tzinfo=UTC)


def test_a_repeat_from_another_channel_is_the_same_return_and_keeps_the_first_channel(store):
    store.record(event(channel="portal"))
    again = store.record(event(channel="email"))
    assert again.status == "unchanged"
    assert again.record.channel == "portal"
    assert store.count() == 1


def test_a_conflicting_event_is_refused_and_names_every_difference(store):
    store.record(event(reason_text="trop petit"))
    with pytest.raises(ReturnConflict) as caught:
        store.record(event(at="2025-03-10T10:00:00Z", reason_code="too_large", reason_text="trop petit"))
    fields = [d.field for d in caught.value.differences]
    assert fields == ["returned_at", "reason_code"]
    message = str(caught.value)
    assert "returned_at: recorded 2025-03-09T10:00:00Z, sent 2025-03-10T10:00:00Z" in message
    assert "reason_code: recorded 'too_small', sent 'too_large'" in message
    kept = store.get("L1")
    assert kept.reason_code == "too_small" and kept.returned_at == datetime(2025, 3, 9, 10, tzinfo=UTC)
    assert store.count() == 1


def test_a_repeat_may_add_the_refund_but_not_change_it(store):
    store.record(event())
    added = store.record(event(refunded_at=pd.Timestamp("2025-03-11T08:00:00Z"), return_cost=7.5))
    assert added.status == "updated"
    assert added.record.refunded_at == datetime(2025, 3, 11, 8, tzinfo=UTC) and added.record.return_cost == 7.5
    assert store.record(event(refunded_at=pd.Timestamp("2025-03-11T08:00:00Z"))).status == "unchanged"
    with pytest.raises(ReturnConflict) as caught:
        store.record(event(refunded_at=pd.Timestamp("2025-03-12T08:00:00Z"), return_cost=9.0))
    assert [d.field for d in caught.value.differences] == ["refunded_at", "return_cost"]
    assert store.get("L1").return_cost == 7.5


def test_refunds_are_idempotent_and_validated(store):
    with pytest.raises(ReturnNotRecorded, match="no return is recorded for line 'L1'"):
        store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-11T00:00:00Z")))
    store.record(event())
    with pytest.raises(ValueError, match="refunded_at 2025-03-08T00:00:00Z is before the return's returned_at"):
        store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-08T00:00:00Z")))
    done = store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-11T00:00:00Z"), 6.0))
    assert done.status == "updated" and done.record.refunded_at == datetime(2025, 3, 11, tzinfo=UTC)
    assert store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-11T00:00:00Z"), 6.0)).status == "unchanged"
    assert store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-11T01:00:00+01:00"))).status == "unchanged"
    with pytest.raises(ReturnConflict, match="different refund"):
        store.record_refund(RefundEvent("L1", pd.Timestamp("2025-03-12T00:00:00Z")))
    with pytest.raises(ValueError, match="return_cost -1.0 is negative"):
        RefundEvent("L1", pd.Timestamp("2025-03-12T00:00:00Z"), -1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(reason_code="bad"), "reason_code 'bad' is not in the taxonomy"),
    (dict(channel="fax"), "channel 'fax' is not one of portal, email, api, import, webhook, form, other"),
    (dict(refunded_at=pd.Timestamp("2025-03-01T00:00:00Z")), "is before returned_at"),
    (dict(return_cost=-2.0), "return_cost -2.0 is negative"),
    (dict(line=""), "line_id is empty"),
])
def test_malformed_events_are_refused_before_anything_is_written(store, kwargs, message):
    kwargs = dict(kwargs)   # the parameter is shared by both backends: do not consume it
    line = kwargs.pop("line", "L1")
    channel = kwargs.pop("channel", "form")
    with pytest.raises(ValueError, match=message):
        ReturnEvent(line, pd.Timestamp("2025-03-09T10:00:00Z"), channel, **{"reason_code": "too_small", **kwargs})
    assert store.count() == 0


def test_returns_survive_a_new_store_on_the_same_database(db_url):
    url = db_url
    first = ReturnStore(url)
    first.record(event(reason_code=None, reason_text="colis abîmé", reason_code_inferred="damaged",
                       reason_confidence=0.91))
    first.dispose()
    second = ReturnStore(url)
    stored = second.get("L1")
    assert (stored.reason_code, stored.reason_code_inferred, stored.reason_confidence) == (None, "damaged", 0.91)
    assert stored.reason == "damaged" and stored.to_dict()["reason_source"] == "inferred"
    second.dispose()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"select count(*) from {TABLE_NAME}")).scalar_one() == 1
    engine.dispose()


def test_concurrent_duplicates_and_conflicts_never_lose_or_duplicate_a_return(store):
    outcomes: list[str] = []
    lock = threading.Lock()

    def post(ev):
        try:
            status = store.record(ev).status
        except ReturnConflict:
            status = "conflict"
        with lock:
            outcomes.append(status)

    same = [event(line="L7") for _ in range(8)]
    other = [event(line="L7", at="2025-03-10T10:00:00Z") for _ in range(4)]
    threads = [threading.Thread(target=post, args=(ev,)) for ev in same + other]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 1
    assert outcomes.count("created") == 1
    stored = store.get("L7")
    # whichever event won, every other one is either a repeat of it or a conflict with it
    if stored.returned_at == datetime(2025, 3, 9, 10, tzinfo=UTC):
        assert outcomes.count("unchanged") == 7 and outcomes.count("conflict") == 4
    else:
        assert outcomes.count("unchanged") == 3 and outcomes.count("conflict") == 8


def test_an_invalid_database_url_says_what_to_use():
    with pytest.raises(ValueError, match="is not a SQLAlchemy URL"):
        ReturnStore("not a url")


# ---- export --------------------------------------------------------------------------------------
def test_export_writes_exactly_the_contract_columns(store, tmp_path):
    store.record(event(line="L2", refunded_at=pd.Timestamp("2025-03-11T00:00:00Z"), return_cost=7.25))
    store.record(event(line="L3", reason_code=None, reason_text="trop petit", reason_code_inferred="too_small",
                       reason_confidence=0.8))
    result = export_returns(store, tmp_path / "out")
    written = pd.read_csv(result.path, dtype=str, keep_default_na=False)
    assert list(written.columns) == RETURNS.names
    assert written.to_dict("records") == [
        {"line_id": "L2", "returned_at": "2025-03-09T10:00:00Z", "reason_code": "too_small", "reason_text": "",
         "refunded_at": "2025-03-11T00:00:00Z", "return_cost": "7.25", "quantity": "", "return_id": "line:L2"},
        # text only: the code stays empty so that loading infers it (and records it as inferred)
        {"line_id": "L3", "returned_at": "2025-03-09T10:00:00Z", "reason_code": "", "reason_text": "trop petit",
         "refunded_at": "", "return_cost": "", "quantity": "", "return_id": "line:L3"},
    ]
    assert result.n_stored == result.n_written == 2


def test_merged_export_is_a_complete_shop_where_stored_returns_win(store, tmp_path):
    shop_dir = write_shop(tmp_path / "shop")
    # L2 is in the shop's file (too_large); the stored return replaces it. L4 is new, text only.
    store.record(event(line="L2", at="2025-03-09T00:00:00Z", reason_code="too_small"))
    store.record(event(line="L4", at="2025-03-12T09:30:00Z", reason_code=None, reason_text="arrived broken",
                       reason_code_inferred="damaged", reason_confidence=0.99))
    out = tmp_path / "merged"
    result = export_returns(store, out, merge_with=shop_dir)
    assert (result.n_shop, result.n_replaced, result.n_stored, result.n_written) == (3, 1, 2, 4)
    assert sorted(result.copied) == ["order_lines.csv", "products.csv"]
    assert result.unknown_lines == 0
    shop = load_shop(out, reason_filler=default_reason_filler())
    assert shop.problems == []
    returns = shop.returns.set_index("line_id")
    assert sorted(returns.index) == ["L2", "L3", "L4", "L5"]
    assert returns.loc["L2", "reason_code"] == "too_small" and returns.loc["L2", "reason_source"] == "given"
    assert pd.isna(returns.loc["L2", "return_cost"])  # the stored return replaced the whole row
    assert returns.loc["L4", "reason_code"] == "damaged" and returns.loc["L4", "reason_source"] == "inferred"
    assert returns.loc["L4", "returned_at"] == pd.Timestamp("2025-03-12T09:30:00Z")
    assert returns.loc["L3", "refunded_at"] == pd.Timestamp("2025-03-12T00:00:00Z")  # shop rows kept as they were


def test_merge_reports_stored_returns_of_unknown_lines_and_refuses_the_shop_folder(store, tmp_path):
    shop_dir = write_shop(tmp_path / "shop")
    store.record(event(line="L99"))
    result = export_returns(store, tmp_path / "merged", merge_with=shop_dir)
    assert result.unknown_lines == 1 and result.n_written == 4
    with pytest.raises(InputError, match="is the shop folder itself"):
        export_returns(store, shop_dir, merge_with=shop_dir)
    with pytest.raises(InputError, match="does not exist"):
        export_returns(store, tmp_path / "x", merge_with=tmp_path / "missing")


def test_stored_table_is_empty_but_well_formed_without_returns(store):
    table = stored_returns_table(store)
    assert list(table.columns) == RETURNS.names and table.empty


# ---- the shop behind the service ----------------------------------------------------------------------
def test_shop_source_reloads_when_the_files_change_and_never_writes_into_them(tmp_path):
    shop_dir = write_shop(tmp_path / "shop")
    source = ShopSource(shop_dir, recheck_seconds=0)
    first = source.get()
    assert first.n_lines == 5 and first.line_ordered_at("L6") is None
    assert first.line_ordered_at("L5") == pd.Timestamp("2025-03-04T07:00:00Z")
    assert source.get() is first  # unchanged files: the same load
    (shop_dir / "order_lines.csv").write_text(ORDER_LINES + "L6,O5,C4,P2,W32,1,69.00,2025-04-30T12:00:00Z\n")
    second = source.get()
    assert second is not first and second.line_ordered_at("L6") == pd.Timestamp("2025-04-30T12:00:00Z")
    assert not (shop_dir / ".returnrisk").exists()


def test_the_shop_folder_is_the_setting_else_the_models_data(tmp_path):
    shop_dir = write_shop(tmp_path / "shop")
    assert resolve_data_dir(str(shop_dir), {"data_dir": "/elsewhere"}) == shop_dir
    assert resolve_data_dir(None, {"data_dir": str(shop_dir)}) == shop_dir
    with pytest.raises(DataUnavailable, match="RETURNRISK_DATA_DIR=.*missing does not exist"):
        resolve_data_dir(str(tmp_path / "missing"), None)
    with pytest.raises(DataUnavailable, match="trained on .*gone, which does not exist here"):
        resolve_data_dir(None, {"data_dir": str(tmp_path / "gone")})
    with pytest.raises(DataUnavailable, match="no shop data: set RETURNRISK_DATA_DIR"):
        resolve_data_dir(None, {})
