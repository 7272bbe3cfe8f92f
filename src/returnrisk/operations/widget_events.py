"""What shoppers did with the size advice: counts per product, size and event (``POST /v1/events``).

The widget reports ``shown`` (the advice was displayed; size empty, or the recommended size for a
logged-in customer) and ``size_selected`` (the shopper then picked that size in the shop's size
picker). Only counts are kept — no shopper, no time series beyond the first and last event — so
the shop can later compare what was chosen with what was advised, and the table stays one row per
product, size and event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.schema import widget_events_table

__all__ = ["WidgetEvents", "EventCount", "EVENTS"]

#: The events the widget reports.
EVENTS = ("shown", "size_selected")

_T = widget_events_table


@dataclass(frozen=True)
class EventCount:
    product_id: str
    size: str | None
    event: str
    count: int
    first_at: datetime
    last_at: datetime

    def to_dict(self) -> dict:
        return {"product_id": self.product_id, "size": self.size, "event": self.event, "count": self.count,
                "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat()}


class WidgetEvents:
    """Counts in the service database (its schema is checked by the returns store at start-up)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def record(self, product_id: str, size: str | None, event: str, now: datetime | None = None) -> None:
        """Add one ``event`` of (product, size); concurrent first events of a key both count."""
        if event not in EVENTS:
            raise ValueError(f"event {event!r} is not one of {', '.join(EVENTS)}")
        now = now or datetime.now(timezone.utc)
        key = (_T.c.product_id == product_id) & (_T.c.size == (size or "")) & (_T.c.event == event)
        for _ in range(3):   # an insert that lost a race against another first event becomes an update
            try:
                with self.engine.begin() as conn:
                    updated = conn.execute(sa.update(_T).where(key).values(count=_T.c.count + 1, last_at=now))
                    if updated.rowcount == 0:
                        conn.execute(sa.insert(_T).values(product_id=product_id, size=size or "", event=event,
                                                          count=1, first_at=now, last_at=now))
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"could not count event {event!r} of {product_id!r}")

    def counts(self, product_id: str | None = None) -> list[EventCount]:
        """Every count (of one product if given), by product, size and event."""
        query = sa.select(_T).order_by(_T.c.product_id, _T.c.size, _T.c.event)
        if product_id is not None:
            query = query.where(_T.c.product_id == product_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [EventCount(r.product_id, r.size or None, r.event, int(r.count), r.first_at, r.last_at) for r in rows]
