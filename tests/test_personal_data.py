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
