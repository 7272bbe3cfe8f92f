"""Returns operations for the merchant: ``GET /v1/kpis`` and ``GET /v1/forecast``.

Both read the shop's history (``RETURNRISK_DATA_DIR``, else the served model's training data,
reloaded when its files change) and use the served model: expected final rates of provisional
periods, and P(return) of the lines still in their window for the forecast. Merchant key
required. Answers are cached per (data version, model version, query).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from returnrisk.operations.forecast import MAX_FORECAST_DAYS, forecast_returns
from returnrisk.operations.kpis import GROUPINGS, compute_kpis
from returnrisk.serving.deps import current_model, merchant
from returnrisk.serving.errors import ApiError
from returnrisk.serving.routes.returns import shop_for
from returnrisk.serving.schemas import ErrorResponse
from returnrisk.serving.state import LoadedModel
from returnrisk.timeutil import parse_iso_timestamp, parse_period_bound

__all__ = ["router", "install"]

router = APIRouter(tags=["operations"], dependencies=[Depends(merchant)])
ERRORS = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 422: {"model": ErrorResponse},
          503: {"model": ErrorResponse}}

_CACHE_SIZE = 32


class _Answers:
    """A small LRU of computed answers (the history and the model only change on reload)."""

    def __init__(self, size: int = _CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def get_or_compute(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def install(app) -> None:
    app.state.ops_answers = _Answers()


def _bound(value: str | None, name: str, *, end: bool = False):
    try:
        return parse_period_bound(value, name, end=end)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.get("/v1/kpis", responses=ERRORS,
            summary="Return rates, reasons, delays, refunds within the promise, costs and weekly volumes")
def kpis(
    request: Request,
    start: Annotated[str | None, Query(alias="from", max_length=40,
                                       description="First order date included (ISO 8601).")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40,
                                     description="Last order date included (a date includes the whole day).")] = None,
    by: Annotated[Literal[GROUPINGS] | None, Query(description="Breakdown.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Largest groups kept (category/brand/product).")]
    = 100,
) -> dict:
    economics = request.app.state.settings.economics
    when_from, when_to = _bound(start, "from"), _bound(end, "to", end=True)
    if when_from is not None and when_to is not None and when_to <= when_from:
        raise ApiError(422, "invalid_request", f"to {end!r} is not after from {start!r}: the period is empty")
    loaded = shop_for(request)
    model = request.app.state.holder.current
    info = {"version": model.version} if model is not None else {
        "note": "no model loaded: provisional periods show the rate observed so far only"}
    key = ("kpis", loaded.signature, model.version if model else None, id(model), when_from, when_to, by, limit,
           economics.refund_target_days, economics.return_cost_per_unit)

    def compute() -> dict:
        return compute_kpis(loaded.shop, start=when_from, end=when_to, by=by,
                            bundle=model.bundle if model is not None else None, model_info=info,
                            refund_target_days=economics.refund_target_days,
                            return_cost_per_unit=economics.return_cost_per_unit, limit=limit).to_dict()

    return request.app.state.ops_answers.get_or_compute(key, compute)


@router.get("/v1/forecast", responses=ERRORS,
            summary="Returns expected per day for the next days, with a 90 % interval and staff hours")
def forecast(
    request: Request,
    model: Annotated[LoadedModel, Depends(current_model)],
    days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS, description="Days to forecast.")] = 14,
    as_of: Annotated[str | None, Query(max_length=40, description="Forecast as if now were this time "
                                       "(default: the end of the data).")] = None,
) -> dict:
    economics = request.app.state.settings.economics
    when = None
    if as_of is not None:
        try:
            when = parse_iso_timestamp(as_of, "as_of")
        except ValueError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
    loaded = shop_for(request)
    minutes = economics.handling_minutes_per_return
    key = ("forecast", loaded.signature, model.version, id(model), days, when, minutes)

    def compute() -> dict:
        try:
            return forecast_returns(loaded.shop, model.bundle, as_of=when, days=days,
                                    handling_minutes_per_return=minutes).to_dict()
        except ValueError as exc:
            raise ApiError(422, "forecast_impossible", str(exc)) from None

    return request.app.state.ops_answers.get_or_compute(key, compute)
