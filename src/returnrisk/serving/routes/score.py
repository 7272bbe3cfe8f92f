"""Storefront scores: ``POST /v1/score`` — a basket or a batch of order lines, new products welcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from returnrisk.serving.deps import CustomerTokenDep, ModelDep, StorefrontDep, storefront
from returnrisk.serving.schemas import ScoreRequest, ScoreResponse, error_responses

__all__ = ["router"]

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])


@router.post("/v1/score", response_model=ScoreResponse, responses=error_responses(401, 403, 404, 413, 422, 503),
             summary="Score a basket or a batch of up to 1,000 order lines (new products welcome)")
async def score(
    request: Request,
    body: ScoreRequest,
    answers: StorefrontDep,
    model: ModelDep,
    token: CustomerTokenDep,
    explain: Annotated[bool, Query(description="Add the exact TreeSHAP drivers of every line "
                                               "(about 2–3 ms a line).")] = False,
):
    return await answers.score(request, model, body.lines, body.lang, token, explain)
