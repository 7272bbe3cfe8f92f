"""Storefront risk: ``GET /v1/products/{product_id}/risk``.

A visitor's risk is usually answered before routing by :mod:`returnrisk.serving.fastpath`; this
route answers everything else (a shopper, an unexpected parameter, a required storefront key)
and documents the endpoint. The answers come from :class:`~returnrisk.serving.storefront.Storefront`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from returnrisk.serving.deps import ModelDep, ShopperDep, StorefrontDep, storefront
from returnrisk.serving.schemas import Lang, RiskResponse, error_responses

__all__ = ["router"]

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])


@router.get("/v1/products/{product_id}/risk", response_model=RiskResponse,
            responses={304: {"description": "Not modified: the visitor answer named by If-None-Match"},
                       **error_responses(401, 403, 404, 422, 503)},
            summary="Return risk of a product in a size, for a visitor or a known customer")
async def product_risk(
    request: Request,
    answers: StorefrontDep,
    model: ModelDep,
    shopper: ShopperDep,
    product_id: Annotated[str, Path(max_length=200)],
    size: Annotated[str | None, Query(max_length=50)] = None,
    lang: Lang = "en",
    explain: Annotated[bool, Query(description="Add the exact TreeSHAP drivers to a known customer's answer "
                                               "(milliseconds); a visitor's answer always has them.")] = False,
):
    return await answers.risk(request, model, shopper, product_id, size, lang, explain)
