"""Widget events: ``POST /v1/events`` (storefront) and their counts, ``GET /v1/events`` (merchant key)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from returnrisk.serving.deps import EventsDep, ModelDep, merchant, storefront
from returnrisk.serving.errors import ApiError, product_not_found
from returnrisk.serving.schemas import error_responses

__all__ = ["router", "EventIn"]

router = APIRouter(tags=["storefront"])


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=200)
    event: Literal["shown", "size_selected"] = Field(description="shown: the advice was displayed; size_selected: "
                                                                 "the shopper then picked `size`.")
    size: str | None = Field(None, max_length=50, description="The size picked (size_selected), or the size "
                                                              "recommended when the advice was shown.")


@router.post("/v1/events", status_code=202, dependencies=[Depends(storefront)],
             responses=error_responses(401, 404, 422, 503),
             summary="Count a widget event (advice shown, size selected) of a product and size")
def post_event(body: EventIn, events: EventsDep, model: ModelDep) -> dict:
    scorer = model.scorer
    if not scorer.has_product(body.product_id):
        raise product_not_found(body.product_id)
    offered = scorer.offered_sizes(body.product_id)
    if body.size is not None and body.size not in offered:
        raise ApiError(422, "size_not_offered", f"size {body.size!r} is not offered for product "
                                                f"{body.product_id!r}: use one of {', '.join(offered) or '(none)'}",
                       sizes=offered)
    if body.event == "size_selected" and body.size is None:
        raise ApiError(422, "size_required", "a size_selected event needs the size the shopper picked", sizes=offered)
    events.record(body.product_id, body.size, body.event)
    return {"recorded": 1}


@router.get("/v1/events", dependencies=[Depends(merchant)], responses=error_responses(401, 403),
            summary="Counts of widget events per product, size and event (merchant key)")
def get_events(events: EventsDep,
               product_id: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    return {"events": [c.to_dict() for c in events.counts(product_id)]}
