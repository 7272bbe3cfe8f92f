"""Returns recorded as they happen: ``POST /v1/returns``, ``PATCH /v1/returns/{line_id}``, ``GET`` one.

Merchant key required. A return is acknowledged (200/201) only after it is committed to the
service database (``RETURNRISK_DATABASE_URL``); it is idempotent per ``line_id``: the same
event twice is one return, a contradicting one is 409 and names what differs (see
:mod:`returnrisk.operations.store`). The line must be one of the shop's order lines
(``RETURNRISK_DATA_DIR``, else the served model's training data), and the return is validated
with the rules of the returns file. The work is :class:`~returnrisk.serving.returns_desk.ReturnsDesk`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from returnrisk.operations.store import CHANNELS, RecordOutcome, StoredReturn
from returnrisk.serving.deps import ReturnsDep, merchant
from returnrisk.serving.schemas import error_responses
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import iso, parse_iso_timestamp

__all__ = ["router", "ReturnIn", "RefundIn", "ReturnOut"]

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


class ReturnIn(BaseModel):
    """A return as it happens. Send ``reason_code`` and/or ``reason_text`` (the customer's words)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "line_id": "L00001234", "returned_at": "2026-03-09T14:30:00Z", "reason_text": "trop petit aux épaules",
        "channel": "portal"}]})

    line_id: str = Field(min_length=1, max_length=200, description="The order line returned.")
    returned_at: Timestamp = Field(description="When it came back (ISO 8601; without offset = UTC).")
    reason_code: str | None = Field(None, description=f"One of: {', '.join(REASON_CODES)}.")
    reason_text: str | None = Field(None, max_length=5000, description="The customer's words (FR/EN).")
    channel: Literal[CHANNELS] = Field(description="Where the return was declared: form, portal, email or other.")
    refunded_at: Timestamp | None = Field(None, description="When it was refunded, if already (ISO 8601).")
    return_cost: float | None = Field(None, ge=0, allow_inf_nan=False, description="Shipping + handling.")

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
        if self.reason_code is None and self.reason_text is None:
            raise ValueError("no reason: send reason_code (one of the taxonomy) and/or reason_text (the customer's "
                             "words)")
        if self.refunded_at is not None and self.refunded_at < self.returned_at:
            raise ValueError(f"refunded_at {iso(self.refunded_at)} is before returned_at {iso(self.returned_at)}: "
                             "a refund follows the return")
        return self


class RefundIn(BaseModel):
    """The refund of a recorded return."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"refunded_at": "2026-03-11T09:00:00Z",
                                                                               "return_cost": 7.5}]})

    refunded_at: Timestamp = Field(description="When the refund was made (ISO 8601; without offset = UTC).")
    return_cost: float | None = Field(None, ge=0, allow_inf_nan=False, description="Shipping + handling.")


class ReturnOut(BaseModel):
    line_id: str
    returned_at: str
    reason_code: str | None = Field(description="The code given with the return (None if text only).")
    reason_text: str | None
    reason_code_inferred: str | None = Field(description="Inferred from reason_text when no code was given.")
    reason_confidence: float | None = Field(description="Classifier confidence of the inferred code.")
    reason_review: bool = Field(description="True when the inferred code is uncertain ('other'): worth a look.")
    reason: str | None = Field(description="The code that counts: given, else inferred.")
    reason_source: Literal["given", "inferred"]
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


LineId = Annotated[str, Path(min_length=1, max_length=200)]


def _answer(outcome: RecordOutcome) -> ReturnOut:
    return ReturnOut.of(outcome.record, outcome.status)


@router.post("/v1/returns", status_code=201, response_model=ReturnOut, responses=ERRORS,
             summary="Record a return (idempotent per line_id; 201 created, 200 already recorded)")
def record_return(body: ReturnIn, response: Response, returns: ReturnsDep) -> ReturnOut:
    outcome = returns.record(line_id=body.line_id, returned_at=body.returned_at, channel=body.channel,
                             reason_code=body.reason_code, reason_text=body.reason_text,
                             refunded_at=body.refunded_at, return_cost=body.return_cost)
    if outcome.status != "created":
        response.status_code = 200
    return _answer(outcome)


@router.patch("/v1/returns/{line_id}", response_model=ReturnOut, responses=ERRORS,
              summary="Record the refund of a recorded return (idempotent; 409 if a different refund is recorded)")
def record_refund(body: RefundIn, returns: ReturnsDep, line_id: LineId) -> ReturnOut:
    return _answer(returns.record_refund(line_id, body.refunded_at, body.return_cost))


@router.get("/v1/returns/{line_id}", response_model=ReturnOut, responses=ERRORS, summary="A recorded return")
def get_return(returns: ReturnsDep, line_id: LineId) -> ReturnOut:
    return ReturnOut.of(returns.get(line_id), "recorded")
