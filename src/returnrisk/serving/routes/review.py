"""Customer returns for the merchant (merchant key): ``GET /v1/returns`` and ``GET /v1/review/returns``.

``GET /v1/returns?exchange=true`` lists the returns whose customer chose an exchange (with the size
asked for), ``exchange=false`` the others; ``channel=portal|email`` narrows further. The review
list holds the e-mails that could not be matched to an order (nothing recorded) and those whose
lines were not named (the whole order recorded). The work is
:class:`~returnrisk.serving.capture_desk.CaptureDesk`'s.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from returnrisk.serving.deps import CapturedDep, merchant
from returnrisk.serving.schemas import error_responses

__all__ = ["router"]

router = APIRouter(tags=["returns"], dependencies=[Depends(merchant)])
ERRORS = error_responses(401, 403, 422, 503)


@router.get("/v1/returns", responses=ERRORS,
            summary="Customer returns (portal, e-mail), newest first; exchange=true: the exchanges and sizes asked")
def list_returns(
    captured: CapturedDep,
    exchange: Annotated[bool | None, Query(description="true: exchanges only; false: every other return.")] = None,
    channel: Annotated[Literal["portal", "email"] | None, Query(description="Only this channel.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many items (1 to 1000).")] = 100,
    offset: Annotated[int, Query(ge=0, description="Skip this many items first (paging).")] = 0,
) -> dict:
    return captured.returns(exchange=exchange, channel=channel, limit=limit, offset=offset)


@router.get("/v1/review/returns", responses=ERRORS,
            summary="Returns to review: e-mails not matched to an order, or whose lines were not named")
def review_returns(
    captured: CapturedDep,
    status: Annotated[Literal["open", "resolved", "all"], Query(description="Which items.")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many items (1 to 1000).")] = 100,
    offset: Annotated[int, Query(ge=0, description="Skip this many items first (paging).")] = 0,
) -> dict:
    return captured.review(status=None if status == "all" else status, limit=limit, offset=offset)
