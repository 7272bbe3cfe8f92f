"""THE way portal and e-mail returns reach the returns store.

Every return a customer declares (portal form, e-mail) is written by :func:`record_customer_return`
into the same store as ``POST /v1/returns`` (:class:`returnrisk.operations.store.ReturnStore`:
one event per ``(line_id, return_id)``, with its ``quantity``; channel ``portal`` or ``email``),
and what a line already has back is read by :func:`returned_units`. What the returns table does
not hold (the form or message it came from, the exchange offered and chosen, the size asked) is
kept in the capture table ``returnrisk_customer_returns`` under the same ``return_id``.

Idempotency: the ``return_id`` (the form's one-time id or the e-mail's, with the line) is the
store's idempotency key, and the capture row is claimed first (its primary key is ``return_id``):
of two submits of the same form, one records and the other answers ``unchanged``. A failed
recording releases the claim, so the customer can simply send again.

Over-returns: more units than are left on the line (ordered − already back, counting the shop's
history and the store, each return once) raise the store's
:class:`~returnrisk.operations.return_events.OverReturn` (409 ``over_returned``), checked before
anything is written and again by the store inside its transaction (two tabs at once).

The order lines: the shop's files first, else — when an ``orders`` lookup is given (the webhook
order lines, :class:`~returnrisk.capture.orders.OrderLineLookup`) — the lines the platform sent by
webhook, for the orders of the day that the files do not have yet: the same checks (line of the
order, units left) and the same counts apply to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from returnrisk.capture.orders import OrderLineLookup, OrderView, order_lines_of, order_view_of
from returnrisk.capture.records import CaptureRecords
from returnrisk.errors import InputError, NotFoundError, UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import LoadedShop
from returnrisk.operations.store import OverReturn, ReturnEvent, ReturnStore, StoredReturn
from returnrisk.timeutil import iso

__all__ = [
    "CaptureStoreUnavailable",
    "CustomerReturn",
    "OverReturn",
    "RecordedReturn",
    "customer_order",
    "line_quantities",
    "record_customer_return",
    "returned_units",
]

log = logging.getLogger(__name__)


class CaptureStoreUnavailable(UnavailableError):
    code = "store_unavailable"

    def __init__(self):
        super().__init__("the returns database cannot be reached: nothing was recorded; send the same return again "
                         "(it is recorded once)")


@dataclass(frozen=True)
class CustomerReturn:
    """A return declared by a customer: ``quantity`` units of one line, with its reason and resolution."""

    return_id: str                 # idempotency key (the form's one-time id or the e-mail's, with the line)
    request_id: str                # the form or message it came from (several lines, one parcel)
    line_id: str
    order_id: str
    quantity: int
    channel: str                   # portal | email
    returned_at: datetime
    reason_code: str | None        # None: the customer's words only, classified
    reason_text: str | None = None
    resolution: str = "refund"     # refund | exchange
    exchange_offered: bool = False
    size_ordered: str | None = None
    size_offered: str | None = None
    size_asked: str | None = None
    offer_source: str | None = None
    product_id: str | None = None
    unit_price: float | None = None
    currency: str | None = None
    lang: str | None = None
    review: bool = False

    def details(self) -> dict:
        return {k: getattr(self, k) for k in (
            "return_id", "request_id", "line_id", "order_id", "product_id", "channel", "quantity", "reason_code",
            "resolution", "exchange_offered", "size_ordered", "size_offered", "size_asked", "offer_source",
            "unit_price", "currency", "lang", "review")}


@dataclass(frozen=True)
class RecordedReturn:
    return_id: str
    line_id: str
    status: str                            # created | unchanged
    record: StoredReturn | None            # the store's record of the line
    details: dict = field(default_factory=dict)


_LINE_FACTS = ["line_id", "order_id", "quantity", "ordered_at"]


def _line_rows(loaded: LoadedShop, line_ids: list[str], orders: OrderLineLookup | None) -> pd.DataFrame:
    """``line_id, order_id, quantity, ordered_at`` of the lines: the shop's files first, else ``orders``."""
    lines = loaded.shop.order_lines
    rows = lines.loc[lines["line_id"].isin(line_ids), _LINE_FACTS]
    if orders is None:
        return rows
    known = set(rows["line_id"].astype(str))
    missing = [i for i in dict.fromkeys(str(i) for i in line_ids) if i not in known]
    if not missing:
        return rows
    extra = _stored(lambda: orders.lines(missing))
    if extra.empty:
        return rows
    extra = extra.loc[extra["line_id"].astype(str).isin(missing), _LINE_FACTS]
    return pd.concat([rows.astype(object), extra.astype(object)], ignore_index=True) if len(rows) else extra


def line_quantities(loaded: LoadedShop, line_ids: list[str],
                    orders: OrderLineLookup | None = None) -> dict[str, int]:
    """Ordered units of each line (lines unknown to the shop's files, and to ``orders`` when given, are left
    out)."""
    return _quantities(_line_rows(loaded, line_ids, orders))


def _quantities(rows: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in zip(rows["line_id"], rows["quantity"], strict=True)}


def _history_units(loaded: LoadedShop, line_ids: list[str]) -> dict[tuple, tuple[str, int]]:
    """The history's returns of ``line_ids``: key (its return_id, else line and date) → (line, units)."""
    events = loaded.shop.return_events
    rows = events[events["line_id"].isin(line_ids)]
    ids = rows["return_id"] if "return_id" in rows.columns else pd.Series([pd.NA] * len(rows), index=rows.index)
    out: dict[tuple, tuple[str, int]] = {}
    for line_id, returned_at, return_id, quantity in zip(rows["line_id"], rows["returned_at"], ids,
                                                          rows["quantity"], strict=True):
        key = ("id", str(line_id), str(return_id)) if not pd.isna(return_id) and str(return_id).strip() \
            else ("at", str(line_id), iso(returned_at))
        out[key] = (str(line_id), int(quantity))
    return out


def returned_units(store: ReturnStore, loaded: LoadedShop, line_ids: list[str],
                   orders: OrderLineLookup | None = None) -> dict[str, int]:
    """Units already back (or declared) for each line: the shop's history and the store, each return once.

    A stored return is the history's return of the same line with the same ``return_id`` (the
    export writes it), or, for a history row without id, with the same ``returned_at``; it then
    counts once. Whole-line returns count the line's ordered units. At most the ordered units
    (of the shop's files, else of ``orders``: the webhook order lines).
    """
    line_ids = list(dict.fromkeys(str(i) for i in line_ids))
    return _returned_units(store, loaded, line_ids, line_quantities(loaded, line_ids, orders))


def _returned_units(store: ReturnStore, loaded: LoadedShop, line_ids: list[str],
                    ordered: dict[str, int]) -> dict[str, int]:
    counted = _history_units(loaded, line_ids)
    for line_id in line_ids:
        for stored in store.returns_of(line_id):
            units = stored.units(ordered.get(line_id))
            if units is None:
                continue
            counted.pop(("at", line_id, iso(stored.returned_at)), None)
            counted[("id", line_id, stored.return_id)] = (line_id, int(units))
    out = {line_id: 0 for line_id in line_ids}
    for line, units in counted.values():
        if line in out:
            out[line] += units
    return {k: min(v, ordered.get(k, v)) for k, v in out.items()}


def customer_order(store: ReturnStore, loaded: LoadedShop, order_id: str,
                   orders: OrderLineLookup | None = None) -> OrderView | None:
    """The order as its customer sees it, with the units already back on each line (:func:`returned_units`):
    from the shop's files, else from ``orders`` (the webhook order lines); ``None`` if neither has it."""
    rows = _stored(lambda: order_lines_of(loaded.shop, order_id, orders))
    if rows.empty:
        return None
    ordered = _quantities(rows)
    return order_view_of(rows, order_id, _stored(lambda: _returned_units(store, loaded, list(ordered), ordered)))


def _check_line(loaded: LoadedShop, request: CustomerReturn,
                orders: OrderLineLookup | None = None) -> tuple[int, pd.Timestamp]:
    row = _line_rows(loaded, [request.line_id], orders)
    if row.empty:
        where = " (neither in its files nor among the order lines received by webhook)" \
            if orders is not None else " (not in its files)"
        raise NotFoundError(f"line_id {request.line_id!r} is not an order line of the shop{where}: return a "
                            "line of the order the link or e-mail names", code="line_not_found")
    if str(row["order_id"].iloc[0]) != str(request.order_id):
        raise InputError(f"line {request.line_id!r} is not in order {request.order_id!r}", code="line_not_in_order")
    if request.quantity < 1:
        raise InputError(f"quantity {request.quantity} is not a number of units ≥ 1", code="invalid_quantity")
    return int(row["quantity"].iloc[0]), row["ordered_at"].iloc[0]


def _refuse_over_return(request: CustomerReturn, ordered: int, already: int) -> None:
    if request.quantity > max(ordered - already, 0):
        raise OverReturn(request.line_id, ordered, already, request.quantity, False)


def _stored(write):
    try:
        return write()
    except SQLAlchemyError as exc:
        log.error("returns database error: %s", str(exc).splitlines()[0])
        raise CaptureStoreUnavailable() from None


def record_customer_return(store: ReturnStore, records: CaptureRecords, loaded: LoadedShop,
                           reasons: ReasonInferrer, request: CustomerReturn,
                           orders: OrderLineLookup | None = None) -> RecordedReturn:
    """Record one customer return in the returns store (and its details in the capture table), once.

    The line is the shop's (its files), else one of ``orders`` (the webhook order lines) when given.
    Raises :class:`OverReturn` (409 ``over_returned``) when the line has fewer units left than
    asked, ``line_not_found`` (404) for a line neither has.
    """
    existing = _stored(lambda: records.get_return(request.return_id))
    if existing is not None:
        return RecordedReturn(request.return_id, existing["line_id"], "unchanged",
                              _stored(lambda: store.get(existing["line_id"], request.return_id)), existing)
    ordered, ordered_at = _check_line(loaded, request, orders)
    already = _stored(lambda: _returned_units(store, loaded, [request.line_id],
                                              {request.line_id: ordered}))[request.line_id]
    _refuse_over_return(request, ordered, already)
    returned_at = request.returned_at
    if pd.Timestamp(returned_at) < ordered_at:
        returned_at = ordered_at.to_pydatetime()   # a clock behind the order's: the return follows the order
    inferred = {}
    if request.reason_code is None:
        result = reasons.infer(request.reason_text or "", key=(loaded.folder, loaded.signature),
                               returns=loaded.shop.returns)
        inferred = {"reason_code_inferred": result.code, "reason_confidence": round(result.confidence, 4),
                    "reason_review": result.review}
    event = ReturnEvent(request.line_id, returned_at, request.channel, reason_code=request.reason_code,
                        reason_text=request.reason_text, return_id=request.return_id, quantity=request.quantity,
                        **inferred)
    if not _stored(lambda: records.claim_return(request.details())):
        existing = _stored(lambda: records.get_return(request.return_id))
        return RecordedReturn(request.return_id, request.line_id, "unchanged",
                              _stored(lambda: store.get(request.line_id, request.return_id)), existing or {})
    try:
        outcome = _stored(lambda: store.record(event, ordered_quantity=ordered,
                                               outside=loaded.shop_returns(request.line_id)))
    except BaseException:
        _stored(lambda: records.release_return(request.return_id))
        raise
    _stored(lambda: records.mark_recorded(request.return_id))
    log.info("%s return %s recorded: line %s × %d (%s)", request.channel, request.return_id, request.line_id,
             request.quantity, request.resolution)
    return RecordedReturn(request.return_id, request.line_id, outcome.status, outcome.record,
                          _stored(lambda: records.get_return(request.return_id)) or {})
