"""What the merchant reads of the capture channels: customer returns, the review list, the channel figures.

Used by ``GET /v1/returns`` (``?exchange=true``), ``GET /v1/review/returns``, the ``capture`` part of
``GET /v1/kpis`` and the dashboard (overview, review page). Blocking: call from a thread.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from returnrisk.capture.figures import capture_figures
from returnrisk.capture.listing import customer_return_rows
from returnrisk.capture.recording import CaptureStoreUnavailable
from returnrisk.capture.records import CaptureRecords
from returnrisk.config import Economics
from returnrisk.errors import ReturnRiskError
from returnrisk.operations.store import ReturnStore
from returnrisk.serving.shops import ServiceShop

__all__ = ["CaptureDesk"]

log = logging.getLogger(__name__)


def _read(read):
    try:
        return read()
    except SQLAlchemyError as exc:
        log.error("service database error: %s", str(exc).splitlines()[0])
        raise CaptureStoreUnavailable() from None


class CaptureDesk:
    def __init__(self, store: ReturnStore, records: CaptureRecords, shop: ServiceShop, economics: Economics):
        self.store, self.records, self._shop, self._economics = store, records, shop, economics

    def returns(self, *, exchange: bool | None, channel: str | None, limit: int, offset: int) -> dict:
        rows = _read(lambda: customer_return_rows(self.store, self.records, exchange=exchange, channel=channel,
                                                  limit=limit, offset=offset))
        return {"returns": rows, "count": len(rows), "limit": limit, "offset": offset}

    def review(self, *, status: str | None, limit: int, offset: int) -> dict:
        rows = _read(lambda: self.records.review_items(status=status, limit=limit, offset=offset))
        items = [{**CaptureRecords.plain(r), "return_ids": r["return_ids"].split(",") if r["return_ids"] else []}
                 for r in rows]
        return {"items": items, "count": len(items), "open": _read(lambda: self.records.count_review("open")),
                "limit": limit, "offset": offset}

    def figures(self) -> dict:
        """Returns by channel, share with a reason before/after the portal, exchanges vs refunds."""
        stored = _read(self.store.frame)
        customer = _read(self.records.customer_returns_frame)
        try:
            shop = self._shop.get().shop
        except ReturnRiskError as exc:   # figures of the recorded returns alone, said so
            log.info("capture figures without the shop's history: %s", exc)
            shop = None
        figures = capture_figures(stored, customer, shop, self._economics.currency)
        figures["history"] = shop is not None
        return figures
