"""Returns operations for the merchant: ``GET /v1/kpis`` and ``GET /v1/forecast`` (merchant key).

Both are :class:`~returnrisk.serving.figures.ReturnsFigures`' (the service's shop history and
served model; answers cached per data version, model and query).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from returnrisk.operations.forecast import MAX_FORECAST_DAYS
from returnrisk.operations.kpis import GROUPINGS
from returnrisk.serving.deps import CapturedDep, FiguresDep, ModelDep, merchant
from returnrisk.serving.schemas import error_responses

__all__ = ["router"]

router = APIRouter(tags=["operations"], dependencies=[Depends(merchant)])
ERRORS = error_responses(401, 403, 422, 503)


@router.get("/v1/kpis", responses=ERRORS,
            summary="Return rates, reasons, delays, refunds within the promise, costs and weekly volumes")
def kpis(
    figures: FiguresDep,
    captured: CapturedDep,
    start: Annotated[str | None, Query(alias="from", max_length=40,
                                       description="First order date included (ISO 8601).")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40,
                                     description="Last order date included (a date includes the whole day).")] = None,
    by: Annotated[Literal[GROUPINGS] | None, Query(description="Breakdown.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Largest groups kept (category/brand/product).")]
    = 100,
) -> dict:
    # ``capture``: returns by channel, share with a reason before/after the portal, exchanges (all recorded returns)
    return {**figures.kpis(start, end, by, limit), "capture": captured.figures()}


@router.get("/v1/forecast", responses=ERRORS,
            summary="Returns expected per day for the next days, with a 90 % interval and staff hours")
def forecast(
    figures: FiguresDep,
    model: ModelDep,
    days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS, description="Days to forecast.")] = 14,
    as_of: Annotated[str | None, Query(max_length=40, description="Forecast as if now were this time "
                                       "(default: the end of the data).")] = None,
) -> dict:
    return figures.forecast(model, days, as_of)
