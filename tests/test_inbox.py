"""The e-mail channel: `returnrisk inbox` on .eml fixtures (FR/EN), a Maildir and a real IMAP server.

The fixtures (tests/make_inbox_fixtures.py) are replies quoting the shipping e-mail, HTML-only
bodies, messages forwarded by a colleague inline and as an attachment, an attachment, an order
number only in the subject, and the cases that must go to review: no order number, an unknown
order, an order whose lines are not named (recorded whole, marked), an order already returned.
"""

from __future__ import annotations

import json
import mailbox
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from returnrisk.capture.inbox.mail import customer_words, read_message
from returnrisk.capture.records import CaptureRecords
from returnrisk.cli import main
from returnrisk.operations.store import ReturnStore

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "inbox"
MAILS = FIXTURES / "mails"

#: file → (status, order, lines recorded, reason inferred, why in review)
EXPECTED = {
    "01_en_reply_quoted.eml": ("recorded", "O100", ["L100"], "too_small", None),
    "02_fr_html_only.eml": ("recorded", "O104", ["L107"], "looks_different", None),
    "03_en_forwarded_by_colleague.eml": ("recorded", "O105", ["L108"], "damaged", None),
    "04_fr_subject_only_attachment.eml": ("recorded", "O106", ["L109"], "too_small", None),
    "05_fr_line_by_size.eml": ("recorded", "O103", ["L105"], "too_large", None),
    "06_en_lines_not_named.eml": ("recorded", "O102", ["L103", "L104"], "changed_mind", "lines_not_named"),
    "07_en_no_order_number.eml": ("review", None, [], "too_large", "no_order_number"),
    "08_fr_unknown_order.eml": ("review", None, [], "not_as_described", "order_not_found"),
    "09_en_forwarded_as_attachment.eml": ("recorded", "O101", ["L101"], "poor_quality", None),
    "10_fr_already_returned.eml": ("review", "O107", [], "changed_mind", "nothing_left"),
    "11_en_reply_quoted_again.eml": ("duplicate", None, [], None, None),   # the same Message-ID as 01
}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shop(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "shop", tmp_path / "shop"))


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


def stored(db: str) -> dict[str, object]:
    store = ReturnStore(db)
    try:
        return {r.line_id: r for r in store.iter_all()}
    finally:
        store.dispose()


def review_items(db: str) -> list[dict]:
    store = ReturnStore(db)
    try:
        return CaptureRecords(store.engine).review_items(status=None, limit=None)
    finally:
        store.dispose()


def check_outcomes(summary: dict, db: str, key_of=lambda name: name) -> None:
    """Every fixture accounted for as expected, in the summary and in the database."""
    outcomes = {o["message"]: o for o in summary["outcomes"]}
    assert len(outcomes) == len(EXPECTED) == summary["messages"]
    records = stored(db)
    reviews = review_items(db)
    for name, (status, order, lines, reason, why) in EXPECTED.items():
        outcome = outcomes[key_of(name)]
        assert outcome["status"] == status, (name, outcome)
        if status == "duplicate":
            continue
        assert outcome["order_id"] == order, (name, outcome)
        assert outcome["reason"] == reason, (name, outcome)
        assert outcome["why"] == why, (name, outcome)
        for line in lines:
            record = records[line]
            assert record.channel == "email" and record.reason_code is None, name
            assert record.reason_code_inferred == reason and record.reason_confidence > 0.5, (name, record)
            assert record.reason_text and "wrote:" not in record.reason_text and "a écrit" not in record.reason_text
        if why:
            item = next(r for r in reviews if r["why"] == why)
            assert item["order_id"] == order and item["reason_code_inferred"] == reason, (name, item)
    recorded_lines = {line for _, _, lines, _, _ in EXPECTED.values() for line in lines}
    assert set(records) == recorded_lines                     # nothing else recorded, nothing twice
    assert sorted(r["why"] for r in reviews) == ["lines_not_named", "no_order_number", "nothing_left", "order_not_found"]
    assert summary["recorded"] == 7 and summary["review"] == 3 and summary["duplicate"] == 1 and summary["returns"] == 8


# ---- the customer's words ------------------------------------------------------------------------
def test_quoted_replies_and_signatures_are_not_the_customers_words():
    message = read_message((MAILS / "01_en_reply_quoted.eml").read_bytes())
    assert message.message_id == "<01@mail.example>"
    assert "too small" in message.words and "shoulders" in message.words
    assert "Too large" not in message.words and "wrote" not in message.words and "shipped" not in message.words
    assert "#1001" in message.text                        # the order number of the quoted e-mail is still found
    luc = read_message((MAILS / "04_fr_subject_only_attachment.eml").read_bytes())
    assert "iPhone" not in luc.words and "trop petites" in luc.words and luc.n_attachments == 1
    assert "1007" not in luc.words and "1007" in luc.subject
    ines = read_message((MAILS / "05_fr_line_by_size.eml").read_bytes())
    assert "06 12 34" not in ines.words and "Ines D." not in ines.words   # after "-- "


def test_an_html_only_body_is_read_as_text_without_its_quote_or_style():
    message = read_message((MAILS / "02_fr_html_only.eml").read_bytes())
    assert "retourner la Chemise Oxford de ma commande" in message.words
    assert "à la photo du site" in message.words                    # entities decoded
    assert "color:red" not in message.text and "retour gratuit" not in message.words


def test_forwarded_messages_count_the_customers_part():
    inline = read_message((MAILS / "03_en_forwarded_by_colleague.eml").read_bytes())
    assert inline.words.startswith("Hello, the jeans arrived with a hole") and "FYI" not in inline.words
    assert "From:" not in inline.words and "Subject:" not in inline.words
    attached = read_message((MAILS / "09_en_forwarded_as_attachment.eml").read_bytes())
    assert "Straight Jeans Nord are of poor quality" in attached.words and "attached" not in attached.words
    # a customer forwarding the shop's e-mail with a note: the note is what they say
    body = ("I want to return the jeans, they are far too long for me.\n\n-------- Original Message --------\n"
            "From: Shop <hello@shop.example>\nSubject: Your order #1002\n\nYour order has shipped. Damaged? Tell us.")
    assert customer_words(body, forwarded_by_shop=False) == "I want to return the jeans, they are far too long for me."
    assert customer_words(body, forwarded_by_shop=True) == "Your order has shipped. Damaged? Tell us."


# ---- the command ---------------------------------------------------------------------------------
def test_inbox_records_the_fixture_emails_with_the_right_orders_and_reasons(shop, db, capsys):
    code, out, err = run_cli(capsys, "inbox", "--eml-dir", str(MAILS), "--once", "--data", str(shop), "--db", db,
                             "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    check_outcomes(summary, db)
    assert "11 message(s): 7 recorded (8 line(s)), 3 to review, 1 already processed" in err
    # whole order recorded when no line is named: both lines, marked for review
    store = ReturnStore(db)
    details = {r["line_id"]: r for r in CaptureRecords(store.engine).customer_returns()}
    store.dispose()
    assert details["L103"]["review"] and details["L104"]["review"] and not details["L100"]["review"]
    assert details["L102" if "L102" in details else "L101"]["line_id"] == "L101"   # jeans only, not the shirt
    assert details["L101"]["quantity"] == 1 and details["L100"]["request_id"].startswith("email-")
    # processed messages are never recorded twice: a second run finds them all processed
    code, out, err = run_cli(capsys, "inbox", "--eml-dir", str(MAILS), "--once", "--data", str(shop), "--db", db,
                             "--json")
    again = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and again["duplicate"] == 11 and again["recorded"] == again["review"] == 0
    assert len(stored(db)) == 8 and len(review_items(db)) == 4


def test_inbox_reads_a_maildir(shop, db, tmp_path, capsys):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    keys = {box.add(mailbox.MaildirMessage(path.read_bytes())): path.name for path in sorted(MAILS.glob("*.eml"))}
    code, out, err = run_cli(capsys, "inbox", "--maildir", str(tmp_path / "Maildir"), "--once", "--data", str(shop),
                             "--db", db, "--json")
    assert code == 0, err
    by_name = {name: key for key, name in keys.items()}
    check_outcomes(json.loads(out.strip().splitlines()[-1]), db, key_of=lambda name: by_name[name])
    assert len(list((tmp_path / "Maildir" / "new").iterdir())) == 11     # nothing moved or deleted


def test_a_message_that_breaks_the_processing_goes_to_review_not_away(shop, db, monkeypatch, tmp_path, capsys):
    from returnrisk.capture.inbox import process

    def broken(order, words):
        raise RuntimeError("boom")

    monkeypatch.setattr(process, "pick_lines", broken)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(MAILS / "01_en_reply_quoted.eml", one)
    code, out, err = run_cli(capsys, "inbox", "--eml-dir", str(one), "--once", "--data", str(shop), "--db", db, "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["review"] == 1 and summary["outcomes"][0]["why"] == "error"
    item = review_items(db)[0]
    assert item["why"] == "error" and "RuntimeError" in item["detail"] and "too small" in item["excerpt"]
    assert stored(db) == {}


@pytest.mark.parametrize("argv, message", [
    (["--once"], "give exactly one mailbox"),
    (["--eml-dir", "x", "--maildir", "y", "--once"], "got --maildir, --eml-dir"),
    (["--eml-dir", "/nonexistent/mails", "--once"], "--eml-dir /nonexistent/mails is not a folder"),
    (["--maildir", str(MAILS), "--once"], "is not a Maildir (it needs cur/ and new/ folders)"),
    (["--eml-dir", str(MAILS), "--once", "--order-pattern", "#(\\d+"], "--order-pattern is not a regular expression"),
    (["--eml-dir", str(MAILS), "--once", "--order-pattern", "#\\d+"], "needs one group"),
    (["--imap", "http://mail.example/INBOX", "--once"], "use imaps://USER@HOST/MAILBOX"),
])
def test_inbox_errors_are_one_clear_line(shop, db, capsys, argv, message):
    code, out, err = run_cli(capsys, "inbox", *argv, "--data", str(shop), "--db", db)
    assert code == 2 and message in " ".join(err.split()), err
    assert "Traceback" not in err


def test_inbox_needs_the_shop_data(db, capsys, monkeypatch):
    monkeypatch.delenv("RETURNRISK_DATA_DIR", raising=False)
    monkeypatch.chdir(HERE)   # no .env here
    code, _, err = run_cli(capsys, "inbox", "--eml-dir", str(MAILS), "--once", "--db", db)
    assert code == 2 and "no shop data: pass --data DIR" in err


# ---- IMAP: a real server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dovecot():
    from imap_server import dovecot_binary, start_dovecot

    binary = dovecot_binary()
    if binary is None:
        if os.environ.get("RETURNRISK_REQUIRE_IMAP") == "1":
            pytest.fail("Dovecot is required (RETURNRISK_REQUIRE_IMAP=1) but not installed: apt-get install "
                        "dovecot-imapd")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd): the IMAP test is skipped")
    server = start_dovecot(binary)
    yield server
    server.stop()


def test_inbox_reads_an_imap_mailbox_over_tls(dovecot, shop, db, capsys, monkeypatch):
    from imap_server import PASSWORD

    for path in sorted(MAILS.glob("*.eml")):
        dovecot.deliver(path.stem, path.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cafile))   # trust the test server's certificate
    monkeypatch.setenv("RETURNRISK_IMAP_PASSWORD", PASSWORD)
    code, out, err = run_cli(capsys, "inbox", "--imap", dovecot.url, "--once", "--data", str(shop), "--db", db, "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    uids = {o["message"] for o in summary["outcomes"]}
    assert len(uids) == 11 and all(u.startswith("uid ") for u in uids)
    statuses = sorted(o["status"] for o in summary["outcomes"])
    assert statuses.count("recorded") == 7 and statuses.count("review") == 3 and statuses.count("duplicate") == 1
    assert len(stored(db)) == 8
    # a second run downloads nothing: every Message-ID is known
    code, out, err = run_cli(capsys, "inbox", "--imap", dovecot.url, "--once", "--data", str(shop), "--db", db, "--json")
    again = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and again["messages"] == 0
    # the mailbox is untouched (read-only, bodies peeked)
    assert len(list((dovecot.maildir / "cur").iterdir())) + len(list((dovecot.maildir / "new").iterdir())) == 11


def test_a_wrong_imap_password_is_one_clear_line(dovecot, shop, db, capsys, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cafile))
    monkeypatch.setenv("RETURNRISK_IMAP_PASSWORD", "wrong")
    code, _, err = run_cli(capsys, "inbox", "--imap", dovecot.url, "--once", "--data", str(shop), "--db", db)
    assert code == 2 and "refused the login" in err and "RETURNRISK_IMAP_PASSWORD" in err


def test_an_untrusted_certificate_is_refused(dovecot, shop, db, capsys, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("RETURNRISK_IMAP_PASSWORD", "whatever")
    code, _, err = run_cli(capsys, "inbox", "--imap", dovecot.url, "--once", "--data", str(shop), "--db", db)
    assert code == 2 and "cannot reach" in err and "CERTIFICATE_VERIFY_FAILED" in err


# ---- what the merchant sees ----------------------------------------------------------------------
def test_the_review_list_in_the_api_and_the_dashboard(tiny_bundle, shop, db, capsys):
    from returnrisk.serving.app import create_app
    from returnrisk.serving.settings import Settings

    assert run_cli(capsys, "inbox", "--eml-dir", str(MAILS), "--once", "--data", str(shop), "--db", db)[0] == 0
    settings = Settings(_env_file=None, merchant_api_keys=["merchant-key"], database_url=db, data_dir=str(shop))
    key = {"Authorization": "Bearer merchant-key"}
    with TestClient(create_app(settings, loader=lambda: (tiny_bundle, {"version": "1", "uri": "x"}))) as client:
        assert client.get("/v1/review/returns").status_code == 401
        body = client.get("/v1/review/returns", headers=key).json()
        assert body["open"] == 4 and {i["why"] for i in body["items"]} == {
            "no_order_number", "order_not_found", "lines_not_named", "nothing_left"}
        unmatched = next(i for i in body["items"] if i["why"] == "no_order_number")
        assert unmatched["subject"] == "Return a shirt" and "too big" in unmatched["excerpt"]
        assert unmatched["return_ids"] == [] and "kim@" not in json.dumps(body)    # no address is stored
        whole = next(i for i in body["items"] if i["why"] == "lines_not_named")
        assert len(whole["return_ids"]) == 2 and whole["order_number"] == "#1003"
        listed = client.get("/v1/returns?channel=email", headers=key).json()
        assert listed["count"] == 8 and {r["channel"] for r in listed["returns"]} == {"email"}
        anonymous = client.get("/dashboard/review", follow_redirects=False)    # the review list is the merchant's
        assert anonymous.status_code in (302, 303) and "/dashboard/login" in anonymous.headers["location"]
        page = client.get("/dashboard/review", headers=key)
        assert page.status_code == 200
        assert page.text.count('data-why="') == 4 and "Return a shirt" in page.text
        assert "the order number(s) 9999 are not orders of the shop" in page.text
        capture = client.get("/v1/kpis", headers=key).json()["capture"]
        assert capture["by_channel"]["email"] == 8 and capture["by_channel"]["import"] == 1
        assert capture["by_channel"]["portal"] == 0 and capture["reason_share"]["after"] is None


def test_the_review_table_holds_no_email_address(shop, db, capsys):
    run_cli(capsys, "inbox", "--eml-dir", str(MAILS), "--once", "--data", str(shop), "--db", db)
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        dump = " ".join(str(v) for table in ("returnrisk_review_returns", "returnrisk_inbox_messages",
                                              "returnrisk_customer_returns", "returnrisk_returns")
                        for row in conn.execute(sa.text(f"select * from {table}")) for v in row)
    engine.dispose()
    for address in ("emma@gmail.example", "kim@gmail.example", "paul@gmail.example", "anna@shop.example"):
        assert address not in dump


def test_maildir_messages_come_in_delivery_order_not_name_order():
    from returnrisk.capture.inbox.sources import maildir_arrival

    keys = ["1796105034.M96411P13035Q1.vm", "1796105034.M100000P13035Q2.vm", "1796105033.M999999P1Q9.vm",
            "1796105034.M100000P13035Q10.vm", "not-a-maildir-name", "1796105035.P77.host"]
    assert sorted(keys, key=maildir_arrival) == [
        "1796105033.M999999P1Q9.vm", "1796105034.M96411P13035Q1.vm", "1796105034.M100000P13035Q2.vm",
        "1796105034.M100000P13035Q10.vm", "1796105035.P77.host", "not-a-maildir-name"]
