"""Changing a fix's status: which fix, its effective status, the rules, the trail.

:func:`effective` is what a list shows and what a change starts from: the stored status, except
that a dismissed fix whose evidence has grown materially since (see
:func:`returnrisk.fixes.status.dismissal_lapsed`) is ``open`` again. :func:`set_status` applies
a :class:`~returnrisk.fixes.status.StatusChange` (the rules of :mod:`returnrisk.fixes.status`)
and appends it to the trail (:class:`~returnrisk.lifecycle.statuses.FixStatusStore`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from returnrisk.errors import NotFoundError
from returnrisk.fixes.status import (
    EvidenceSnapshot,
    FixStatus,
    ReturnRule,
    StatusChange,
    apply_change,
    dismissal_lapsed,
)
from returnrisk.lifecycle.statuses import FixStatusStore, StatusRace, StoredStatus

__all__ = ["Effective", "FixNotFound", "effective", "set_status"]

_ATTEMPTS = 5


class FixNotFound(NotFoundError):
    """No suggestion and no recorded status has this fix id."""

    code = "fix_not_found"


@dataclass(frozen=True)
class Effective:
    """The status a fix has now: ``stored`` as recorded, ``status`` after the return rule."""

    status: str
    stored: StoredStatus | None
    returned: str | None = None   # why a dismissed fix is open again

    @property
    def current(self) -> FixStatus | None:
        """What a change starts from (``None``: open, never changed or back after a dismissal)."""
        return None if self.stored is None or self.returned else self.stored.status


def _snapshot(fix: dict | None) -> EvidenceSnapshot | None:
    if fix is None:
        return None
    try:
        return EvidenceSnapshot.from_fix(fix)
    except (KeyError, TypeError, ValueError):
        return None


def effective(stored: StoredStatus | None, fix: dict | None, rule: ReturnRule) -> Effective:
    """The fix's status now. ``fix`` is its suggestion in the current report (``None``: not suggested)."""
    if stored is None:
        return Effective("open", None)
    if stored.status.status != "dismissed":
        return Effective(stored.status.status, stored)
    decision = dismissal_lapsed(stored.status, _snapshot(fix), rule)
    if decision.comes_back:
        return Effective("open", stored, decision.reason)
    return Effective("dismissed", stored)


def set_status(store: FixStatusStore, fix_id: str, change: StatusChange, *, by: str, at: pd.Timestamp,
               fix: dict | None, rule: ReturnRule) -> StoredStatus:
    """Apply ``change`` to fix ``fix_id`` by ``by`` at ``at`` and record it; the new stored status.

    ``fix`` is its suggestion in the current report (``None`` when it is not suggested now: the
    fix must then be known from an earlier change). Raises :class:`FixNotFound`,
    :class:`~returnrisk.errors.InputError` (a malformed change) or
    :class:`~returnrisk.fixes.status.InvalidTransition` (409).
    """
    for _ in range(_ATTEMPTS):
        stored = store.latest(fix_id)
        if fix is None and stored is None:
            raise FixNotFound(f"fix {fix_id} is neither among the current suggestions nor recorded: check the id "
                              "(GET /v1/fixes lists them with their fix_id)")
        now = effective(stored, fix, rule)
        new = apply_change(fix_id, now.current, change, by=by, at=at, evidence=_snapshot(fix))
        product_id, size, lever = ((fix["product_id"], fix.get("size"), fix["lever"]) if fix is not None
                                   else (stored.product_id, stored.size, stored.lever))
        suggestion = fix if fix is not None else stored.suggestion
        try:
            return store.append(new, product_id=product_id, size=size, lever=lever, suggestion=suggestion,
                                decided_on=None if stored is None else stored.change_id)
        except StatusRace:
            continue
    raise StatusRace(f"fix {fix_id} kept changing while this change was decided: try again")
