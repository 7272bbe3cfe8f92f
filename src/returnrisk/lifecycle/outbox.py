"""The alerts outbox in the service database: every alert stored once, sent at least once to
every webhook, never lost across restarts.

* :meth:`AlertOutbox.enqueue` stores new alerts and, in the same transaction, one delivery row
  per configured destination (a destination is the SHA-256 of its URL: the URL, which often
  holds a token, is not stored). An alert already stored (same id) is left as it is.
* :meth:`AlertOutbox.claim` takes due deliveries: a conditional update pushes each one's
  ``next_attempt_at`` a lease ahead and counts the attempt, so two workers never send the same
  delivery at once, and a worker that dies mid-send leaves it due again when the lease ends.
* :meth:`AlertOutbox.sent` marks a delivery done only after the webhook acknowledged it; a
  failure (:meth:`AlertOutbox.failed`) schedules the next attempt with exponential backoff
  (:func:`backoff`). A delivery killed between the webhook's answer and ``sent`` is sent again
  — with the same alert id, which the receiver can use to drop it.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.schema import alert_deliveries_table as deliveries
from returnrisk.db.schema import alerts_table as alerts
from returnrisk.lifecycle.alerts import Alert
from returnrisk.timeutil import to_utc

__all__ = ["AlertOutbox", "Claimed", "StoredAlert", "backoff", "destination_key"]

log = logging.getLogger(__name__)


def destination_key(url: str) -> str:
    """How a webhook URL is recorded: 32 hex digits of its SHA-256."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def backoff(attempts: int, base: float, cap: float, jitter: float = 0.2) -> float:
    """Seconds before attempt ``attempts + 1``: ``base × 2^(attempts − 1)``, at most ``cap``, ± ``jitter``."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay * (1.0 + random.uniform(-jitter, jitter))


def _dt(value: pd.Timestamp | datetime) -> datetime:
    return to_utc(value).to_pydatetime()


@dataclass(frozen=True)
class StoredAlert:
    alert_id: str
    kind: str
    product_id: str | None
    fix_id: str | None
    created_at: pd.Timestamp
    text: str
    payload: dict
    deliveries: int = 0
    delivered: int = 0
    attempts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.alert_id, "kind": self.kind, "product_id": self.product_id, "fix_id": self.fix_id,
                "created_at": self.created_at.isoformat(), "text": self.text, "deliveries": self.deliveries,
                "delivered": self.delivered, "attempts": self.attempts, "last_error": self.last_error,
                "details": self.payload.get("details", {})}


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by this worker: send ``payload`` to the destination, then report."""

    alert_id: str
    destination: str
    attempts: int
    payload: dict


class AlertOutbox:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ---- writes ------------------------------------------------------------------------------
    def enqueue(self, found: list[Alert], destinations: list[str], *, now: pd.Timestamp, lang: str = "en",
                dashboard_url: str | None = None) -> list[str]:
        """Store the alerts not stored yet, each with its deliveries; the ids of the new ones."""
        created = []
        for alert in found:
            payload = alert.payload(to_utc(now), lang, dashboard_url)
            try:
                with self.engine.begin() as conn:
                    if conn.execute(sa.select(alerts.c.alert_id).where(alerts.c.alert_id == alert.alert_id)).first():
                        continue
                    conn.execute(sa.insert(alerts).values(
                        alert_id=alert.alert_id, kind=alert.kind, product_id=alert.product_id, fix_id=alert.fix_id,
                        created_at=_dt(now), text=payload["text"], payload=payload))
                    for destination in destinations:
                        conn.execute(sa.insert(deliveries).values(alert_id=alert.alert_id, destination=destination,
                                                                  attempts=0, next_attempt_at=_dt(now)))
            except IntegrityError:
                continue   # stored by another process meanwhile
            created.append(alert.alert_id)
        if created:
            log.info("%d new alert(s) queued for %d destination(s)", len(created), len(destinations))
        return created

    def add_destinations(self, destinations: list[str], *, since: pd.Timestamp, now: pd.Timestamp) -> int:
        """Deliveries for alerts created since ``since`` to destinations configured after them."""
        added = 0
        with self.engine.begin() as conn:
            recent = [r.alert_id for r in conn.execute(sa.select(alerts.c.alert_id)
                                                       .where(alerts.c.created_at >= _dt(since)))]
            if not recent:
                return 0
            have = {(r.alert_id, r.destination) for r in conn.execute(
                sa.select(deliveries.c.alert_id, deliveries.c.destination).where(deliveries.c.alert_id.in_(recent)))}
            for alert_id in recent:
                for destination in destinations:
                    if (alert_id, destination) not in have:
                        conn.execute(sa.insert(deliveries).values(alert_id=alert_id, destination=destination,
                                                                  attempts=0, next_attempt_at=_dt(now)))
                        added += 1
        return added

    def claim(self, destinations: list[str], *, now: pd.Timestamp, lease_seconds: float, limit: int = 50
              ) -> list[Claimed]:
        """Due deliveries to ``destinations``, taken for ``lease_seconds`` (oldest first)."""
        if not destinations:
            return []
        moment = _dt(now)
        query = (sa.select(deliveries.c.alert_id, deliveries.c.destination, deliveries.c.attempts, alerts.c.payload)
                 .join(alerts, alerts.c.alert_id == deliveries.c.alert_id)
                 .where(deliveries.c.sent_at.is_(None), deliveries.c.next_attempt_at <= moment,
                        deliveries.c.destination.in_(destinations))
                 .order_by(deliveries.c.next_attempt_at, alerts.c.created_at, deliveries.c.alert_id).limit(limit))
        with self.engine.connect() as conn:
            due = list(conn.execute(query))
        until = _dt(to_utc(now) + pd.Timedelta(seconds=lease_seconds))
        taken = []
        for row in due:
            with self.engine.begin() as conn:
                got = conn.execute(sa.update(deliveries).where(
                    deliveries.c.alert_id == row.alert_id, deliveries.c.destination == row.destination,
                    deliveries.c.sent_at.is_(None), deliveries.c.next_attempt_at <= moment,
                ).values(next_attempt_at=until, attempts=deliveries.c.attempts + 1)).rowcount
            if got == 1:
                taken.append(Claimed(row.alert_id, row.destination, int(row.attempts) + 1, row.payload))
        return taken

    def sent(self, claimed: Claimed, *, now: pd.Timestamp) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(deliveries).where(deliveries.c.alert_id == claimed.alert_id,
                                                     deliveries.c.destination == claimed.destination)
                         .values(sent_at=_dt(now), last_error=None))

    def failed(self, claimed: Claimed, error: str, *, now: pd.Timestamp, retry_in: float) -> None:
        next_at = _dt(to_utc(now) + pd.Timedelta(seconds=retry_in))
        with self.engine.begin() as conn:
            conn.execute(sa.update(deliveries).where(deliveries.c.alert_id == claimed.alert_id,
                                                     deliveries.c.destination == claimed.destination,
                                                     deliveries.c.sent_at.is_(None))
                         .values(next_attempt_at=next_at, last_error=error[:1000]))

    # ---- reads -------------------------------------------------------------------------------
    def next_due(self, destinations: list[str]) -> pd.Timestamp | None:
        """When the next unsent delivery is due (``None``: nothing waiting)."""
        if not destinations:
            return None
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.sent_at.is_(None), deliveries.c.destination.in_(destinations))).scalar_one()
        return None if value is None else to_utc(pd.Timestamp(value) if value.tzinfo else
                                                 pd.Timestamp(value, tz="UTC"))

    def recent(self, *, since: pd.Timestamp | None = None, kind: str | None = None, limit: int = 1000
             ) -> list[StoredAlert]:
        """Alerts, newest first, with how far their delivery got."""
        stats = (sa.select(deliveries.c.alert_id, sa.func.count().label("n"),
                           sa.func.count(deliveries.c.sent_at).label("sent"),
                           sa.func.max(deliveries.c.attempts).label("attempts"),
                           sa.func.max(deliveries.c.last_error).label("error"))
                 .group_by(deliveries.c.alert_id).subquery())
        query = (sa.select(alerts, stats.c.n, stats.c.sent, stats.c.attempts, stats.c.error)
                 .outerjoin(stats, stats.c.alert_id == alerts.c.alert_id)
                 .order_by(alerts.c.created_at.desc(), alerts.c.alert_id).limit(limit))
        if since is not None:
            query = query.where(alerts.c.created_at >= _dt(since))
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [StoredAlert(r.alert_id, r.kind, r.product_id, r.fix_id, pd.Timestamp(r.created_at), r.text,
                            r.payload, int(r.n or 0), int(r.sent or 0), int(r.attempts or 0), r.error) for r in rows]
