"""Fix ids and the status lifecycle (pure logic: transitions, validation, the return of a dismissed fix)."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from returnrisk.errors import ConflictError, InputError, ReturnRiskError
from returnrisk.fixes.ids import fix_id, fix_ids, is_fix_id
from returnrisk.fixes.status import (
    STATUSES,
    TRANSITIONS,
    EvidenceSnapshot,
    FixStatus,
    InvalidTransition,
    ReturnRule,
    StatusChange,
    apply_change,
    dismissal_lapsed,
    in_open_list,
    phase,
)

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")


# ---- fix ids ----------------------------------------------------------------------------------------
def test_fix_id_is_stable_url_safe_and_tells_fixes_apart():
    # the id is stored with statuses: it must never change for the same fix (pinned value), and it
    # is the documented hash, so another implementation can compute it
    documented = hashlib.sha256(b"returnrisk-fix-v1\x1fP000123\x1f\x1fimprove_photos").hexdigest()[:12]
    assert fix_id("P000123", None, "improve_photos") == documented == "392585cce104"
    odd = fix_id("P1", "W32/L34", "runs_small")
    assert is_fix_id(odd) and quote(odd, safe="") == odd and "/" not in odd
    ids = {fix_id("P1", "W32/L34", "runs_small"), fix_id("P1", "W32/L32", "runs_small"),
           fix_id("P1", "W32/L34", "runs_large"), fix_id("P2", "W32/L34", "runs_small"),
           fix_id("P1", None, "runs_small"), fix_id("P1W32/L34", None, "runs_small")}
    assert len(ids) == 6
    # "no size" however it is written
    assert fix_id("P1", None, "add_size_guide") == fix_id("P1", "", "add_size_guide") \
        == fix_id("P1", np.nan, "add_size_guide") == fix_id("P1", pd.NA, "add_size_guide")
    assert fix_ids(["P1", "P2"], [None, "M"], ["runs_small", "runs_large"]) == \
        [fix_id("P1", None, "runs_small"), fix_id("P2", "M", "runs_large")]
    assert not is_fix_id("CF1F23D30A0C") and not is_fix_id("cf1f23d30a0") and not is_fix_id("../etc/passwd")
    with pytest.raises(ValueError, match="product_id"):
        fix_id("", None, "runs_small")


def test_every_suggestion_carries_its_fix_id(trained):
    from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop

    report = compute_fixes(load_fix_shop(trained.data), trained.bundle(), FixParams())
    assert report.fixes
    ids = [f["fix_id"] for f in report.fixes]
    assert ids == [fix_id(f["product_id"], f["size"], f["lever"]) for f in report.fixes]
    assert len(set(ids)) == len(ids) and all(is_fix_id(i) for i in ids)


# ---- transitions ------------------------------------------------------------------------------------
def change(status, **kw):
    return StatusChange(status, **kw)


def test_the_lifecycle_open_in_progress_done_is_recorded_with_who_and_when():
    s1 = apply_change("abc", None, change("in_progress", note="photographer booked"), by="anna", at=NOW)
    assert (s1.status, s1.changed_by, s1.changed_at, s1.note) == ("in_progress", "anna", NOW, "photographer booked")
    later = NOW + pd.Timedelta(days=3)
    s2 = apply_change("abc", s1, change("done", live_at=dt.date(2026, 6, 3)), by="bob", at=later)
    assert (s2.status, s2.live_at, s2.changed_by, s2.note) == ("done", dt.date(2026, 6, 3), "bob", None)
    # amending a done fix keeps what is not given
    s3 = apply_change("abc", s2, change("done", note="new photos on all colours"), by="anna", at=later)
    assert s3.live_at == dt.date(2026, 6, 3) and s3.note == "new photos on all colours"
    assert s3.to_dict()["live_at"] == "2026-06-03" and s3.to_dict()["changed_at"] == later.isoformat()
    assert s1.status == "in_progress"   # states are values: the trail is never overwritten


@pytest.mark.parametrize("current,target", [("done", "dismissed"), ("done", "in_progress"),
                                            ("dismissed", "done"), ("dismissed", "in_progress")])
def test_impossible_transitions_raise_invalid_transition(current, target):
    state = FixStatus("f1", current, "anna", NOW, live_at=dt.date(2026, 5, 1) if current == "done" else None,
                      dismiss_reason="wrong" if current == "dismissed" else None)
    kwargs = {"live_at": dt.date(2026, 5, 2)} if target == "done" else \
        {"dismiss_reason": "wrong"} if target == "dismissed" else {}
    with pytest.raises(InvalidTransition) as error:
        apply_change("f1", state, change(target, **kwargs), by="bob", at=NOW)
    assert isinstance(error.value, ReturnRiskError)
    assert isinstance(error.value, ConflictError) and error.value.code == "invalid_transition"  # API: 409
    assert f"fix f1 is {current}: it cannot become {target}" in str(error.value)


def test_every_allowed_transition_succeeds():
    for current in STATUSES:
        state = None if current == "open" else FixStatus(
            "f", current, "a", NOW, live_at=dt.date(2026, 5, 1) if current == "done" else None,
            dismiss_reason="wrong" if current == "dismissed" else None)
        for target in TRANSITIONS[current]:
            kwargs = {"live_at": dt.date(2026, 5, 2)} if target == "done" else \
                {"dismiss_reason": "not_worth_it"} if target == "dismissed" else {}
            assert apply_change("f", state, change(target, **kwargs), by="b", at=NOW).status == target
    assert TRANSITIONS["done"] == {"done", "open"} and TRANSITIONS["dismissed"] == {"dismissed", "open"}


@pytest.mark.parametrize("bad,message", [
    (change("closed"), "status 'closed' is not one of open, in_progress, done, dismissed"),
    (change("done"), "needs live_at"),
    (change("done", live_at=dt.date(2026, 6, 2)), "live_at 2026-06-02 is in the future"),
    (change("dismissed"), "needs dismiss_reason: one of wrong, not_worth_it, already_done"),
    (change("dismissed", dismiss_reason="meh"), "dismiss_reason 'meh' is not one of"),
    (change("in_progress", live_at=dt.date(2026, 5, 1)), "live_at is only for status done"),
    (change("done", live_at=dt.date(2026, 5, 1), dismiss_reason="wrong"), "dismiss_reason is only for"),
    (change("open", note="x" * 2001), "note is 2001 characters long"),
])
def test_malformed_changes_say_what_is_wrong(bad, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        apply_change("f", None, bad, by="anna", at=NOW)


def test_a_done_fix_leaves_the_open_list_and_is_measuring_until_measured():
    assert in_open_list(None) and in_open_list("open") and in_open_list("in_progress")
    assert not in_open_list("done") and not in_open_list("dismissed")
    assert phase(None) == "open" and phase("in_progress") == "in_progress"
    assert phase("done") == "measuring" and phase("done", "too_early") == "measuring"
    assert phase("done", "measured") == "measured" and phase("dismissed", "measured") == "dismissed"


# ---- the return of a dismissed fix ------------------------------------------------------------------
def dismissed(reason, evidence):
    return FixStatus("f", "dismissed", "anna", NOW, dismiss_reason=reason, evidence=evidence)


AT_DISMISSAL = EvidenceSnapshot(sales=120, exposure=100.0, returns=15.0, reference_rate=0.03,
                                expected_savings_per_month=40.0)


def grown(exposure, returns, savings=40.0):
    return EvidenceSnapshot(120 + exposure, 100.0 + exposure, 15.0 + returns, 0.03, savings)


def test_a_dismissed_fix_returns_only_when_new_sales_alone_show_the_problem_again():
    rule = ReturnRule()
    d = dismissed("wrong", AT_DISMISSAL)
    assert not dismissal_lapsed(d, None).comes_back                       # no longer suggested
    not_enough = dismissal_lapsed(d, grown(60, 12))                        # strong, but evidence not doubled
    assert not not_enough.comes_back and "60 sales since the dismissal" in not_enough.reason
    noise = dismissal_lapsed(d, grown(120, 4))                             # doubled, at the reference rate
    assert not noise.comes_back and "do not show the excess" in noise.reason
    back = dismissal_lapsed(d, grown(120, 16))                             # doubled and still 4x the reference
    assert back.comes_back and "still there" in back.reason
    assert dismissal_lapsed(dismissed("already_done", AT_DISMISSAL), grown(120, 16), rule).comes_back
    assert not dismissal_lapsed(dismissed("wrong", None), grown(500, 100)).comes_back   # nothing to compare


def test_not_worth_it_also_needs_the_stakes_to_double():
    d = dismissed("not_worth_it", AT_DISMISSAL)
    small = dismissal_lapsed(d, grown(120, 16, savings=60.0))
    assert not small.comes_back and "under 80.00" in small.reason
    assert dismissal_lapsed(d, grown(120, 16, savings=85.0)).comes_back
    with pytest.raises(ValueError, match="not dismissed"):
        dismissal_lapsed(FixStatus("f", "open", "a", NOW), grown(120, 16))


def test_evidence_snapshot_reads_a_fix_record():
    fix = {"expected_savings_per_month": 12.5,
           "evidence": {"sales": 80, "exposure": 75.5, "returns": 9, "reference_rate": 0.02}}
    snap = EvidenceSnapshot.from_fix(fix)
    assert (snap.sales, snap.exposure, snap.returns, snap.reference_rate, snap.expected_savings_per_month) == \
        (80.0, 75.5, 9.0, 0.02, 12.5)
