"""The life of a fix once suggested: its status, the allowed changes, when a dismissed fix returns.

Pure logic (no storage): the service database keeps one row per change (an audit trail, never
overwritten); this module decides whether a change is allowed and what the new state is.

Statuses: ``open`` (implicit: a fix nobody touched) → ``in_progress`` → ``done`` (with the date
it went live and an optional note) or ``dismissed`` (with a reason: ``wrong``, ``not_worth_it``,
``already_done``). See ``docs/fixes.md`` for the transition table and the return rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from returnrisk.errors import ConflictError, InputError
from returnrisk.evidence import excess_probability
from returnrisk.timeutil import to_utc

__all__ = [
    "DISMISS_REASONS",
    "OPEN_LIST_STATUSES",
    "PHASES",
    "STATUSES",
    "TRANSITIONS",
    "EvidenceSnapshot",
    "FixStatus",
    "InvalidTransition",
    "ReturnDecision",
    "ReturnRule",
    "StatusChange",
    "apply_change",
    "dismissal_lapsed",
    "in_open_list",
    "phase",
]

STATUSES: tuple[str, ...] = ("open", "in_progress", "done", "dismissed")
DISMISS_REASONS: tuple[str, ...] = ("wrong", "not_worth_it", "already_done")
#: Statuses shown in the to-do list; a done fix leaves it and is "measuring".
OPEN_LIST_STATUSES: tuple[str, ...] = ("open", "in_progress")
#: What a fix list shows: the status, with ``done`` split by whether its effect is measured yet.
PHASES: tuple[str, ...] = ("open", "in_progress", "measuring", "measured", "dismissed")
MAX_NOTE_LENGTH = 2000

#: Allowed changes. A status may always be set again to amend its fields (a corrected live date,
#: another dismissal reason, a note): a retried request is not a conflict.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"open", "in_progress", "done", "dismissed"}),
    "in_progress": frozenset({"in_progress", "open", "done", "dismissed"}),
    "done": frozenset({"done", "open"}),            # reopen: rolled back, or it did not work
    "dismissed": frozenset({"dismissed", "open"}),  # reconsidered
}


class InvalidTransition(ConflictError):
    """A status change the current status does not allow (API: 409 ``invalid_transition``)."""

    code = "invalid_transition"

    def __init__(self, fix_id: str, current: str, target: str):
        allowed = ", ".join(s for s in STATUSES if s in TRANSITIONS[current] and s != current)
        super().__init__(f"fix {fix_id} is {current}: it cannot become {target} (from {current}: {allowed}, "
                         f"or {current} again to amend it)")
        self.fix_id, self.current, self.target = fix_id, current, target


@dataclass(frozen=True)
class StatusChange:
    """What a person asks for (the body of ``PATCH /v1/fixes/{fix_id}``)."""

    status: str
    live_at: dt.date | None = None
    note: str | None = None
    dismiss_reason: str | None = None


@dataclass(frozen=True)
class EvidenceSnapshot:
    """The evidence behind a suggestion at one moment (kept with a dismissal, compared later)."""

    sales: float
    exposure: float
    returns: float
    reference_rate: float
    expected_savings_per_month: float

    @classmethod
    def from_fix(cls, fix: dict[str, Any]) -> EvidenceSnapshot:
        """From a fix record of :func:`returnrisk.fixes.compute_fixes` (its ``evidence``)."""
        ev = fix["evidence"]
        return cls(float(ev["sales"]), float(ev["exposure"]), float(ev["returns"]),
                   float(ev["reference_rate"]), float(fix["expected_savings_per_month"]))


@dataclass(frozen=True)
class FixStatus:
    """The state of a fix after a change: one row of the audit trail."""

    fix_id: str
    status: str
    changed_by: str
    changed_at: pd.Timestamp
    live_at: dt.date | None = None
    note: str | None = None
    dismiss_reason: str | None = None
    evidence: EvidenceSnapshot | None = None   # for a dismissal: what it was dismissed on

    def to_dict(self) -> dict[str, Any]:
        return {"fix_id": self.fix_id, "status": self.status, "changed_by": self.changed_by,
                "changed_at": self.changed_at.isoformat(),
                "live_at": None if self.live_at is None else self.live_at.isoformat(),
                "note": self.note, "dismiss_reason": self.dismiss_reason}


def _validate(change: StatusChange, at: pd.Timestamp) -> None:
    if change.status not in STATUSES:
        raise InputError(f"status {change.status!r} is not one of {', '.join(STATUSES)}")
    if change.note is not None and len(change.note) > MAX_NOTE_LENGTH:
        raise InputError(f"note is {len(change.note)} characters long: keep it under {MAX_NOTE_LENGTH}")
    if change.live_at is not None and change.status != "done":
        raise InputError(f"live_at is only for status done (got status {change.status}): leave it out")
    if change.dismiss_reason is not None and change.status != "dismissed":
        raise InputError(f"dismiss_reason is only for status dismissed (got status {change.status}): leave it out")
    if change.dismiss_reason is not None and change.dismiss_reason not in DISMISS_REASONS:
        raise InputError(f"dismiss_reason {change.dismiss_reason!r} is not one of {', '.join(DISMISS_REASONS)}")
    if change.live_at is not None and change.live_at > at.date():
        raise InputError(f"live_at {change.live_at.isoformat()} is in the future (today is {at.date().isoformat()}): "
                         "mark the fix done once it is live")


def apply_change(fix_id: str, current: FixStatus | None, change: StatusChange, *, by: str,
                 at: pd.Timestamp, evidence: EvidenceSnapshot | None = None) -> FixStatus:
    """The new state of fix ``fix_id`` after ``change`` by ``by`` at ``at``.

    ``current`` is its latest state (``None``: never changed, i.e. ``open``). Setting the current
    status again amends it (fields left out keep their value). ``evidence`` is stored with a
    dismissal (for :func:`dismissal_lapsed`). Raises :class:`InputError` for a malformed change
    (a done fix without its live date, an unknown reason…) and :class:`InvalidTransition` for a
    change the current status does not allow.
    """
    at = to_utc(at)
    _validate(change, at)
    before = "open" if current is None else current.status
    if change.status not in TRANSITIONS[before]:
        raise InvalidTransition(fix_id, before, change.status)
    amend = current is not None and change.status == before
    if change.status == "done":
        live_at = change.live_at or (current.live_at if amend else None)
        if live_at is None:
            raise InputError("a fix marked done needs live_at, the date it went live (e.g. "
                             f"{at.date().isoformat()})")
        note = change.note if change.note is not None else (current.note if amend else None)
        return FixStatus(fix_id, "done", by, at, live_at=live_at, note=note)
    if change.status == "dismissed":
        reason = change.dismiss_reason or (current.dismiss_reason if amend else None)
        if reason is None:
            raise InputError(f"a dismissed fix needs dismiss_reason: one of {', '.join(DISMISS_REASONS)}")
        note = change.note if change.note is not None else (current.note if amend else None)
        kept = evidence if evidence is not None else (current.evidence if amend else None)
        return FixStatus(fix_id, "dismissed", by, at, note=note, dismiss_reason=reason, evidence=kept)
    note = change.note if change.note is not None else (current.note if amend else None)
    return FixStatus(fix_id, change.status, by, at, note=note)


def in_open_list(status: str | None) -> bool:
    """Whether a fix with this status belongs to the to-do list (``None``: never changed)."""
    return (status or "open") in OPEN_LIST_STATUSES


def phase(status: str | None, effect_status: str | None = None) -> str:
    """What a list shows: the status, a done fix being ``measuring`` until its effect is measured.

    ``effect_status`` is :attr:`returnrisk.fixes.effect.FixEffect.status` (``measured`` once the
    interval is informative).
    """
    status = status or "open"
    if status == "done":
        return "measured" if effect_status == "measured" else "measuring"
    return status


@dataclass(frozen=True)
class ReturnRule:
    """When the evidence behind a dismissed fix has grown materially (see :func:`dismissal_lapsed`)."""

    growth: float = 2.0
    savings_factor: float = 2.0
    flag_threshold: float = 0.95
    prior_strength: float = 20.0
    prior_min_returns: float = 2.0


@dataclass(frozen=True)
class ReturnDecision:
    comes_back: bool
    reason: str


def dismissal_lapsed(dismissed: FixStatus, now: EvidenceSnapshot | None,
                     rule: ReturnRule = ReturnRule()) -> ReturnDecision:
    """Whether a dismissed fix returns to the open list, given its evidence ``now``.

    It returns only if it is suggested again (``now`` not ``None``) **and** the sales made since
    the dismissal, on their own, (a) are at least ``growth - 1`` times the exposure it was
    dismissed on (the evidence has at least doubled) and (b) show the excess again: P(rate of the
    lever's reasons > reference) ≥ ``flag_threshold`` under the suggestions' beta prior. For
    ``not_worth_it`` the expected savings per month must also have grown ``savings_factor``-fold.
    """
    if dismissed.status != "dismissed":
        raise ValueError(f"fix {dismissed.fix_id} is {dismissed.status}, not dismissed")
    if now is None:
        return ReturnDecision(False, "no longer suggested")
    before = dismissed.evidence
    if before is None:
        return ReturnDecision(False, "dismissed without a record of its evidence: it stays dismissed until "
                                     "someone reopens it")
    new_exposure = now.exposure - before.exposure
    new_returns = now.returns - before.returns
    needed = (rule.growth - 1.0) * before.exposure
    if new_exposure <= 0 or new_exposure < needed:
        return ReturnDecision(False, f"{max(new_exposure, 0):.0f} sales since the dismissal; it returns after "
                                     f"{needed:.0f} (the evidence it was dismissed on, again)")
    ref = min(max(now.reference_rate, 1e-4), 1 - 1e-4)
    strength = max(rule.prior_strength, rule.prior_min_returns / ref)
    p_worse = float(excess_probability(max(new_returns, 0.0), new_exposure, ref, strength))
    if p_worse < rule.flag_threshold:
        return ReturnDecision(False, f"the sales since the dismissal do not show the excess on their own "
                                     f"(P(worse) {p_worse:.2f} < {rule.flag_threshold})")
    if dismissed.dismiss_reason == "not_worth_it":
        wanted = rule.savings_factor * before.expected_savings_per_month
        if now.expected_savings_per_month < wanted or now.expected_savings_per_month <= 0:
            return ReturnDecision(False, f"expected savings {now.expected_savings_per_month:.2f} a month, under "
                                         f"{wanted:.2f} ({rule.savings_factor:g}× those when dismissed)")
    return ReturnDecision(True, f"{new_returns:.0f} returns of its reasons in {new_exposure:.0f} sales since the "
                                f"dismissal (P(worse) {p_worse:.2f}): the problem is still there")
