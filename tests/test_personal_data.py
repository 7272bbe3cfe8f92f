"""``returnrisk forget --customer ID`` and ``returnrisk export-customer --customer ID`` (GDPR erasure and
access), on SQLite and PostgreSQL: what is held, what is erased now, what the next export leaves out."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import ORDER_LINES, PRODUCTS, write_shop
from returnrisk.cli import main
from returnrisk.data.loader import load_shop
from returnrisk.operations.personal_data import customer_hash
from returnrisk.operations.store import ReturnEvent, ReturnStore

# C1 owns L1 and L2; the shop's own file has C1's words on L2 and C2's on L3
RETURNS = """line_id,returned_at,reason_code,reason_text,refunded_at,return_cost
L2,2025-03-09,too_large,"trop grand, Marie Dupont 06 12 34 56 78",2025-03-11,7.50
L3,2025-03-10T09:00:00Z,,trop petit à la taille,2025-03-12,
L5,2025-03-15,changed_mind,,,
"""
PRIVATE = "Marie Dupont"


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def held(db_url, tmp_path):
    """A shop and a service database holding C1's words (recorded return of L1) and C3's (L4)."""
    shop = write_shop(tmp_path / "shop", PRODUCTS, ORDER_LINES, RETURNS)
    store = ReturnStore(db_url)
    store.record(ReturnEvent("L1", pd.Timestamp("2025-03-08T10:00:00Z"), "portal", reason_code="too_small",
                             reason_text=f"serré aux épaules — {PRIVATE}"))
    store.record(ReturnEvent("L4", pd.Timestamp("2025-03-09T10:00:00Z"), "email", reason_text="sac abîmé"))
    store.dispose()
    return shop, db_url


def _texts(url) -> dict:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = dict(conn.execute(sa.text("select line_id, reason_text from returnrisk_returns")).all())
    engine.dispose()
    return out


def _everything_in(url) -> str:
    """Every value of every returnrisk table, as text."""
    engine = sa.create_engine(url)
    parts = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            if table.startswith("returnrisk"):
                parts += [repr(tuple(row)) for row in conn.execute(sa.text(f"select * from {table}"))]
    engine.dispose()
    return "\n".join(parts)


def test_export_customer_writes_everything_held_about_them(held, tmp_path, capsys):
    shop, url = held
    out = tmp_path / "access" / "C1.json"
    code, stdout, err = run(capsys, "export-customer", "--customer", "C1", "--data", str(shop), "--db", url, "--json",
                            "--out", str(out))
    assert code == 0, err
    assert json.loads(stdout) == {"path": str(out), "order_lines": 2, "returns": 2}
    record = json.loads(out.read_text())
    assert record["customer_id"] == "C1" and record["forgotten"] is None
    assert [line["line_id"] for line in record["order_lines"]] == ["L1", "L2"]
    assert [r["line_id"] for r in record["returns_in_shop_files"]] == ["L2"]
    assert PRIVATE in record["returns_in_shop_files"][0]["reason_text"]
    assert [(r["line_id"], r["channel"]) for r in record["returns_recorded"]] == [("L1", "portal")]
    assert PRIVATE in record["returns_recorded"][0]["reason_text"]
    assert "C2" not in out.read_text() and "sac abîmé" not in out.read_text()   # nobody else's data


def test_forget_erases_the_words_now_and_the_id_from_every_later_export(held, tmp_path, capsys):
    shop, url = held
    code, stdout, err = run(capsys, "forget", "--customer", "C1", "--data", str(shop), "--db", url, "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"customer_hash": customer_hash("C1"), "order_lines": 2, "texts_erased": 1,
                                  "webhook_lines": 0, "photos_erased": 0, "emails_erased": 0,
                                  "already_forgotten": False}
    texts = _texts(url)
    assert texts["L1"] is None and texts["L4"] == "sac abîmé"            # only C1's words
    stored = _everything_in(url)
    assert PRIVATE not in stored and "'C1'" not in stored and customer_hash("C1") in stored
    # the next export: C1's lines under per-line ids, the words of C1's returns gone, the rest untouched
    merged = tmp_path / "merged"
    code, stdout, err = run(capsys, "export-returns", "--db", url, "--merge-with", str(shop), "--out", str(merged),
                            "--json")
    assert code == 0, err
    assert json.loads(stdout)["forgotten_lines"] == 2
    lines = pd.read_csv(merged / "order_lines.csv", dtype=str)
    assert lines.set_index("line_id")["customer_id"].to_dict() == {
        "L1": "forgotten:L1", "L2": "forgotten:L2", "L3": "C2", "L4": "C3", "L5": "C2"}
    returns = pd.read_csv(merged / "returns.csv", dtype=str).set_index("line_id")
    assert pd.isna(returns.loc["L2", "reason_text"]) and returns.loc["L2", "reason_code"] == "too_large"
    assert returns.loc["L3", "reason_text"] == "trop petit à la taille"
    for path in merged.iterdir():
        assert PRIVATE not in path.read_text(), path
    # the next training's data: C1 is no customer any more, their lines still count for the products
    loaded = load_shop(merged)
    assert "C1" not in set(loaded.order_lines["customer_id"].astype(str))
    assert len(loaded.order_lines) == 5
    # again: nothing more to erase, said so; the access export says they were forgotten
    code, stdout, _ = run(capsys, "forget", "--customer", "C1", "--data", str(shop), "--db", url, "--json")
    assert json.loads(stdout)["already_forgotten"] is True and json.loads(stdout)["texts_erased"] == 0
    out = tmp_path / "C1.json"
    assert run(capsys, "export-customer", "--customer", "C1", "--data", str(shop), "--db", url, "--out",
               str(out))[0] == 0
    record = json.loads(out.read_text())
    assert record["forgotten"]["texts_erased"] == 1 and record["returns_recorded"][0]["reason_text"] is None


@pytest.mark.parametrize("argv, message", [
    (["forget", "--customer", "C1"], "no shop folder: pass --data DIR"),
    (["forget", "--customer", "  ", "--data", "{shop}"], "--customer is empty"),
    (["export-customer", "--customer", "C1", "--data", "{tmp}/nowhere", "--out", "{tmp}/x.json"],
     "--data {tmp}/nowhere does not exist"),
    (["forget", "--customer", "C1", "--data", "{shop}", "--db", "not a url"], "is not a SQLAlchemy URL"),
])
def test_personal_data_commands_explain_bad_input(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RETURNRISK_DATA_DIR", raising=False)
    shop = write_shop(tmp_path / "shop")
    monkeypatch.setenv("RETURNRISK_DATABASE_URL", f"sqlite:///{tmp_path}/service.db")
    argv = [a.format(shop=shop, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and "Traceback" not in out + err
    assert message.format(tmp=tmp_path) in " ".join((out + err).split())


def test_forget_reaches_webhook_lines_portal_photos_and_review_emails(held, tmp_path, capsys, monkeypatch):
    """C1 also placed O9 (webhook only, line W1), returned it on the portal with a photo, and wrote an e-mail
    about O1 that was set aside for review; C3's e-mail about O3 stays."""
    from returnrisk.capture.records import CaptureRecords, now_utc
    from returnrisk.db.schema import return_photos_table, webhook_order_lines_table

    shop, url = held
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "abc.jpg").write_bytes(b"jpeg of C1's dress")
    (photos / "keep.jpg").write_bytes(b"jpeg of C3's bag")
    monkeypatch.setenv("RETURNRISK_PORTAL_PHOTO_DIR", str(photos))
    store = ReturnStore(url)
    store.prepare()
    now = now_utc()
    records = CaptureRecords(store.engine)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(webhook_order_lines_table).values(
            line_id="W1", order_id="O9", customer_id="C1", product_id="P1", size="M", quantity=1, unit_price=79.9,
            ordered_at=pd.Timestamp("2025-03-20T10:00:00Z"), platform="shopify",
            recorded_at=pd.Timestamp("2025-03-20T10:00:01Z")))
        conn.execute(sa.insert(webhook_order_lines_table).values(
            line_id="W2", order_id="O10", customer_id="C3", product_id="P3", quantity=1,
            ordered_at=pd.Timestamp("2025-03-21T10:00:00Z"), platform="shopify",
            recorded_at=pd.Timestamp("2025-03-21T10:00:01Z")))
        for photo_id, line, name in (("p1", "W1", "abc.jpg"), ("p2", "L4", "keep.jpg")):
            conn.execute(sa.insert(return_photos_table).values(
                photo_id=photo_id, request_id=f"r-{line}", line_id=line, file_name=name, content_type="image/jpeg",
                bytes=18, width=10, height=10, sha256="0" * 64, created_at=now))
    assert records.claim_return({"return_id": "R1", "request_id": "r-W1", "line_id": "W1", "order_id": "O9",
                                 "product_id": "P1", "channel": "portal", "quantity": 1, "resolution": "refund",
                                 "exchange_offered": False, "review": False})
    records.add_review({"source": "email", "message_id": "<m1@x>", "why": "ambiguous", "detail": "two orders",
                        "subject": f"Retour commande O1 — {PRIVATE}", "excerpt": f"Bonjour, {PRIVATE} ici",
                        "order_id": "O1"})
    records.add_review({"source": "email", "message_id": "<m2@x>", "why": "ambiguous", "detail": "two orders",
                        "subject": "Retour O3", "excerpt": "sac abîmé", "order_id": "O3"})
    store.dispose()

    access = tmp_path / "C1.json"
    assert run(capsys, "export-customer", "--customer", "C1", "--data", str(shop), "--db", url,
               "--out", str(access))[0] == 0
    record = json.loads(access.read_text())
    assert [r["line_id"] for r in record["order_lines_received_by_webhook"]] == ["W1"]
    assert [r["return_id"] for r in record["returns_declared_on_portal_or_by_email"]] == ["R1"]
    assert [p["file_name"] for p in record["photos"]] == ["abc.jpg"]
    assert [e["subject"] for e in record["emails_set_aside_for_review"]] == [f"Retour commande O1 — {PRIVATE}"]
    assert "C3" not in access.read_text() and "keep.jpg" not in access.read_text()

    code, stdout, err = run(capsys, "forget", "--customer", "C1", "--data", str(shop), "--db", url, "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"customer_hash": customer_hash("C1"), "order_lines": 2, "texts_erased": 1,
                                  "webhook_lines": 1, "photos_erased": 1, "emails_erased": 1,
                                  "already_forgotten": False}
    assert not (photos / "abc.jpg").exists() and (photos / "keep.jpg").exists()
    stored = _everything_in(url)
    assert PRIVATE not in stored and "'C1'" not in stored and "abc.jpg" not in stored
    assert "'forgotten:W1'" in stored and "'C3'" in stored and "keep.jpg" in stored and "sac abîmé" in stored
