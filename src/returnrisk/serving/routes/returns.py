"""Returns recorded as they happen: ``POST /v1/returns``, ``PATCH /v1/returns/{line_id}``, ``GET`` one.

Merchant key required. A return is acknowledged (200/201) only after it is committed to the
returns database (``RETURNRISK_RETURNS_DB_URL``); it is idempotent per ``line_id``: the same
event twice is one return, a contradicting one is 409 and names what differs (see
:mod:`returnrisk.operations.store`). The line must be one of the shop's order lines
(``RETURNRISK_DATA_DIR``, else the served model's training data), and the return is validated
with the rules of the returns file.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from returnrisk.data.problems import DataError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import DataUnavailable, LoadedShop, ShopSources
from returnrisk.operations.store import (
    CHANNELS,
    RefundEvent,
    ReturnConflict,
    ReturnEvent,
    ReturnNotRecorded,
    ReturnStore,
)
from returnrisk.serving.deps import merchant
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import ErrorResponse
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import iso, parse_iso_timestamp

__all__ = ["router", "install", "ReturnIn", "RefundIn", "ReturnOut", "shop_for", "ops_sources"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["returns"], dependencies=[Depends(merchant)])
ERRORS = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 404: {"model": ErrorResponse},
          409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}


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


# ---- shared state ---------------------------------------------------------------------------------
def ops_sources(app: FastAPI) -> ShopSources:
    """The shop folders of the operations endpoints (created once per app)."""
    sources = getattr(app.state, "ops_sources", None)
    if sources is None:
        from returnrisk.reasons.fill import default_reason_filler

        sources = ShopSources(reason_filler_factory=default_reason_filler)
        app.state.ops_sources = sources
    return sources


def shop_for(request: Request) -> LoadedShop:
    """The shop behind the operations endpoints, or a 503 that says how to configure it."""
    settings = request.app.state.settings
    holder = request.app.state.holder
    meta = holder.current.bundle.meta if holder.current is not None else None
    if meta is None and not settings.data_dir:
        raise ApiError(503, "model_not_loaded", "no model is loaded yet and RETURNRISK_DATA_DIR is not set: retry "
                                                "shortly or check /readyz")
    try:
        return ops_sources(request.app).get(settings.data_dir, meta)
    except DataUnavailable as exc:
        raise ApiError(503, "data_unavailable", str(exc)) from None
    except DataError as exc:
        first = exc.problems[0].render() if exc.problems else "unreadable"
        raise ApiError(503, "data_unavailable", f"the shop's data cannot be loaded: {first}; fix it "
                                                "(returnrisk validate --data DIR)") from None


def _store(request: Request) -> ReturnStore:
    return request.app.state.returns_store


def _snapshot_lines(request: Request) -> set[str]:
    """Line ids carried by the served snapshot, if its format has them (lines known without the data)."""
    holder = request.app.state.holder
    lines = getattr(getattr(holder.current, "bundle", None), "snapshot", None)
    lines = getattr(lines, "lines", None)
    if lines is not None and hasattr(lines, "columns") and "line_id" in lines.columns:
        return set(lines["line_id"].astype(str))
    return set()


def install(app: FastAPI) -> None:
    """Open the returns database; its table is created when the service starts."""
    settings = app.state.settings
    try:
        store = ReturnStore(settings.returns_db_url)
    except ValueError as exc:
        raise RuntimeError(f"RETURNRISK_RETURNS_DB_URL: {exc}") from None
    app.state.returns_store = store
    app.state.reason_inferrer = ReasonInferrer()
    ops_sources(app)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        await run_in_threadpool(store.create)  # fails the start-up if the database cannot be reached
        async with inner(a) as state:
            yield state
        store.dispose()

    app.router.lifespan_context = lifespan


def _unavailable(exc: SQLAlchemyError) -> ApiError:
    log.error("returns database error: %s", str(exc).splitlines()[0])
    return ApiError(503, "store_unavailable", "the returns database cannot be reached: nothing was recorded; retry "
                                              "the same request (it is idempotent)")


def _check_line(request: Request, line_id: str, returned_at: datetime) -> None:
    if line_id in _snapshot_lines(request):
        return
    loaded = shop_for(request)
    ordered_at = loaded.line_ordered_at(line_id)
    if ordered_at is None:
        last = f", orders up to {loaded.last_order:%Y-%m-%d}" if loaded.last_order is not None else ""
        raise ApiError(404, "line_not_found",
                       f"line_id {line_id!r} is not an order line of the shop ({loaded.n_lines:,} lines{last}): send "
                       "the line_id of the returned order line; if the order is newer than the shop's data, export "
                       "the new order lines first (they are picked up without a restart)")
    if returned_at < ordered_at.to_pydatetime(warn=False):
        raise ApiError(422, "returned_before_ordered",
                       f"returned_at {iso(returned_at)} is before the line's ordered_at {iso(ordered_at)}: a return "
                       "cannot precede the order — correct returned_at")


@router.post("/v1/returns", status_code=201, response_model=ReturnOut, responses=ERRORS,
             summary="Record a return (idempotent per line_id; 201 created, 200 already recorded)")
def record_return(body: ReturnIn, request: Request, response: Response) -> dict:
    _check_line(request, body.line_id, body.returned_at)
    inferred = {}
    if body.reason_code is None:
        loaded = shop_for(request) if not _snapshot_lines(request) else None
        key = (loaded.folder, loaded.signature) if loaded is not None else None
        result = request.app.state.reason_inferrer.infer(
            body.reason_text, key=key, returns=loaded.shop.returns if loaded is not None else None)
        inferred = {"reason_code_inferred": result.code, "reason_confidence": round(result.confidence, 4),
                    "reason_review": result.review}
    try:
        event = ReturnEvent(body.line_id, body.returned_at, body.channel, reason_code=body.reason_code,
                            reason_text=body.reason_text, refunded_at=body.refunded_at,
                            return_cost=body.return_cost, **inferred)
    except ValueError as exc:
        raise ApiError(422, "invalid_return", str(exc)) from None
    try:
        outcome = _store(request).record(event)
    except ReturnConflict as exc:
        raise ApiError(409, "return_conflict", exc.message, differences=[d.to_dict() for d in exc.differences],
                       recorded=exc.record.to_dict()) from None
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if outcome.status != "created":
        response.status_code = 200
    return {**outcome.record.to_dict(), "status": outcome.status}


@router.patch("/v1/returns/{line_id}", response_model=ReturnOut, responses=ERRORS,
              summary="Record the refund of a recorded return (idempotent; 409 if a different refund is recorded)")
def record_refund(body: RefundIn, request: Request,
                  line_id: Annotated[str, Path(min_length=1, max_length=200)]) -> dict:
    try:
        outcome = _store(request).record_refund(RefundEvent(line_id, body.refunded_at, body.return_cost))
    except ReturnNotRecorded as exc:
        raise ApiError(404, "return_not_found", str(exc)) from None
    except ReturnConflict as exc:
        raise ApiError(409, "refund_conflict", exc.message, differences=[d.to_dict() for d in exc.differences],
                       recorded=exc.record.to_dict()) from None
    except ValueError as exc:
        raise ApiError(422, "refunded_before_returned", str(exc)) from None
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    return {**outcome.record.to_dict(), "status": outcome.status}


@router.get("/v1/returns/{line_id}", response_model=ReturnOut, responses=ERRORS,
            summary="A recorded return")
def get_return(request: Request, line_id: Annotated[str, Path(min_length=1, max_length=200)]) -> dict:
    try:
        record = _store(request).get(line_id)
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if record is None:
        raise ApiError(404, "return_not_found", f"no return is recorded for line {line_id!r}")
    return {**record.to_dict(), "status": "recorded"}
