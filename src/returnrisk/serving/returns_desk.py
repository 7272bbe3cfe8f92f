"""Returns recorded through the API: the line checked against the shop, the reason inferred, stored once.

:class:`ReturnsDesk` is what ``POST /v1/returns``, ``PATCH /v1/returns/{line_id}`` and
``GET /v1/returns/{line_id}`` call. A return is acknowledged only after the store committed it
(:mod:`returnrisk.operations.store`: idempotent per ``return_id``, conflicts refused, never more
units back than the line's ordered quantity — counting the returns of the shop's own file that
carry a return id); the line must be one of the shop's order lines — or one the platform sent by
webhook (:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore`), for orders newer than
the shop's files — and not ordered after it was returned; a return sent with the customer's words
only gets the code the reason classifier infers (refined on the shop's own returns); a return without any reason is recorded as such (unknown
reason). A database failure is a 503 that says nothing was recorded. Blocking: call from a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from returnrisk.errors import InputError, NotFoundError, ReturnRiskError, UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import LoadedShop
from returnrisk.operations.store import (
    RecordOutcome,
    RefundEvent,
    ReturnEvent,
    ReturnNotRecorded,
    ReturnStore,
    StoredReturn,
)
from returnrisk.operations.webhook_orders import WebhookOrderStore
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
    def __init__(self, store: ReturnStore, shop: ServiceShop, reasons: ReasonInferrer,
                 orders: WebhookOrderStore | None = None):
        self.store = store
        self._shop = shop
        self._reasons = reasons
        self._orders = orders

    def _line(self, loaded: LoadedShop, line_id: str) -> tuple[pd.Timestamp | None, int | None]:
        """``(ordered_at, ordered units)`` of the line: the shop's files first, else the webhook order lines."""
        ordered_at = loaded.line_ordered_at(line_id)
        if ordered_at is not None or self._orders is None:
            return ordered_at, loaded.line_quantity(line_id)
        found = _stored(lambda: self._orders.line(line_id))
        return (None, None) if found is None else found

    def record(self, *, line_id: str, returned_at: datetime, channel: str, reason_code: str | None = None,
               reason_text: str | None = None, refunded_at: datetime | None = None,
               return_cost: float | None = None, return_id: str | None = None,
               quantity: int | None = None) -> RecordOutcome:
        """Record a return (``created``, ``unchanged`` or ``updated``); conflicts raise ``ReturnConflict``,
        a return of more units than are left on the line ``OverReturn``."""
        loaded = self._shop.get()
        ordered_at, ordered = self._line(loaded, line_id)
        _check_line(loaded, line_id, returned_at, ordered_at)
        inferred = {}
        if reason_code is None and reason_text is not None:
            result = self._reasons.infer(reason_text, key=(loaded.folder, loaded.signature),
                                         returns=loaded.shop.returns)
            inferred = {"reason_code_inferred": result.code, "reason_confidence": round(result.confidence, 4),
                        "reason_review": result.review}
        event = ReturnEvent(line_id, returned_at, channel, reason_code=reason_code, reason_text=reason_text,
                            refunded_at=refunded_at, return_cost=return_cost, return_id=return_id, quantity=quantity,
                            **inferred)
        outside = loaded.shop_returns(line_id)
        return _stored(lambda: self.store.record(event, ordered_quantity=ordered, outside=outside))

    def record_refund(self, line_id: str, refunded_at: datetime, return_cost: float | None = None,
                      return_id: str | None = None) -> RecordOutcome:
        """Record the refund of a recorded return (idempotent; a different refund raises ``ReturnConflict``;
        a line with several returns needs ``return_id``)."""
        event = RefundEvent(line_id, refunded_at, return_cost, return_id)
        return _stored(lambda: self.store.record_refund(event))

    def line_returns(self, line_id: str) -> tuple[list[StoredReturn], int | None]:
        """The line's returns (first returned first) and its ordered quantity when the shop is at hand."""
        records = _stored(lambda: self.store.returns_of(line_id))
        if not records:
            raise ReturnNotRecorded(line_id)
        try:
            ordered = self._line(self._shop.get(), line_id)[1]
        except ReturnRiskError as exc:  # the records are answered without the line's quantity
            log.info("returns of line %s answered without its ordered quantity: %s", line_id, exc)
            ordered = None
        return records, ordered

    def get(self, line_id: str) -> StoredReturn:
        """The line's first return."""
        return self.line_returns(line_id)[0][0]


def _check_line(loaded: LoadedShop, line_id: str, returned_at: datetime, ordered_at: pd.Timestamp | None) -> None:
    if ordered_at is None:
        last = f", orders up to {loaded.last_order:%Y-%m-%d}" if loaded.last_order is not None else ""
        raise NotFoundError(
            f"line_id {line_id!r} is not an order line of the shop ({loaded.n_lines:,} lines{last}): send the "
            "line_id of the returned order line; if the order is newer than the shop's data, export the new order "
            "lines first (they are picked up without a restart) or send it by webhook (POST /v1/webhooks/shopify, "
            "orders/create)", code="line_not_found")
    if returned_at < ordered_at.to_pydatetime(warn=False):
        raise InputError(f"returned_at {iso(returned_at)} is before the line's ordered_at {iso(ordered_at)}: a return "
                         "cannot precede the order — correct returned_at", code="returned_before_ordered")
