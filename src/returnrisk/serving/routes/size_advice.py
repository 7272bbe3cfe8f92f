"""Storefront size advice: ``GET /v1/products/{product_id}/size-advice``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from returnrisk.scoring import SizeNotOffered, UnknownProduct
from returnrisk.scoring.size_advice import size_advice
from returnrisk.serving.deps import ModelDep, storefront
from returnrisk.serving.errors import ApiError, product_not_found
from returnrisk.serving.schemas import Lang, error_responses

__all__ = ["router", "SizeAdviceOut", "SizeOptionOut"]

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])


class SizeOptionOut(BaseModel):
    size: str
    p_return: float
    p_too_small: float
    p_too_large: float
    p_fit: float


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
            responses=error_responses(404, 422, 503),
            summary="Which size to take: per size P(return), P(too small), P(too large), P(fit)")
def get_size_advice(
    product_id: Annotated[str, Path(max_length=200)],
    model: ModelDep,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    lang: Lang = "en",
) -> SizeAdviceOut:
    try:
        advice = size_advice(model.scorer, product_id, customer_id or None, lang)
    except UnknownProduct:
        raise product_not_found(product_id) from None
    except SizeNotOffered:
        raise ApiError(422, "size_not_offered", f"product {product_id!r} is not sold in sizes: "
                                                "there is no size to advise", sizes=[]) from None
    return SizeAdviceOut(**advice.to_dict())
