"""The operations API: POST/PATCH/GET /v1/returns, GET /v1/kpis, GET /v1/forecast — and the round trip
of recorded returns into training."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from returnrisk.data.loader import load_shop
from returnrisk.features.build import build_training_frame
from returnrisk.model.bundle import ServingBundle
from returnrisk.operations.export import export_returns
from returnrisk.operations.kpis import compute_kpis
from returnrisk.operations.store import TABLE_NAME, ReturnStore
from returnrisk.reasons.fill import default_reason_filler
from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

KEY = {"Authorization": "Bearer merchant-key"}


def make_app(bundle, db: Path, *, data_dir: Path | None = None):
    settings = Settings(_env_file=None, merchant_api_keys=["merchant-key"], public_api_keys=["public-key"],
                        returns_db_url=f"sqlite:///{db}", data_dir=str(data_dir) if data_dir else None)
    info = {"version": "7", "alias": "champion", "uri": "models:/returnrisk/7", "run_id": None}
    return create_app(settings, loader=lambda: (bundle, info))


@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle()


@pytest.fixture(scope="module")
def served(bundle, tmp_path_factory):
    """One service on the trained model; its shop is the model's training data (demo_train)."""
    db = tmp_path_factory.mktemp("returns-db") / "returns.db"
    with TestClient(make_app(bundle, db)) as client:
        client.db = db
        yield client


@pytest.fixture(scope="module")
def train_lines(trained):
    lines = pd.read_csv(trained.data / "order_lines.csv", dtype=str, keep_default_na=False)
    returns = pd.read_csv(trained.data / "returns.csv", dtype=str, keep_default_na=False)
    return lines[~lines["line_id"].isin(returns["line_id"])].reset_index(drop=True)


def rows_in_db(db: Path, line_id: str | None = None) -> int:
    query = f"select count(*) from {TABLE_NAME}" + (" where line_id = :l" if line_id else "")
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        return conn.execute(sa.text(query), {"l": line_id}).scalar_one()


def body(line_id, **kw):
    return {"line_id": line_id, "returned_at": "2026-09-20T10:00:00Z", "reason_code": "too_small",
            "channel": "portal", **kw}


# ---- recording ----------------------------------------------------------------------------------
def test_returns_need_the_merchant_key(served, train_lines):
    line = train_lines.loc[0, "line_id"]
    assert served.post("/v1/returns", json=body(line)).status_code == 401
    assert served.post("/v1/returns", json=body(line),
                       headers={"Authorization": "Bearer public-key"}).json()["code"] == "invalid_key"
    assert served.patch(f"/v1/returns/{line}", json={"refunded_at": "2026-09-21"}).status_code == 401
    assert served.get(f"/v1/returns/{line}").status_code == 401
    assert rows_in_db(served.db, line) == 0


def test_the_table_is_created_when_the_service_starts(bundle, tmp_path):
    db = tmp_path / "fresh.db"
    with TestClient(make_app(bundle, db)):
        assert sa.inspect(sa.create_engine(f"sqlite:///{db}")).has_table(TABLE_NAME)


def test_the_service_refuses_to_start_without_a_usable_database(bundle, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OperationalError), TestClient(make_app(bundle, blocker / "returns.db")):
        pass


def test_duplicates_are_one_return_and_conflicts_are_409(served, train_lines):
    line = train_lines.loc[1, "line_id"]
    first = served.post("/v1/returns", json=body(line, reason_text="trop petit", return_cost=6.4), headers=KEY)
    assert first.status_code == 201
    created = first.json()
    assert (created["status"], created["reason"], created["reason_source"], created["return_cost"]) == \
        ("created", "too_small", "given", 6.4)
    # the same event, again and with the same instant written in another offset
    again = served.post("/v1/returns", json=body(line, reason_text="trop petit", return_cost=6.4,
                                                 returned_at="2026-09-20T12:00:00+02:00"), headers=KEY)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert again.json()["recorded_at"] == created["recorded_at"]
    conflict = served.post("/v1/returns", json=body(line, reason_code="too_large", reason_text="trop petit",
                                                    returned_at="2026-09-21T10:00:00Z"), headers=KEY)
    assert conflict.status_code == 409
    answer = conflict.json()
    assert answer["code"] == "return_conflict"
    assert [d["field"] for d in answer["differences"]] == ["returned_at", "reason_code"]
    assert answer["differences"][0] == {"field": "returned_at", "recorded": "2026-09-20T10:00:00Z",
                                        "sent": "2026-09-21T10:00:00Z"}
    assert "reason_code: recorded 'too_small', sent 'too_large'" in answer["detail"]
    assert answer["recorded"]["reason_code"] == "too_small"
    assert rows_in_db(served.db, line) == 1
    assert served.get(f"/v1/returns/{line}", headers=KEY).json()["returned_at"] == "2026-09-20T10:00:00Z"


def test_text_only_returns_get_an_inferred_code_with_confidence(served, train_lines):
    line = train_lines.loc[2, "line_id"]
    answer = served.post("/v1/returns", json=body(line, reason_code=None, reason_text="trop petit, je dois prendre "
                                                  "la taille au-dessus", channel="email"), headers=KEY).json()
    assert (answer["reason_code"], answer["reason_code_inferred"], answer["reason"]) == (None, "too_small", "too_small")
    assert answer["reason_source"] == "inferred" and answer["reason_confidence"] > 0.5
    assert answer["reason_review"] is False
    unclear = served.post("/v1/returns", json=body(train_lines.loc[3, "line_id"], reason_code=None,
                                                   reason_text="?!"), headers=KEY).json()
    assert (unclear["reason_code_inferred"], unclear["reason_review"], unclear["reason_confidence"]) == \
        ("other", True, 0.0)


@pytest.mark.parametrize("payload, field, message", [
    ({"returned_at": "yesterday"}, "returned_at", "'yesterday' is not an ISO 8601 timestamp"),
    ({"returned_at": 1_760_000_000}, "returned_at", "is not an ISO 8601 timestamp"),
    ({"reason_code": "too_tight"}, "reason_code", "'too_tight' is not in the taxonomy"),
    ({"channel": "fax"}, "channel", "Input should be 'portal', 'email', 'api', 'import', 'webhook', 'form' or 'other'"),
    ({"returned_at": "9999-12-31T00:00:00Z"}, "returned_at", "returned_at 9999-12-31 is outside the dates"),
    ({"refunded_at": "2026-09-19T00:00:00Z"}, "body", "refunded_at 2026-09-19T00:00:00Z is before returned_at"),
    ({"return_cost": -3}, "return_cost", "greater than or equal to 0"),
    ({"reason": "too_small"}, "reason", "Extra inputs are not permitted"),
])
def test_malformed_events_are_422_and_store_nothing(served, train_lines, payload, field, message):
    line = train_lines.loc[10, "line_id"]
    answer = served.post("/v1/returns", json={**body(line), **payload}, headers=KEY)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    assert rows_in_db(served.db, line) == 0


def test_missing_fields_and_broken_json_store_nothing(served, train_lines):
    line = train_lines.loc[11, "line_id"]
    missing = served.post("/v1/returns", json={"line_id": line, "reason_code": "too_small"}, headers=KEY)
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"returned_at", "channel"}
    broken = served.post("/v1/returns", content=b'{"line_id": "' + line.encode() + b'", ',
                         headers={**KEY, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["code"] == "malformed_json"
    assert rows_in_db(served.db, line) == 0


def test_unknown_lines_are_404_and_returns_before_the_order_are_422(served, train_lines, trained):
    answer = served.post("/v1/returns", json=body("L-NOT-A-LINE"), headers=KEY)
    assert answer.status_code == 404 and answer.json()["code"] == "line_not_found"
    assert "line_id 'L-NOT-A-LINE' is not an order line of the shop (60,000 lines" in answer.json()["detail"]
    line = train_lines.iloc[-1]
    early = served.post("/v1/returns", json=body(line["line_id"], returned_at="2024-01-01T00:00:00Z"), headers=KEY)
    assert early.status_code == 422 and early.json()["code"] == "returned_before_ordered"
    assert "before the line's ordered_at" in early.json()["detail"]
    assert rows_in_db(served.db, "L-NOT-A-LINE") == 0 and rows_in_db(served.db, line["line_id"]) == 0


def test_refunds_through_patch(served, train_lines):
    line = train_lines.loc[20, "line_id"]
    url = f"/v1/returns/{line}"
    not_yet = served.patch(url, json={"refunded_at": "2026-09-22T08:00:00Z"}, headers=KEY)
    assert not_yet.status_code == 404 and not_yet.json()["code"] == "return_not_found"
    assert "POST /v1/returns" in not_yet.json()["detail"]
    assert served.post("/v1/returns", json=body(line), headers=KEY).status_code == 201
    early = served.patch(url, json={"refunded_at": "2026-09-19T08:00:00Z"}, headers=KEY)
    assert early.status_code == 422 and early.json()["code"] == "refunded_before_returned"
    done = served.patch(url, json={"refunded_at": "2026-09-22T08:00:00Z", "return_cost": 8.1}, headers=KEY)
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["refunded_at"], done.json()["return_cost"]) == \
        ("updated", "2026-09-22T08:00:00Z", 8.1)
    again = served.patch(url, json={"refunded_at": "2026-09-22T10:00:00+02:00"}, headers=KEY)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    other = served.patch(url, json={"refunded_at": "2026-09-23T08:00:00Z"}, headers=KEY)
    assert other.status_code == 409 and other.json()["code"] == "refund_conflict"
    assert other.json()["differences"] == [{"field": "refunded_at", "recorded": "2026-09-22T08:00:00Z",
                                            "sent": "2026-09-23T08:00:00Z"}]
    bad = served.patch(url, json={"refunded_at": "soon"}, headers=KEY)
    assert bad.status_code == 422
    assert served.get(url, headers=KEY).json()["refunded_at"] == "2026-09-22T08:00:00Z"


def test_a_database_failure_is_503_and_acknowledges_nothing(served, train_lines, monkeypatch):
    line = train_lines.loc[30, "line_id"]
    store = served.app.state.services.store

    def fail(event, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(store, "record", fail)
    answer = served.post("/v1/returns", json=body(line), headers=KEY)
    assert answer.status_code == 503 and answer.json()["code"] == "store_unavailable"
    assert "nothing was recorded" in answer.json()["detail"]
    monkeypatch.undo()
    assert rows_in_db(served.db, line) == 0
    assert served.post("/v1/returns", json=body(line), headers=KEY).status_code == 201  # the retry works


def test_without_shop_data_the_answer_says_how_to_configure_it(bundle, tmp_path):
    moved = ServingBundle(bundle.model, bundle.snapshot, {**bundle.meta, "data_dir": str(tmp_path / "gone")})
    with TestClient(make_app(moved, tmp_path / "r.db")) as client:
        answer = client.post("/v1/returns", json=body("L00000001"), headers=KEY)
        assert answer.status_code == 503 and answer.json()["code"] == "data_unavailable"
        assert "set RETURNRISK_DATA_DIR" in answer.json()["detail"]
        assert client.get("/v1/kpis", headers=KEY).json()["code"] == "data_unavailable"


# ---- round trip into training ---------------------------------------------------------------------
def test_recorded_returns_round_trip_into_training_features(bundle, demo_small, tmp_path):
    """Take returns out of a shop, record them through the API (with repeats, conflicts and junk in
    between), export merged with the shop: loading and the training features are those of the original."""
    shop_dir = tmp_path / "shop"
    shutil.copytree(demo_small, shop_dir, ignore=shutil.ignore_patterns("truth", ".returnrisk"))
    original = pd.read_csv(demo_small / "returns.csv", dtype=str, keep_default_na=False)
    has_reason = (original["reason_code"] != "") | (original["reason_text"] != "")
    rng = np.random.default_rng(5)
    taken = original[has_reason].iloc[np.sort(rng.choice(int(has_reason.sum()), 60, replace=False))]
    kinds = {"code only": ((taken.reason_code != "") & (taken.reason_text == "")).sum(),
             "text only": ((taken.reason_code == "") & (taken.reason_text != "")).sum(),
             "both": ((taken.reason_code != "") & (taken.reason_text != "")).sum()}
    assert min(kinds.values()) >= 5, kinds
    original[~original["line_id"].isin(taken["line_id"])].to_csv(shop_dir / "returns.csv", index=False)

    db = tmp_path / "returns.db"
    with TestClient(make_app(bundle, db, data_dir=shop_dir)) as client:
        for i, row in enumerate(taken.itertuples()):
            payload = {"line_id": row.line_id, "returned_at": row.returned_at, "channel": "portal",
                       "reason_code": row.reason_code or None, "reason_text": row.reason_text or None}
            if row.refunded_at:
                payload["refunded_at"] = row.refunded_at
            if row.return_cost:
                payload["return_cost"] = float(row.return_cost)
            assert client.post("/v1/returns", json=payload, headers=KEY).status_code == 201
            if i % 3 == 0:  # a retry of the webhook
                assert client.post("/v1/returns", json=payload, headers=KEY).json()["status"] == "unchanged"
            if i % 5 == 0:  # a contradicting event
                wrong = {**payload, "reason_code": "damaged" if row.reason_code != "damaged" else "other"}
                assert client.post("/v1/returns", json=wrong, headers=KEY).status_code == 409
            if i % 7 == 0:  # junk
                assert client.post("/v1/returns", json={**payload, "reason_code": "meh"},
                                   headers=KEY).status_code == 422
    store = ReturnStore(f"sqlite:///{db}")
    assert store.count() == len(taken)
    result = export_returns(store, tmp_path / "merged", merge_with=shop_dir)
    store.dispose()
    assert (result.n_written, result.n_replaced, result.unknown_lines) == (len(original), 0, 0)

    before = load_shop(demo_small, quarantine_dir=tmp_path / "q1", reason_filler=default_reason_filler())
    after = load_shop(tmp_path / "merged", quarantine_dir=tmp_path / "q2", reason_filler=default_reason_filler())
    assert after.problems == []
    columns = ["line_id", "returned_at", "reason_code", "reason_source", "reason_group", "refunded_at", "return_cost"]
    a = before.returns[columns].sort_values("line_id").reset_index(drop=True)
    b = after.returns[columns].sort_values("line_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert (b.set_index("line_id").loc[taken.loc[taken.reason_code == "", "line_id"], "reason_source"]
            == "inferred").all()

    as_of = pd.Timestamp("2026-09-01", tz="UTC")
    frame_before = build_training_frame(before, as_of)
    frame_after = build_training_frame(after, as_of)
    np.testing.assert_array_equal(frame_before.outcome, frame_after.outcome)
    np.testing.assert_allclose(frame_before.X, frame_after.X, equal_nan=True)
    position = frame_after.lines["line_id"].astype(str).isin(taken["line_id"]).to_numpy()
    mature = position & frame_after.mature
    assert mature.sum() >= 40 and (frame_after.outcome[mature] > 0).all()


# ---- KPIs and forecast ---------------------------------------------------------------------------------
def test_kpis_endpoint_matches_the_library_and_the_raw_files(served, bundle, trained):
    answer = served.get("/v1/kpis?by=week&from=2026-06-01", headers=KEY)
    assert answer.status_code == 200
    report = answer.json()
    shop = load_shop(trained.data, quarantine_dir=trained.data / ".q-test", reason_filler=default_reason_filler())
    expected = compute_kpis(shop, start=pd.Timestamp("2026-06-01", tz="UTC"), by="week", bundle=bundle,
                            model_info={"version": "7"}, limit=100).to_dict()
    capture = report.pop("capture")          # the capture channels' figures (issue 16), from the returns store
    assert report == expected
    assert capture == served.app.state.services.captured.figures()
    lines = pd.read_csv(trained.data / "order_lines.csv", dtype=str, keep_default_na=False)
    returns = pd.read_csv(trained.data / "returns.csv", dtype=str, keep_default_na=False)
    lines = lines[pd.to_datetime(lines["ordered_at"], utc=True) >= pd.Timestamp("2026-06-01", tz="UTC")]
    units = lines["quantity"].replace("", "1").astype(int)
    returned = lines["line_id"].isin(returns["line_id"])
    assert report["overall"]["return_rate_units"] == pytest.approx(units[returned].sum() / units.sum(), abs=1e-4)
    weeks = report["groups"]
    assert weeks[0]["key"] == "2026-W23" and weeks[0]["provisional"] is False
    assert weeks[0]["expected_final_rate_units"] is None
    last = weeks[-2]  # the last full week: entirely in its window at the end of the data
    assert last["provisional"] is True and last["open_window_units_share"] == 1.0
    assert last["expected_final_rate_units"] > last["return_rate_units"] + 0.1
    assert report["model"] == {"available": True, "version": "7", "as_of": bundle.meta["as_of"]}


def test_kpis_query_errors(served):
    assert served.get("/v1/kpis").status_code == 401
    bad = served.get("/v1/kpis?by=year", headers=KEY)
    assert bad.status_code == 422 and "Input should be 'week'" in bad.json()["detail"]
    assert "is not an ISO 8601 timestamp" in served.get("/v1/kpis?from=2026-13-01", headers=KEY).json()["detail"]
    empty = served.get("/v1/kpis?from=2026-06-01&to=2026-05-01", headers=KEY)
    assert empty.status_code == 422 and "the period is empty" in empty.json()["detail"]


def test_forecast_endpoint_shape_and_staffing(served, trained):
    assert served.get("/v1/forecast").status_code == 401
    answer = served.get("/v1/forecast?days=10", headers=KEY)
    assert answer.status_code == 200
    payload = answer.json()
    assert list(payload) == ["as_of", "days", "total", "staff_hours"]
    returns = pd.read_csv(trained.data / "returns.csv", dtype=str, keep_default_na=False)
    lines = pd.read_csv(trained.data / "order_lines.csv", dtype=str, keep_default_na=False)
    last = max(pd.to_datetime(returns["returned_at"], utc=True).max(), pd.to_datetime(lines["ordered_at"], utc=True).max(),
               pd.to_datetime(returns["refunded_at"].replace("", None), utc=True).max())
    assert pd.Timestamp(payload["as_of"]) == last.floor("s") + pd.Timedelta(seconds=1)
    first = (last + pd.Timedelta(seconds=1)).ceil("D")
    assert [d["date"] for d in payload["days"]] == [f"{first + pd.Timedelta(days=i):%Y-%m-%d}" for i in range(10)]
    for day in payload["days"]:
        assert list(day) == ["date", "expected", "low", "high"]
        assert 0 <= day["low"] < day["expected"] < day["high"]
    assert payload["total"]["expected"] == pytest.approx(sum(d["expected"] for d in payload["days"]), abs=0.05)
    assert payload["total"]["low"] < payload["total"]["expected"] < payload["total"]["high"]
    for day, staff in zip(payload["days"], payload["staff_hours"]):
        assert staff["date"] == day["date"]
        assert staff["hours"] == pytest.approx(day["expected"] * 12 / 60, abs=0.01)
        assert staff["high"] == pytest.approx(day["high"] * 12 / 60, abs=0.01)
    assert served.get("/v1/forecast?days=0", headers=KEY).status_code == 422
    assert served.get("/v1/forecast?days=91", headers=KEY).status_code == 422
    assert served.get("/v1/forecast?as_of=2020-01-01", headers=KEY).json()["code"] == "forecast_impossible"
