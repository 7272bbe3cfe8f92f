"""Order lines the platform sent by webhook, kept in the service database until the shop's files have them.

:class:`WebhookOrderStore` holds the ``returnrisk_webhook_order_lines`` table
(:mod:`returnrisk.db.schema`, revision 0007). An order is recorded as a whole: a newer version
(``orders/updated``) replaces all its rows — a line removed by an order edit disappears, a changed
quantity is updated, an order that became a test or was cancelled before fulfilment loses its
lines — and an older version than the one stored (Shopify may deliver out of order; its
``updated_at`` decides) changes nothing. The same version twice is ``unchanged``: nothing written.

The lines answer "is this an order line, when was it ordered, how many units" for returns of
orders newer than the shop's files (:class:`~returnrisk.serving.returns_desk.ReturnsDesk`), show a
customer her order on the return portal and let the e-mail inbox find it
(:meth:`WebhookOrderStore.order_lines`, :meth:`WebhookOrderStore.lines`,
:meth:`WebhookOrderStore.order_numbers`: the lookup of :mod:`returnrisk.capture.orders`), and are
exported with the returns (:func:`returnrisk.operations.export.export_returns`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from returnrisk.db.migrate import ensure_schema
from returnrisk.db.schema import webhook_order_lines_table as table
from returnrisk.operations.return_events import utc_datetime

__all__ = ["WebhookOrderStore", "OrderOutcome", "LINE_COLUMNS"]

log = logging.getLogger(__name__)

#: The contract's ``order_lines`` columns, then the product's title and brand.
LINE_COLUMNS: list[str] = ["line_id", "order_id", "customer_id", "product_id", "size", "quantity", "unit_price",
                           "ordered_at", "order_number", "currency", "title", "brand"]


@dataclass(frozen=True)
class OrderOutcome:
    """``created`` (new order), ``updated`` (rows replaced), ``unchanged`` (the same version again) or
    ``stale`` (older than the stored version: ignored); ``written`` rows now stored, ``removed`` rows gone."""

    status: str
    written: int
    removed: int

    def to_dict(self) -> dict:
        return {"status": self.status, "written": self.written, "removed": self.removed}


def _value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return utc_datetime(value)
    if hasattr(value, "item"):   # numpy scalars
        return value.item()
    return value


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


class WebhookOrderStore:
    """The webhook order lines, on the engine of the service database (its schema is checked on first
    use, as :meth:`returnrisk.operations.store.ReturnStore.prepare` does: an empty database is created,
    one that is behind is refused)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            ensure_schema(self.engine)
            self._ready = True

    def record_order(self, order_id: str, lines: pd.DataFrame, *, updated_at: datetime | None = None,
                     platform: str = "shopify") -> OrderOutcome:
        """Store the order's kept lines (``lines`` has :data:`LINE_COLUMNS`), replacing its previous rows."""
        self._ensure()
        updated = utc_datetime(updated_at) if updated_at is not None else None
        rows = [{c: _value(row[c]) for c in LINE_COLUMNS} for row in lines.to_dict("records")]
        for row in rows:
            row["order_id"] = order_id
            row["quantity"] = int(row["quantity"])
        with self.engine.begin() as conn:
            existing = [dict(r._mapping) for r in conn.execute(
                sa.select(table).where(table.c.order_id == order_id).order_by(table.c.line_id))]
            stored_version = next((r["order_updated_at"] for r in existing if r["order_updated_at"] is not None), None)
            if existing and updated is not None and stored_version is not None and updated < stored_version:
                log.info("order %s: webhook version %s older than the stored %s, ignored", order_id, updated,
                         stored_version)
                return OrderOutcome("stale", 0, 0)
            new = sorted(rows, key=lambda r: r["line_id"])
            if existing and len(existing) == len(new) and all(
                    all(_same(old[c], row[c]) for c in LINE_COLUMNS) for old, row in zip(existing, new)):
                return OrderOutcome("unchanged", len(new), 0)
            now = utc_datetime(pd.Timestamp.now(tz="UTC"))
            conn.execute(sa.delete(table).where(table.c.order_id == order_id))
            if new:
                conn.execute(sa.insert(table), [{**row, "platform": platform, "order_updated_at": updated,
                                                 "recorded_at": now} for row in new])
        kept = {r["line_id"] for r in new}
        removed = sum(1 for r in existing if r["line_id"] not in kept)
        status = "updated" if existing else ("created" if new else "unchanged")
        log.info("order %s from webhook: %s, %d lines stored, %d removed", order_id, status, len(new), removed)
        return OrderOutcome(status, len(new), removed)

    def line(self, line_id: str) -> tuple[pd.Timestamp, int] | None:
        """``(ordered_at, quantity)`` of a webhook order line, ``None`` if there is none."""
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.ordered_at, table.c.quantity)
                               .where(table.c.line_id == line_id)).first()
        return None if row is None else (pd.Timestamp(row.ordered_at), int(row.quantity))

    def count(self) -> int:
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def order_lines(self, order_id: str) -> pd.DataFrame:
        """The lines of order ``order_id`` (:data:`LINE_COLUMNS`, ``ordered_at`` aware UTC; empty if none),
        in a stable order (the line ids')."""
        return self._select(table.c.order_id == str(order_id))

    def lines(self, line_ids: Iterable[str]) -> pd.DataFrame:
        """The webhook order lines among ``line_ids`` (:data:`LINE_COLUMNS`; the others are left out)."""
        wanted = list(dict.fromkeys(str(i) for i in line_ids))
        if not wanted:
            return _frame([])
        frames = [self._select(table.c.line_id.in_(wanted[start:start + 500]))
                  for start in range(0, len(wanted), 500)]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def order_numbers(self) -> pd.DataFrame:
        """``order_id`` and ``order_number`` of every webhook order (one row per order; the number may be
        missing)."""
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.order_id, table.c.order_number).distinct()
                                .order_by(table.c.order_id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=["order_id", "order_number"], dtype=object)

    def _select(self, where=sa.true(), order_by=(table.c.order_id, table.c.line_id)) -> pd.DataFrame:
        self._ensure()
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                sa.select(*(table.c[c] for c in LINE_COLUMNS)).where(where).order_by(*order_by))]
        return _frame(rows)

    def frame(self) -> pd.DataFrame:
        """Every webhook order line (:data:`LINE_COLUMNS`, ``ordered_at`` aware UTC), by order time."""
        return self._select(order_by=(table.c.ordered_at, table.c.line_id))


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=LINE_COLUMNS)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame
