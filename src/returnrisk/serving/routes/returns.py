"""Returns recorded as they happen: ``POST /v1/returns``, ``PATCH /v1/returns/{line_id}``, ``GET`` a line's.

Merchant key required. A return is acknowledged (200/201) only after it is committed to the
service database (``RETURNRISK_DATABASE_URL``); it is idempotent per ``return_id`` (derived from
the line when not sent: one return per line, as before partial returns): the same event twice is
one return, a contradicting one is 409 and names what differs, a return of more units than are
left on the line is 409 ``over_returned`` (see :mod:`returnrisk.operations.store`). The line must
be one of the shop's order lines (``RETURNRISK_DATA_DIR``, else the served model's training
data), and the return is validated with the rules of the returns file; its dates must be real
(not more than a day ahead, not before the order). The work is
:class:`~returnrisk.serving.returns_desk.ReturnsDesk`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from returnrisk.operations.return_events import time_problem
from returnrisk.operations.store import CHANNELS, RecordOutcome, StoredReturn
from returnrisk.serving.deps import ReturnsDep, merchant
from returnrisk.serving.schemas import error_responses
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import iso, parse_iso_timestamp

__all__ = ["router", "ReturnIn", "RefundIn", "ReturnOut", "LineReturnsOut"]

router = APIRouter(tags=["returns"], dependencies=[Depends(merchant)])
ERRORS = error_responses(401, 403, 404, 409, 422, 503)


def _timestamp(value):
    """ISO 8601 text only (as in the files): numbers and other formats are refused with an example."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp: send text such as 2026-03-09T14:30:00Z")
    return parse_iso_timestamp(value).to_pydatetime(warn=False)


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


def _plausible(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """Refuse dates outside 1677-09-22 … 2262-04-11 or more than a day in the future (plain message)."""
    problem = time_problem(info.field_name, value)
    if problem:
        raise ValueError(problem)
    return value


class ReturnIn(BaseModel):
    """A return as it happens: the line, when, and (if known) why — ``reason_code`` and/or
    ``reason_text`` (the customer's words); a return without a reason is valid. ``return_id`` is
    the return's id (the platform's, or yours: one return may cover several lines), the key that
    makes a retry harmless; ``quantity`` the units returned (default: the whole line)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "line_id": "L00001234", "returned_at": "2026-03-09T14:30:00Z", "reason_text": "trop petit aux épaules",
        "channel": "portal"}]})

    line_id: str = Field(min_length=1, max_length=200, description="The order line returned.")
    returned_at: Timestamp = Field(description="When it came back (ISO 8601; without offset = UTC).")
    reason_code: str | None = Field(None, description=f"One of: {', '.join(REASON_CODES)}.")
    reason_text: str | None = Field(None, max_length=5000, description="The customer's words (FR/EN).")
    channel: Literal[CHANNELS] = Field(description="Where the return was declared: portal, email, api, import, "
                                                   "webhook (form and other are still accepted).")
    refunded_at: Timestamp | None = Field(None, description="When it was refunded, if already (ISO 8601).")
    return_cost: float | None = Field(None, ge=0, allow_inf_nan=False, description="Shipping + handling.")
    return_id: str | None = Field(None, min_length=1, max_length=200, description=(
        "The return's id (the platform's or yours); the idempotency key. Default: derived from the line "
        "(one return per line). Send one per return when a line comes back in several parts."))
    quantity: int | None = Field(None, ge=1, le=10**15, description="Units returned (default: the whole line).")

    _dates = field_validator("returned_at", "refunded_at")(_plausible)

    @field_validator("reason_code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in REASON_CODES:
            raise ValueError(f"{value!r} is not in the taxonomy: use one of {', '.join(REASON_CODES)}, or send the "
                             "customer's words in reason_text")
        return value

    @field_validator("reason_text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _rules(self):
        if self.refunded_at is not None and self.refunded_at < self.returned_at:
            raise ValueError(f"refunded_at {iso(self.refunded_at)} is before returned_at {iso(self.returned_at)}: "
                             "a refund follows the return")
        return self


class RefundIn(BaseModel):
    """The refund of a recorded return (``return_id`` needed only when the line has several returns)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"refunded_at": "2026-03-11T09:00:00Z",
                                                                               "return_cost": 7.5}]})

    refunded_at: Timestamp = Field(description="When the refund was made (ISO 8601; without offset = UTC).")
    return_cost: float | None = Field(None, ge=0, allow_inf_nan=False, description="Shipping + handling.")
    return_id: str | None = Field(None, min_length=1, max_length=200, description=(
        "Which return of the line is refunded: required when the line has several (409 return_id_required "
        "otherwise), optional when it has one."))

    _dates = field_validator("refunded_at")(_plausible)


class ReturnOut(BaseModel):
    line_id: str
    return_id: str = Field(description="The return's id (sent, or derived from the line: 'line:<line_id>').")
    quantity: int | None = Field(description="Units returned; null: the whole line.")
    returned_at: str
    reason_code: str | None = Field(description="The code given with the return (None if text only).")
    reason_text: str | None
    reason_code_inferred: str | None = Field(description="Inferred from reason_text when no code was given.")
    reason_confidence: float | None = Field(description="Classifier confidence of the inferred code.")
    reason_review: bool = Field(description="True when the inferred code is uncertain ('other'): worth a look.")
    reason: str | None = Field(description="The code that counts: given, else inferred.")
    reason_source: Literal["given", "inferred", "none"] = Field(
        description="given, inferred from reason_text, or none (no reason sent: unknown).")
    channel: str
    refunded_at: str | None
    return_cost: float | None
    recorded_at: str
    updated_at: str
    status: Literal["created", "unchanged", "updated", "recorded"] = Field(
        description="created (201); unchanged: the same event was already recorded; updated: refund data added; "
                    "recorded: answer of GET.")

    @classmethod
    def of(cls, record: StoredReturn, status: str) -> ReturnOut:
        return cls(**record.to_dict(), status=status)


class ReturnPart(BaseModel):
    """One return of a line (as stored)."""

    return_id: str
    quantity: int | None
    returned_at: str
    reason: str | None
    reason_source: Literal["given", "inferred", "none"]
    reason_code: str | None
    reason_text: str | None
    channel: str
    refunded_at: str | None
    return_cost: float | None
    recorded_at: str


class LineReturnsOut(ReturnOut):
    """``GET /v1/returns/{line_id}``: the line's returns. The fields of :class:`ReturnOut` are those of
    its first return (all there is for a line returned once, as before partial returns); ``returns``
    lists every return of the line."""

    n_returns: int = Field(description="How many returns the line has.")
    ordered_quantity: int | None = Field(description="Units ordered on the line (null if the shop's data is "
                                                     "not at hand).")
    returned_quantity: int | None = Field(description="Units returned in all its returns (null if unknown).")
    returns: list[ReturnPart] = Field(description="Every return of the line, first returned first.")

    @classmethod
    def of_line(cls, records: list[StoredReturn], ordered: int | None) -> LineReturnsOut:
        units = [r.units(ordered) for r in records]
        returned = None if any(u is None for u in units) else int(sum(units))
        parts = [ReturnPart(**{k: v for k, v in r.to_dict().items() if k in ReturnPart.model_fields})
                 for r in records]
        return cls(**records[0].to_dict(), status="recorded", n_returns=len(records), ordered_quantity=ordered,
                   returned_quantity=returned, returns=parts)


LineId = Annotated[str, Path(min_length=1, max_length=200)]


def _answer(outcome: RecordOutcome) -> ReturnOut:
    return ReturnOut.of(outcome.record, outcome.status)


@router.post("/v1/returns", status_code=201, response_model=ReturnOut, responses=ERRORS,
             summary="Record a return (idempotent per return_id; 201 created, 200 already recorded, 409 "
                     "contradicting or more units than are left)")
def record_return(body: ReturnIn, response: Response, returns: ReturnsDep) -> ReturnOut:
    outcome = returns.record(line_id=body.line_id, returned_at=body.returned_at, channel=body.channel,
                             reason_code=body.reason_code, reason_text=body.reason_text,
                             refunded_at=body.refunded_at, return_cost=body.return_cost, return_id=body.return_id,
                             quantity=body.quantity)
    if outcome.status != "created":
        response.status_code = 200
    return _answer(outcome)


@router.patch("/v1/returns/{line_id}", response_model=ReturnOut, responses=ERRORS,
              summary="Record the refund of a recorded return (idempotent; 409 if a different refund is recorded, "
                      "or if the line has several returns and no return_id is sent)")
def record_refund(body: RefundIn, returns: ReturnsDep, line_id: LineId) -> ReturnOut:
    return _answer(returns.record_refund(line_id, body.refunded_at, body.return_cost, body.return_id))


@router.get("/v1/returns/{line_id}", response_model=LineReturnsOut, responses=ERRORS,
            summary="The returns recorded for a line (the first one's fields, and every return in 'returns')")
def get_return(returns: ReturnsDep, line_id: LineId) -> LineReturnsOut:
    records, ordered = returns.line_returns(line_id)
    return LineReturnsOut.of_line(records, ordered)
