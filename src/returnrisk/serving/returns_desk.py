"""Returns recorded through the API: the line checked against the shop, the reason inferred, stored once.

:class:`ReturnsDesk` is what ``POST /v1/returns``, ``PATCH /v1/returns/{line_id}`` and
``GET /v1/returns/{line_id}`` call. A return is acknowledged only after the store committed it
(:mod:`returnrisk.operations.store`: idempotent per line, conflicts refused); the line must be one
of the shop's order lines and not ordered after it was returned; a return sent with the
customer's words only gets the code the reason classifier infers (refined on the shop's own
returns). A database failure is a 503 that says nothing was recorded. Blocking: call from a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from returnrisk.errors import InputError, NotFoundError, UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import LoadedShop
from returnrisk.operations.store import RecordOutcome, RefundEvent, ReturnEvent, ReturnStore, StoredReturn
from returnrisk.serving.shops import ServiceShop
from returnrisk.timeutil import iso

__all__ = ["ReturnsDesk", "StoreUnavailable"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreUnavailable(UnavailableError):
    """The returns database cannot be reached; nothing was recorded."""

    code = "store_unavailable"

    def __init__(self):
        super().__init__("the returns database cannot be reached: nothing was recorded; retry the same request "
                         "(it is idempotent)")


def _stored(write: Callable[[], T]) -> T:
    try:
        return write()
    except SQLAlchemyError as exc:
        log.error("returns database error: %s", str(exc).splitlines()[0])
        raise StoreUnavailable() from None


class ReturnsDesk:
    def __init__(self, store: ReturnStore, shop: ServiceShop, reasons: ReasonInferrer):
        self.store = store
        self._shop = shop
        self._reasons = reasons

    def record(self, *, line_id: str, returned_at: datetime, channel: str, reason_code: str | None = None,
               reason_text: str | None = None, refunded_at: datetime | None = None,
               return_cost: float | None = None) -> RecordOutcome:
        """Record a return (``created``, ``unchanged`` or ``updated``); conflicts raise ``ReturnConflict``."""
        loaded = self._shop.get()
        _check_line(loaded, line_id, returned_at)
        inferred = {}
        if reason_code is None:
            result = self._reasons.infer(reason_text, key=(loaded.folder, loaded.signature),
                                         returns=loaded.shop.returns)
            inferred = {"reason_code_inferred": result.code, "reason_confidence": round(result.confidence, 4),
                        "reason_review": result.review}
        event = ReturnEvent(line_id, returned_at, channel, reason_code=reason_code, reason_text=reason_text,
                            refunded_at=refunded_at, return_cost=return_cost, **inferred)
        return _stored(lambda: self.store.record(event))

    def record_refund(self, line_id: str, refunded_at: datetime, return_cost: float | None = None) -> RecordOutcome:
        """Record the refund of a recorded return (idempotent; a different refund raises ``ReturnConflict``)."""
        event = RefundEvent(line_id, refunded_at, return_cost)
        return _stored(lambda: self.store.record_refund(event))

    def get(self, line_id: str) -> StoredReturn:
        record = _stored(lambda: self.store.get(line_id))
        if record is None:
            raise NotFoundError(f"no return is recorded for line {line_id!r}", code="return_not_found")
        return record


def _check_line(loaded: LoadedShop, line_id: str, returned_at: datetime) -> None:
    ordered_at = loaded.line_ordered_at(line_id)
    if ordered_at is None:
        last = f", orders up to {loaded.last_order:%Y-%m-%d}" if loaded.last_order is not None else ""
        raise NotFoundError(
            f"line_id {line_id!r} is not an order line of the shop ({loaded.n_lines:,} lines{last}): send the "
            "line_id of the returned order line; if the order is newer than the shop's data, export the new order "
            "lines first (they are picked up without a restart)", code="line_not_found")
    if returned_at < ordered_at.to_pydatetime(warn=False):
        raise InputError(f"returned_at {iso(returned_at)} is before the line's ordered_at {iso(ordered_at)}: a return "
                         "cannot precede the order — correct returned_at", code="returned_before_ordered")
