"""Fix statuses in the service database: an append-only trail of changes and the current status.

Every change is a new row of ``returnrisk_fix_status_changes`` (who, when, the new status and its
fields, the evidence at that moment and the suggestion as last known) — never updated, never
deleted. ``returnrisk_fix_statuses`` points at each fix's latest change. Both are written in one
transaction, and only if the fix's latest change is still the one the new status was decided on
(compare and set): two people changing one fix at once cannot interleave; the second is asked
to decide again on the new state (:class:`StatusRace`, retried by
:func:`returnrisk.lifecycle.changes.set_status`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.schema import fix_status_changes_table as changes
from returnrisk.db.schema import fix_statuses_table as current
from returnrisk.errors import ConflictError
from returnrisk.fixes.status import EvidenceSnapshot, FixStatus

__all__ = ["FixStatusStore", "StatusRace", "StoredStatus"]

log = logging.getLogger(__name__)


class StatusRace(ConflictError):
    """The fix changed between reading its status and writing the new one (decide again)."""

    code = "fix_changed_meanwhile"


@dataclass(frozen=True)
class StoredStatus:
    """One change of the trail: the status after it, what fix it is about, and its context."""

    change_id: int
    status: FixStatus
    product_id: str
    size: str | None
    lever: str
    suggestion: dict | None   # the suggestion's JSON as last known at this change

    @property
    def fix_id(self) -> str:
        return self.status.fix_id

    def to_dict(self) -> dict[str, Any]:
        return {**self.status.to_dict(), "change_id": self.change_id, "product_id": self.product_id,
                "size": self.size, "lever": self.lever}


def _evidence(value: dict | None) -> EvidenceSnapshot | None:
    if not value:
        return None
    return EvidenceSnapshot(**{k: float(value[k]) for k in EvidenceSnapshot.__dataclass_fields__})


def _row(row) -> StoredStatus:
    m = row._mapping
    status = FixStatus(m["fix_id"], m["status"], m["changed_by"], pd.Timestamp(m["changed_at"]),
                       live_at=m["live_at"], note=m["note"], dismiss_reason=m["dismiss_reason"],
                       evidence=_evidence(m["evidence"]))
    return StoredStatus(int(m["change_id"]), status, m["product_id"], m["size"], m["lever"], m["suggestion"])


class FixStatusStore:
    """Reads and appends fix statuses (``engine``: the service database, schema at the head)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ---- reads -------------------------------------------------------------------------------
    def _latest_query(self):
        return sa.select(changes).join(current, current.c.change_id == changes.c.change_id)

    def latest(self, fix_id: str) -> StoredStatus | None:
        """The fix's current status (its latest change), ``None`` if nobody ever changed it."""
        with self.engine.connect() as conn:
            row = conn.execute(self._latest_query().where(current.c.fix_id == fix_id)).first()
        return None if row is None else _row(row)

    def all_latest(self) -> dict[str, StoredStatus]:
        """Every changed fix's current status, by fix id."""
        with self.engine.connect() as conn:
            return {r.fix_id: r for r in map(_row, conn.execute(self._latest_query()))}

    def history(self, fix_id: str) -> list[StoredStatus]:
        """Every change of the fix, oldest first (the audit trail)."""
        query = sa.select(changes).where(changes.c.fix_id == fix_id).order_by(changes.c.change_id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def version(self) -> int:
        """The latest change id (0: none): it grows with every change, so caches can key on it."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.change_id), 0))).scalar_one())

    # ---- writes ------------------------------------------------------------------------------
    def append(self, new: FixStatus, *, product_id: str, size: str | None, lever: str, suggestion: dict | None,
               decided_on: int | None) -> StoredStatus:
        """Append ``new`` and make it the current status, if the latest change is still ``decided_on``
        (``None``: the fix had no status). Raises :class:`StatusRace` otherwise."""
        evidence = None if new.evidence is None else asdict(new.evidence)
        changed_at = new.changed_at.to_pydatetime() if isinstance(new.changed_at, pd.Timestamp) else new.changed_at
        values = {"fix_id": new.fix_id, "product_id": product_id, "size": size, "lever": lever,
                  "status": new.status, "changed_by": new.changed_by, "changed_at": changed_at,
                  "live_at": new.live_at, "note": new.note, "dismiss_reason": new.dismiss_reason,
                  "evidence": evidence, "suggestion": suggestion}
        try:
            with self.engine.begin() as conn:
                change_id = int(conn.execute(sa.insert(changes).values(**values)).inserted_primary_key[0])
                if decided_on is None:
                    conn.execute(sa.insert(current).values(fix_id=new.fix_id, change_id=change_id, status=new.status))
                else:
                    moved = conn.execute(sa.update(current).where(current.c.fix_id == new.fix_id,
                                                                   current.c.change_id == decided_on)
                                         .values(change_id=change_id, status=new.status)).rowcount
                    if moved != 1:
                        raise StatusRace(new.fix_id)   # rolls the appended change back with the transaction
        except IntegrityError:
            raise StatusRace(new.fix_id) from None    # another first change of this fix won
        log.info("fix %s is %s (by %s)", new.fix_id, new.status, new.changed_by)
        return StoredStatus(change_id, new, product_id, size, lever, suggestion)
