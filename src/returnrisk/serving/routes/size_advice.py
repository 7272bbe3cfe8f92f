"""Storefront size advice: ``GET /v1/products/{product_id}/size-advice``.

A visitor's advice is usually answered before routing by :mod:`returnrisk.serving.fastpath`;
the answers come from :class:`~returnrisk.serving.storefront.Storefront`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from returnrisk.scoring.size_advice import HINT_RATE, HINT_RATIO
from returnrisk.serving.deps import ModelDep, ShopperDep, StorefrontDep, storefront
from returnrisk.serving.schemas import Lang, error_responses

__all__ = ["router", "SizeAdviceOut", "SizeOptionOut"]

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])


class SizeOptionOut(BaseModel):
    size: str
    p_return: float
    p_too_small: float
    p_too_large: float
    p_fit: float
    fit_hint: Literal["too_small", "too_large", "fits"] = Field(
        description=f"too_small / too_large: P(return for that reason) ≥ {HINT_RATE:.0%} and at least "
                    f"{HINT_RATIO:g} times the other; else fits.")


class SizeAdviceOut(BaseModel):
    product_id: str
    customer_id: str | None
    customer_known: bool
    size_system: str
    usual_size: str | None
    recommended_size: str | None
    confidence: float | None
    confidence_label: str | None
    fit_tendency: str | None
    message: str | None
    sizes: list[SizeOptionOut]
    model_version: str | None


@router.get("/v1/products/{product_id}/size-advice", response_model=SizeAdviceOut,
            responses={304: {"description": "Not modified: the visitor answer named by If-None-Match"},
                       **error_responses(401, 403, 404, 422, 503)},
            summary="Which size to take: per size P(return), P(too small), P(too large), P(fit) and a fit hint")
async def get_size_advice(
    request: Request,
    answers: StorefrontDep,
    model: ModelDep,
    shopper: ShopperDep,
    product_id: Annotated[str, Path(max_length=200)],
    lang: Lang = "en",
):
    return answers.size_advice(request, model, shopper, product_id, lang)
