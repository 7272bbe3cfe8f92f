"""One e-mail → returns recorded (channel ``email``) or an item of the review list; never both lost.

:meth:`InboxProcessor.process` claims the message by its Message-ID first (a message processed
before, or being processed by another run, is skipped), then:

* finds the order number (subject, body, quoted and forwarded parts): an order of the shop's files,
  or — with ``orders``, the webhook order lines — one the platform sent by webhook that the files do
  not have yet (the files win when both have it);
* no number of the shop's → review (``no_order_number`` / ``order_not_found``); several orders →
  review (``several_orders``);
* picks the lines named (by product name, else size); none named in an order of several lines →
  the whole order is recorded and marked for review (``lines_not_named``); every unit already
  returned → review (``nothing_left``);
* classifies the customer's words (FR/EN) with the reason classifier: each return carries them as
  ``reason_text`` with the inferred code and its confidence (``reason_review`` when unsure);
* records each line through :func:`returnrisk.capture.recording.record_customer_return`.

A failure that may pass (database, shop data) releases the claim so the next run tries again;
any other failure puts the message in review (``error``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from returnrisk.capture.inbox.mail import InboxMessage, read_message
from returnrisk.capture.inbox.matching import OrderIndex, pick_lines
from returnrisk.capture.orders import OrderLineLookup
from returnrisk.capture.recording import CustomerReturn, OverReturn, customer_order, record_customer_return
from returnrisk.capture.records import CaptureRecords
from returnrisk.errors import UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import LoadedShop
from returnrisk.operations.store import ReturnStore
from returnrisk.timeutil import to_utc

__all__ = ["REVIEW_REASONS", "InboxOutcome", "InboxProcessor"]

log = logging.getLogger(__name__)

#: Why a message is in the review list.
REVIEW_REASONS = {
    "no_order_number": "no order number found in the subject or the text",
    "order_not_found": "the order number(s) {numbers} are not orders of the shop's data",
    "several_orders": "several orders are named ({numbers}): which one is returned?",
    "lines_not_named": "the e-mail names no item of this {n}-item order: the whole order was recorded; check the "
                       "lines",
    "nothing_left": "every item of order {number} is already returned",
    "error": "the message could not be read: {error}",
}


@dataclass
class InboxOutcome:
    message_id: str
    status: str                          # recorded | review | duplicate
    key: str = ""
    order_id: str | None = None
    why: str | None = None
    return_ids: list[str] = field(default_factory=list)
    reason: str | None = None
    confidence: float | None = None

    def to_dict(self) -> dict:
        return {"message": self.key, "status": self.status, "order_id": self.order_id, "why": self.why,
                "returns": self.return_ids, "reason": self.reason, "confidence": self.confidence}


class InboxProcessor:
    """Processes messages against one load of the shop and of the webhook order lines ``orders``, if given
    (build one per run)."""

    def __init__(self, store: ReturnStore, records: CaptureRecords, loaded: LoadedShop, reasons: ReasonInferrer,
                 order_pattern: str, orders: OrderLineLookup | None = None):
        self.store, self.records, self.loaded, self.reasons = store, records, loaded, reasons
        self.orders = orders
        self.pattern = re.compile(order_pattern, re.IGNORECASE)
        self.index = OrderIndex(_known_orders(loaded.shop.order_lines, orders))

    def process(self, raw: bytes, source: str, key: str = "") -> InboxOutcome:
        message = read_message(raw)
        if not self.records.claim_message(message.message_id, source, message.received_at):
            return InboxOutcome(message.message_id, "duplicate", key)
        try:
            outcome = self._handle(message)
        except (UnavailableError, SQLAlchemyError):
            self.records.release_message(message.message_id)   # tried again next run
            raise
        except Exception as exc:
            log.exception("inbox: message %s could not be processed", key or message.message_id)
            outcome = self._review(message, "error", None, error=type(exc).__name__)
        outcome.key = key
        self.records.finish_message(message.message_id, outcome.status, outcome.order_id)
        log.info("inbox: %s → %s%s", key or message.message_id, outcome.status,
                 f" ({outcome.why})" if outcome.why else "")
        return outcome

    # ---- steps ---------------------------------------------------------------------------------
    def _handle(self, message: InboxMessage) -> InboxOutcome:
        found = self.index.find(message.text, self.pattern)
        inferred = self._infer(message.words)
        if not found.orders:
            why = "order_not_found" if found.candidates else "no_order_number"
            return self._review(message, why, None, inferred, numbers=", ".join(dict.fromkeys(found.candidates)))
        if len(found.orders) > 1:
            return self._review(message, "several_orders", None, inferred,
                                numbers=", ".join(n for n, _ in found.orders))
        number, order_id = found.orders[0]
        order = customer_order(self.store, self.loaded, order_id, self.orders)
        if order is None:   # a webhook order whose lines were all removed since the run began
            return self._review(message, "order_not_found", None, inferred, numbers=number)
        pick = pick_lines(order, message.words)
        if not pick.positions:
            return self._review(message, "nothing_left", order_id, inferred, number=order.order_number)
        digest = hashlib.sha1(message.message_id.encode()).hexdigest()[:20]
        when = _returned_at(message.received_at)
        recorded = []
        for position in pick.positions:
            line = order.line(position)
            request = CustomerReturn(
                return_id=f"email-{digest}-{position}", request_id=f"email-{digest}", line_id=line.line_id,
                order_id=order_id, quantity=line.left, channel="email", returned_at=when, reason_code=None,
                reason_text=message.words or message.subject or "(no text)", product_id=line.product_id,
                size_ordered=line.size, unit_price=line.unit_price, currency=line.currency, review=pick.review)
            try:
                recorded.append(record_customer_return(self.store, self.records, self.loaded, self.reasons,
                                                       request, self.orders).return_id)
            except OverReturn as exc:
                log.info("inbox: %s", exc)
        if not recorded:
            return self._review(message, "nothing_left", order_id, inferred, number=order.order_number)
        outcome = InboxOutcome(message.message_id, "recorded", order_id=order_id, return_ids=recorded,
                               reason=inferred[0], confidence=inferred[1])
        if pick.review:
            self._review(message, "lines_not_named", order_id, inferred, returns=recorded, n=len(order.lines),
                         number=order.order_number)
            outcome.why = "lines_not_named"
        return outcome

    def _infer(self, words: str) -> tuple[str | None, float | None]:
        if not words:
            return None, None
        result = self.reasons.infer(words, key=(self.loaded.folder, self.loaded.signature),
                                    returns=self.loaded.shop.returns)
        return result.code, round(result.confidence, 4)

    def _review(self, message: InboxMessage, why: str, order_id: str | None, inferred=(None, None), *,
                returns: list[str] | None = None, number: str | None = None, **values) -> InboxOutcome:
        detail = REVIEW_REASONS[why].format(number=number or "", **{"numbers": "", "n": "", "error": "", **values})
        self.records.add_review({
            "source": "email", "message_id": message.message_id, "why": why, "detail": detail,
            "subject": message.subject[:1000] or None, "excerpt": message.words[:2000] or None,
            "order_number": number, "order_id": order_id, "reason_code_inferred": inferred[0],
            "reason_confidence": inferred[1], "return_ids": ",".join(returns) if returns else None,
            "received_at": message.received_at})
        return InboxOutcome(message.message_id, "review", order_id=order_id, why=why, return_ids=returns or [],
                            reason=inferred[0], confidence=inferred[1])


def _known_orders(lines: pd.DataFrame, orders: OrderLineLookup | None) -> pd.DataFrame:
    """``order_id`` (and ``order_number``) of the shop's files, then of the webhook orders (the files' first:
    a number both have is the files' order)."""
    known = lines[[c for c in ("order_id", "order_number") if c in lines.columns]]
    if orders is None:
        return known
    webhook = orders.order_numbers()
    if webhook.empty:
        return known
    return pd.concat([known.astype(object), webhook.astype(object)], ignore_index=True)


def _returned_at(received: datetime | None) -> datetime:
    """The message's date, unless missing or in the future (then now)."""
    now = pd.Timestamp.now(tz="UTC")
    if received is None or to_utc(received) > now + pd.Timedelta(days=1):
        return now.to_pydatetime()
    return to_utc(received).to_pydatetime()
