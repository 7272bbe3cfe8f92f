"""The capture tables of the service database (migration 0006), read and written with SQLAlchemy Core.

* customer returns — what the returns table does not hold about a return a customer declared on
  the portal or by e-mail: return id, quantity, the form or message it came from, the exchange
  offered and chosen (one row per return event, keyed by ``return_id``);
* photos — metadata of the photos attached to a return (the files live beside the database);
* inbox messages — the e-mails processed, by Message-ID (never recorded twice);
* review list — e-mails a person must look at.

Rows are handed out as plain dicts with aware UTC timestamps. A claim (``claim_return``,
``claim_message``) is an insert decided by the primary key: of two racing writers one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.schema import (
    customer_returns_table,
    inbox_messages_table,
    return_photos_table,
    review_returns_table,
)
from returnrisk.timeutil import iso

__all__ = ["CaptureRecords", "now_utc"]

_CR, _PH, _IN, _RV = customer_returns_table, return_photos_table, inbox_messages_table, review_returns_table


def now_utc():
    return pd.Timestamp.now(tz="UTC").floor("us").to_pydatetime()


def _dicts(rows) -> list[dict]:
    return [dict(r._mapping) for r in rows]


def _plain(row: dict) -> dict:
    """JSON-ready copy: timestamps as ISO text."""
    return {k: iso(v) if hasattr(v, "tzinfo") and hasattr(v, "isoformat") else v for k, v in row.items()}


class CaptureRecords:
    """The capture tables on ``engine`` (the service database's; its schema checked by the store)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    plain = staticmethod(_plain)

    # ---- customer returns --------------------------------------------------------------------
    def claim_return(self, row: dict) -> bool:
        """Insert ``row`` as ``pending``; False when its ``return_id`` is already there (a repeat)."""
        now = now_utc()
        values = {"status": "pending", "review": False, "exchange_offered": False, "resolution": "refund",
                  **row, "created_at": now, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(_CR).values(**values))
        except IntegrityError:
            return False
        return True

    def mark_recorded(self, return_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(_CR).where(_CR.c.return_id == return_id)
                         .values(status="recorded", updated_at=now_utc()))

    def release_return(self, return_id: str) -> None:
        """Forget a claim whose recording failed (so the same return can be sent again)."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(_CR).where(_CR.c.return_id == return_id, _CR.c.status == "pending"))

    def get_return(self, return_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_CR).where(_CR.c.return_id == return_id)).first()
        return dict(row._mapping) if row is not None else None

    def returns_of_request(self, request_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            return _dicts(conn.execute(sa.select(_CR).where(_CR.c.request_id == request_id)
                                       .order_by(_CR.c.created_at, _CR.c.return_id)))

    def returns_of_lines(self, line_ids: Iterable[str]) -> list[dict]:
        ids = list(dict.fromkeys(str(i) for i in line_ids))
        if not ids:
            return []
        with self.engine.connect() as conn:
            return _dicts(conn.execute(sa.select(_CR).where(_CR.c.line_id.in_(ids), _CR.c.status == "recorded")))

    def customer_returns(self, *, exchange: bool | None = None, channel: str | None = None,
                         limit: int | None = None, offset: int = 0) -> list[dict]:
        """Recorded customer returns, newest first; ``exchange`` True: exchanges only, False: the others."""
        query = sa.select(_CR).where(_CR.c.status == "recorded")
        if exchange is not None:
            query = query.where(_CR.c.resolution == "exchange" if exchange else _CR.c.resolution != "exchange")
        if channel:
            query = query.where(_CR.c.channel == channel)
        query = query.order_by(_CR.c.created_at.desc(), _CR.c.return_id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return _dicts(conn.execute(query))

    def customer_returns_frame(self) -> pd.DataFrame:
        rows = self.customer_returns()
        return pd.DataFrame(rows, columns=[c.name for c in _CR.columns])

    # ---- photos ------------------------------------------------------------------------------
    def add_photo(self, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(_PH).values(**row, created_at=now_utc()))

    def photos_of_requests(self, request_ids: Iterable[str]) -> list[dict]:
        ids = list(dict.fromkeys(request_ids))
        if not ids:
            return []
        with self.engine.connect() as conn:
            return _dicts(conn.execute(sa.select(_PH).where(_PH.c.request_id.in_(ids))
                                       .order_by(_PH.c.created_at, _PH.c.photo_id)))

    # ---- inbox messages ----------------------------------------------------------------------
    def claim_message(self, message_id: str, source: str, received_at) -> bool:
        """Mark a message as being processed; False when it was processed (or is being processed) already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(_IN).values(message_id=message_id, source=source, status="processing",
                                                   received_at=received_at, processed_at=now_utc()))
        except IntegrityError:
            return False
        return True

    def finish_message(self, message_id: str, status: str, order_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(_IN).where(_IN.c.message_id == message_id)
                         .values(status=status, order_id=order_id, processed_at=now_utc()))

    def release_message(self, message_id: str) -> None:
        """Forget a message whose processing failed for a passing reason (it is tried again next time)."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(_IN).where(_IN.c.message_id == message_id, _IN.c.status == "processing"))

    def message(self, message_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_IN).where(_IN.c.message_id == message_id)).first()
        return dict(row._mapping) if row is not None else None

    def known_messages(self, message_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(message_ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                found.update(r[0] for r in conn.execute(sa.select(_IN.c.message_id)
                                                        .where(_IN.c.message_id.in_(chunk))))
        return found

    # ---- review list -------------------------------------------------------------------------
    def add_review(self, row: dict) -> str:
        review_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(sa.insert(_RV).values(review_id=review_id, status="open", created_at=now_utc(), **row))
        return review_id

    def review_items(self, *, status: str | None = "open", limit: int | None = 100, offset: int = 0) -> list[dict]:
        query = sa.select(_RV)
        if status:
            query = query.where(_RV.c.status == status)
        query = query.order_by(_RV.c.created_at.desc(), _RV.c.review_id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return _dicts(conn.execute(query))

    def count_review(self, status: str | None = "open") -> int:
        query = sa.select(sa.func.count()).select_from(_RV)
        if status:
            query = query.where(_RV.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
