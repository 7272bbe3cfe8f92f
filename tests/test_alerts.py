"""Alerts: stable ids, the outbox (at least once, never lost, leases, backoff), signed webhooks, and
the worker killed mid-delivery and restarted: every alert arrives, duplicates only with the same id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from returnrisk.db import make_engine, upgrade
from returnrisk.lifecycle.alerts import Alert, alert_id
from returnrisk.lifecycle.outbox import AlertOutbox, backoff, destination_key
from returnrisk.lifecycle.webhook import SIGNATURE_HEADER, DeliveryFailed, encode, post, signature, verify

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")
SECRET = "webhook-secret"


class Receiver:
    """A tiny incoming-webhook server: records every request; can fail or hang on chosen ones."""

    def __init__(self, secret: str = SECRET, fail_first: set[int] = frozenset(), hang_on: int | None = None):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.fail_first = set(fail_first)      # k-th distinct alert (0-based): its first attempt answers 500
        self.hang_on = hang_on                 # k-th distinct alert: the first attempt hangs until released
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.order: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ident = self.headers.get("X-Returnrisk-Alert-Id")
                with receiver.lock:
                    first = ident not in receiver.order
                    if first:
                        receiver.order.append(ident)
                    k = receiver.order.index(ident)
                    receiver.requests.append({"id": ident, "body": body, "signed": verify(
                        body, self.headers.get(SIGNATURE_HEADER), receiver.secret)})
                if first and k == receiver.hang_on:
                    receiver.hanging.set()
                    receiver.release.wait(120)
                code = 500 if first and k in receiver.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.secret = secret
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> set[str]:
        with self.lock:
            return {r["id"] for r in self.requests}

    def close(self):
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _alert(i: int) -> Alert:
    return Alert(alert_id("newly_flagged", f"P{i}", "2026-05-01"), "newly_flagged", f"P{i}", None,
                 {"en": f"Newly flagged: P{i}", "fr": f"Nouveau signalement : P{i}"}, {"n": i})


def test_alert_ids_are_stable_and_say_what_they_are_about():
    assert alert_id("recurrence", "abc", "2026-05-01") == alert_id("recurrence", "abc", "2026-05-01")
    assert len({alert_id("recurrence", "abc", "2026-05-01"), alert_id("no_effect", "abc", "2026-05-01"),
                alert_id("recurrence", "abc", "2026-05-02"), alert_id("recurrence", "abd", "2026-05-01")}) == 4
    body = _alert(1).payload(NOW, "fr", "https://rr.example/")
    assert body["id"] == _alert(1).alert_id and body["text"].startswith("Nouveau signalement : P1")
    assert body["text"].endswith("https://rr.example/dashboard/products/P1")


def test_the_outbox_stores_once_leases_retries_with_backoff_and_marks_sent(engine):
    outbox = AlertOutbox(engine)
    dest = [destination_key("https://hooks.example/a"), destination_key("https://hooks.example/b")]
    assert outbox.enqueue([_alert(1), _alert(2)], dest, now=NOW) == [_alert(1).alert_id, _alert(2).alert_id]
    assert outbox.enqueue([_alert(1), _alert(3)], dest, now=NOW) == [_alert(3).alert_id]   # already stored
    claimed = outbox.claim(dest, now=NOW, lease_seconds=60)
    assert len(claimed) == 6 and {c.attempts for c in claimed} == {1}
    assert outbox.claim(dest, now=NOW, lease_seconds=60) == []            # leased: nobody else takes them
    for item in claimed[1:]:
        outbox.sent(item, now=NOW)
    outbox.failed(claimed[0], "HTTP 500", now=NOW, retry_in=30)
    assert outbox.claim(dest, now=NOW + pd.Timedelta(seconds=29), lease_seconds=60) == []
    again = outbox.claim(dest, now=NOW + pd.Timedelta(seconds=31), lease_seconds=60)
    assert [(c.alert_id, c.attempts) for c in again] == [(claimed[0].alert_id, 2)]
    # a worker that died mid-send: the lease runs out and the delivery is due again, same alert
    later = NOW + pd.Timedelta(seconds=31 + 61)
    assert [(c.alert_id, c.attempts) for c in outbox.claim(dest, now=later, lease_seconds=60)] == \
        [(claimed[0].alert_id, 3)]
    listed = {a.alert_id: a for a in outbox.recent()}
    assert len(listed) == 3 and listed[_alert(2).alert_id].delivered == 2
    assert listed[claimed[0].alert_id].last_error == "HTTP 500"
    waits = [backoff(n, 10, 3600, jitter=0) for n in (1, 2, 3, 4, 12, 20)]
    assert waits == [10, 20, 40, 80, 3600, 3600]
    assert 8 <= backoff(1, 10, 3600) <= 12


def test_webhooks_are_signed_and_a_refusal_is_a_failed_delivery():
    receiver = Receiver(fail_first={1})
    try:
        body = encode(_alert(1).payload(NOW))
        assert post(receiver.url, body, alert_id="a1", secret=SECRET, timeout=5) == 200
        request = receiver.requests[0]
        assert request["signed"] and request["body"] == body and json.loads(body)["text"] == "Newly flagged: P1"
        assert signature(body, SECRET) == "sha256=" + __import__("hmac").new(
            SECRET.encode(), body, "sha256").hexdigest()
        with pytest.raises(DeliveryFailed, match="HTTP 500"):
            post(receiver.url, body, alert_id="a2", secret=SECRET, timeout=5)
        with pytest.raises(DeliveryFailed, match="not reached"):
            post("http://127.0.0.1:9/hook", body, alert_id="a3", secret=SECRET, timeout=2)
        assert not verify(body + b" ", request_signature := signature(body, SECRET), SECRET) and request_signature
    finally:
        receiver.close()


# ---- the worker, killed mid-delivery and restarted ---------------------------------------------------
def _expected_alerts(planted, db_url: str) -> tuple[set[str], dict]:
    """Mark three fixes done (a real fix, two placebos) and compute, in this process, every alert
    that holds: what the worker must deliver."""
    import datetime as dt

    from returnrisk.config import Economics
    from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop
    from returnrisk.fixes.status import StatusChange
    from returnrisk.lifecycle import FixBoard, FixStatusStore, set_status
    from returnrisk.lifecycle.alerts import detect_alerts

    engine = make_engine(db_url)
    store = FixStatusStore(engine)
    shop = load_fix_shop(planted.data)
    report = compute_fixes(shop, planted.bundle(), FixParams())
    board = FixBoard(store, Economics.model_construct())
    state = board.state(report, shop)
    by_product = {(f["product_id"], f["lever"]): f for f in report.fixes}
    for product, lever, live in (("P000122", "improve_photos", "2025-08-12"), ("P000017", "add_size_guide", "2025-09-09"),
                                 ("P000194", "improve_photos", "2025-11-14")):
        fix = by_product[(product, lever)]
        set_status(store, fix["fix_id"], StatusChange("done", live_at=dt.date.fromisoformat(live)), by="anna",
                   at=pd.Timestamp.now(tz="UTC"), fix=fix, rule=state.rule)
    state = board.state(report, shop)
    found = detect_alerts(state.rows, report.detection, as_of=report.as_of, new_flag_days=120)
    engine.dispose()
    return {a.alert_id for a in found}, {a.alert_id: a for a in found}


def _start_worker(planted, db_url: str, receiver: Receiver, log_path):
    env = {**os.environ, "RETURNRISK_TRACKING_URI": planted.tracking_uri, "RETURNRISK_DATA_DIR": str(planted.data),
           "RETURNRISK_DATABASE_URL": db_url, "RETURNRISK_ALERT_WEBHOOK_URLS": receiver.url,
           "RETURNRISK_ALERT_WEBHOOK_SECRET": SECRET, "RETURNRISK_ALERT_NEW_FLAG_DAYS": "120",
           "RETURNRISK_ALERT_RETRY_BASE_SECONDS": "0.3", "RETURNRISK_ALERT_LEASE_SECONDS": "2",
           "RETURNRISK_ALERT_TIMEOUT_SECONDS": "60"}
    log = open(log_path, "a")
    return subprocess.Popen([sys.executable, "-m", "returnrisk", "worker", "--poll", "0.2"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent)


def _wait(condition, seconds: float, what: str, proc=None, log_path=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the worker stopped ({proc.returncode}) before {what}: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}: {log_path.read_text()[-3000:] if log_path else ''}")


@pytest.mark.slow
def test_alerts_reach_the_webhook_once_each_across_a_worker_killed_mid_delivery(planted, tmp_path, capsys):
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(db_url)
    expected, alerts = _expected_alerts(planted, db_url)
    kinds = {a.kind for a in alerts.values()}
    assert {"newly_flagged", "no_effect"} <= kinds and len(expected) >= 8, kinds
    # the 2nd and 5th alerts are refused once (retried with backoff); the 7th hangs until the
    # worker is killed: the receiver got it, the worker never knew
    receiver = Receiver(fail_first={1, 4}, hang_on=6)
    log_path = tmp_path / "worker.log"
    worker = _start_worker(planted, db_url, receiver, log_path)
    try:
        _wait(receiver.hanging.is_set, 400, "the 7th delivery", worker, log_path)
        before_kill = receiver.ids()
        assert len(before_kill) == 7 and before_kill < expected
        worker.send_signal(signal.SIGKILL)   # no clean-up: as a crash or a power cut
        worker.wait(timeout=30)
        receiver.release.set()
        outbox = AlertOutbox(make_engine(db_url))
        stored = {a.alert_id: a for a in outbox.recent()}
        assert set(stored) == expected                      # every alert was queued before any was sent
        assert sum(a.delivered for a in stored.values()) < len(expected)

        worker = _start_worker(planted, db_url, receiver, log_path)
        _wait(lambda: receiver.ids() == expected and all(a.delivered == 1 for a in outbox.recent()), 400,
              "every alert delivered after the restart", worker, log_path)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log_path.read_text()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
        receiver.close()

    ids = [r["id"] for r in receiver.requests]
    assert set(ids) == expected                             # nothing lost, nothing else
    hung, refused = receiver.order[6], {receiver.order[1], receiver.order[4]}
    assert ids.count(hung) == 2                             # the duplicate carries the same id
    assert all(ids.count(i) == 2 for i in refused)          # refused once, retried
    assert len(ids) == len(expected) + 3                    # no other duplicate
    assert all(r["signed"] for r in receiver.requests)
    for request in receiver.requests:
        body = json.loads(request["body"])
        assert body["id"] == request["id"] and body["text"] == alerts[body["id"]].texts["en"]

    from returnrisk.cli import main

    with pytest.raises(SystemExit) as done:
        main(["alerts", "--db", db_url, "--json"])
    assert done.value.code in (0, None)
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["alerts"]
    assert {a["id"] for a in listed} == expected and all(a["delivered"] == 1 for a in listed)
