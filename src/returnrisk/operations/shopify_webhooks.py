"""``POST /v1/webhooks/shopify``: verify the signature, then record orders, returns and refunds once.

:class:`ShopifyWebhooks` is the whole endpoint but its HTTP wiring:

* **Signature.** Shopify signs the raw body: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256
  of the body with the app's webhook secret (``RETURNRISK_SHOPIFY_WEBHOOK_SECRET``). A missing or
  wrong signature is :class:`WebhookSignatureInvalid` (401), compared in constant time
  (:func:`hmac.compare_digest`); without a configured secret the endpoint is not enabled: every
  delivery is refused with :class:`WebhooksNotConfigured` (404, saying which variable to set) —
  nothing unsigned is ever read. (404 rather than 503: nothing is down and retrying will not help
  until the operator sets the secret; the service's health stays green.)
* **Orders** (``orders/create``, ``orders/updated``): the importer's rules decide the lines
  (:func:`returnrisk.importers.webhooks.parse_order`), stored as a whole order
  (:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore`).
* **Returns** (``returns/request``, ``returns/approve``): each returned line is recorded exactly
  like ``POST /v1/returns`` (the returns desk: line known — in the shop's files *or* among the
  webhook order lines —, reason inferred from text, idempotent per ``(line_id, return_id)``, 409 on
  a contradiction, never more units than ordered), channel ``webhook``. A return body carries no
  date: ``returned_at`` is its ``created_at`` when present, else ``X-Shopify-Triggered-At``, else
  the time received; a return already stored keeps its date (``returns/approve`` after
  ``returns/request`` is the same return). ``returns/decline`` and ``returns/cancel`` withdraw the
  return's unrefunded webhook records (goods that never came back are not a return). Other
  ``returns/*`` topics change nothing.
* **Refunds** (``refunds/create``), by the importer's rule: a refunded line that already has a
  stored return dates that return's ``refunded_at``; otherwise a refunded line with goods back
  (``restock_type`` ``return`` / ``legacy_restock``) is a return of its own (``return_id`` the
  refund's return, else ``refund-<refund id>``; returned and refunded at the refund's time; its
  note is the reason text); a refund with no goods back (price adjustment, item never shipped,
  shipping refund) is **not** a return: it is counted in the answer, nothing is written.

Every write is idempotent, so a replayed webhook (Shopify retries until it gets a 2xx) changes
nothing. Blocking: call from a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from returnrisk.errors import InputError, NotFoundError, UnauthenticatedError, UnavailableError
from returnrisk.importers.webhooks import WebhookRefund, parse_order, parse_refund, parse_return
from returnrisk.operations.return_events import RecordOutcome, StoredReturn, utc_datetime
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import WebhookOrderStore
from returnrisk.timeutil import to_utc

__all__ = ["ShopifyWebhooks", "WebhookSignatureInvalid", "WebhooksNotConfigured", "ReturnRecorder",
           "shopify_signature", "ORDER_TOPICS", "RETURN_TOPICS", "REFUND_TOPICS", "SECRET_VARIABLE"]

log = logging.getLogger(__name__)

SECRET_VARIABLE = "RETURNRISK_SHOPIFY_WEBHOOK_SECRET"
ORDER_TOPICS = ("orders/create", "orders/updated")
RETURN_TOPICS = ("returns/request", "returns/approve", "returns/decline", "returns/cancel", "returns/close",
                 "returns/reopen", "returns/process", "returns/update")
REFUND_TOPICS = ("refunds/create",)
_RECORDING = ("returns/request", "returns/approve")
_WITHDRAWING = ("returns/decline", "returns/cancel")
CHANNEL = "webhook"


class WebhookSignatureInvalid(UnauthenticatedError):
    code = "webhook_signature_invalid"


class WebhooksNotConfigured(NotFoundError):
    code = "webhooks_not_configured"


class ReturnRecorder(Protocol):
    """What records a return as ``POST /v1/returns`` does (the service's returns desk)."""

    store: ReturnStore

    def record(self, *, line_id: str, returned_at: datetime, channel: str, reason_code: str | None = None,
               reason_text: str | None = None, refunded_at: datetime | None = None,
               return_cost: float | None = None, return_id: str | None = None,
               quantity: int | None = None) -> RecordOutcome: ...

    def record_refund(self, line_id: str, refunded_at: datetime, return_cost: float | None = None,
                      return_id: str | None = None) -> RecordOutcome: ...


def shopify_signature(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value of ``body``: base64 of its HMAC-SHA256 with ``secret``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class ShopifyWebhooks:
    secret: str | None
    orders: WebhookOrderStore
    returns: ReturnRecorder

    # ---- the door ---------------------------------------------------------------------------
    def verify(self, body: bytes, signature: str | None) -> None:
        if not self.secret:
            raise WebhooksNotConfigured(
                f"Shopify webhooks are not configured: set {SECRET_VARIABLE} to the webhook signing secret shown "
                "in Shopify (Settings → Notifications → Webhooks, or the app's client secret) and restart")
        if not signature:
            raise WebhookSignatureInvalid("X-Shopify-Hmac-Sha256 header missing: only Shopify's signed webhooks are "
                                          "accepted")
        expected = shopify_signature(self.secret, body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise WebhookSignatureInvalid(f"X-Shopify-Hmac-Sha256 does not match the body signed with "
                                          f"{SECRET_VARIABLE}: check the secret is the one Shopify signs with")

    def handle(self, topic: str | None, body: bytes, signature: str | None,
               triggered_at: str | None = None) -> dict:
        """Verify, then act on one delivery; the answer says what was recorded (see the module docstring)."""
        self.verify(body, signature)
        if not topic:
            raise InputError("X-Shopify-Topic header missing: it names the webhook's topic (e.g. orders/create)",
                             code="invalid_webhook")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"the {topic} webhook body is not JSON ({exc}): subscribe with format JSON",
                             code="invalid_webhook") from None
        try:
            if topic in ORDER_TOPICS:
                return self._order(topic, payload)
            if topic in RETURN_TOPICS:
                return self._return(topic, payload, _header_time(triggered_at))
            if topic in REFUND_TOPICS:
                return self._refund(topic, payload)
        except SQLAlchemyError as exc:
            log.error("service database error on webhook %s: %s", topic, str(exc).splitlines()[0])
            raise UnavailableError("the service database cannot be reached: what this webhook carries is not fully "
                                   "recorded; Shopify retries the delivery (every write is idempotent)",
                                   code="store_unavailable") from None
        log.info("webhook topic %s ignored", topic)
        return {"topic": topic, "status": "ignored",
                "detail": f"topic {topic!r} is not used by returnrisk (used: "
                          f"{', '.join(ORDER_TOPICS + RETURN_TOPICS + REFUND_TOPICS)}); unsubscribe it"}

    # ---- orders -----------------------------------------------------------------------------
    def _order(self, topic: str, payload: object) -> dict:
        order = parse_order(payload)
        outcome = self.orders.record_order(order.order_id, order.lines, updated_at=order.updated_at)
        return {"topic": topic, "status": outcome.status, "order_id": order.order_id,
                "order_lines": {**outcome.to_dict(), "skipped": order.skipped}}

    # ---- returns ----------------------------------------------------------------------------
    def _return(self, topic: str, payload: object, triggered: pd.Timestamp | None) -> dict:
        ret = parse_return(payload)
        answer = {"topic": topic, "return_id": ret.return_id, "returns": []}
        if topic in _WITHDRAWING or ret.status in ("declined", "canceled", "cancelled"):
            withdrawn = self.returns.store.withdraw(ret.return_id, CHANNEL)
            answer["returns"] = [{"line_id": r.line_id, "status": "withdrawn"} for r in withdrawn]
            answer["status"] = "withdrawn" if withdrawn else "unchanged"
            return answer
        if topic not in _RECORDING or not ret.lines:
            answer["status"] = "unchanged"
            return answer
        when = ret.created_at or triggered or pd.Timestamp.now(tz="UTC")
        for line in ret.lines:
            known = self.returns.store.get(line.line_id, ret.return_id)
            returned_at = known.returned_at if known is not None else utc_datetime(when)
            outcome = self.returns.record(line_id=line.line_id, returned_at=returned_at, channel=CHANNEL,
                                          reason_code=line.reason_code, reason_text=line.reason_text,
                                          return_id=ret.return_id, quantity=line.quantity)
            answer["returns"].append(_part(outcome))
        answer["status"] = _overall(answer["returns"])
        return answer

    # ---- refunds ----------------------------------------------------------------------------
    def _refund(self, topic: str, payload: object) -> dict:
        refund = parse_refund(payload)
        answer = {"topic": topic, "refund_id": refund.refund_id, "returns": [],
                  "refunds_without_return": {"lines": 0, "units": 0}}
        if refund.created_at is None:
            raise InputError(f"refund {refund.refund_id}: no readable created_at/processed_at", code="invalid_webhook")
        when = utc_datetime(refund.created_at)
        for line in refund.lines:
            target = self._refunded_return(line.line_id, refund, when)
            if target is not None:
                outcome = self.returns.record_refund(line.line_id, when, return_id=target.return_id)
                answer["returns"].append(_part(outcome, "refund"))
            elif line.goods_back:
                outcome = self.returns.record(
                    line_id=line.line_id, returned_at=when, channel=CHANNEL, reason_text=refund.note,
                    refunded_at=when, return_id=refund.return_id or f"refund-{refund.refund_id}",
                    quantity=line.quantity or None)
                answer["returns"].append(_part(outcome))
            else:
                answer["refunds_without_return"]["lines"] += 1
                answer["refunds_without_return"]["units"] += line.quantity
        if not refund.lines:
            answer["refunds_without_return"]["refunds_without_lines"] = 1
        answer["status"] = _overall(answer["returns"]) if answer["returns"] else "not_a_return"
        return answer

    def _refunded_return(self, line_id: str, refund: WebhookRefund, when: datetime) -> StoredReturn | None:
        """The stored return of the line this refund pays for (the importer's ``refund_of_a_return``)."""
        stored = self.returns.store.returns_of(line_id)
        if not stored:
            return None
        if refund.return_id is not None:
            named = next((r for r in stored if r.return_id == refund.return_id), None)
            if named is not None:
                return named
        if refund.return_id is None:
            own = next((r for r in stored if r.return_id == f"refund-{refund.refund_id}"), None)
            if own is not None:
                return own
        again = next((r for r in stored if r.refunded_at == when), None)
        if again is not None:
            return again
        day = pd.Timestamp(when).floor("D")
        return next((r for r in stored if r.refunded_at is None and pd.Timestamp(r.returned_at).floor("D") <= day),
                    None)


def _part(outcome: RecordOutcome, what: str = "return") -> dict:
    record = outcome.record
    return {"line_id": record.line_id, "return_id": record.return_id, "status": outcome.status, "what": what}


def _overall(parts: list[dict]) -> str:
    statuses = {p["status"] for p in parts}
    return "unchanged" if statuses <= {"unchanged"} else "recorded"


def _header_time(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return to_utc(stamp)

