"""Storefront risk: ``GET /v1/products/{product_id}/risk`` and ``POST /v1/score``.

A visitor's risk is usually answered before routing by :mod:`returnrisk.serving.fastpath`; this
route answers everything else (a customer, an unexpected parameter, a required storefront key)
and documents the endpoint. It returns JSON bytes: the visitor's are the precomputed ones (the
fast path's, byte for byte), a customer's are serialised once (measured to matter on this path).
"""

from __future__ import annotations

import json
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from returnrisk.scoring import SizeNotOffered, UnknownProduct
from returnrisk.serving.deps import ModelDep, ServicesDep, storefront
from returnrisk.serving.errors import ApiError, product_not_found
from returnrisk.serving.schemas import Lang, RiskResponse, ScoreRequest, ScoreResponse, error_responses

__all__ = ["router"]

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])


def _size_error(exc: SizeNotOffered) -> ApiError:
    offered = exc.offered
    if not offered:
        return ApiError(422, "size_not_offered",
                        f"product {exc.product_id!r} is not sold in sizes: omit 'size'", sizes=[])
    if not exc.size:
        return ApiError(422, "size_required",
                        f"product {exc.product_id!r} is sold in sizes {', '.join(offered)}: pass ?size=",
                        sizes=offered)
    return ApiError(422, "size_not_offered",
                    f"size {exc.size!r} is not offered for product {exc.product_id!r}: "
                    f"use one of {', '.join(offered)}", sizes=offered)


@router.get("/v1/products/{product_id}/risk", response_model=RiskResponse, responses=error_responses(404, 422, 503),
            summary="Return risk of a product in a size, for a visitor or a known customer")
async def product_risk(
    services: ServicesDep,
    product_id: Annotated[str, Path(max_length=200)],
    model: ModelDep,
    size: Annotated[str | None, Query(max_length=50)] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    lang: Lang = "en",
):
    if not customer_id:
        body = model.visitor_answers.get((product_id, (size or "").strip(), lang))
        if body is not None:
            return Response(body, media_type="application/json")
    try:
        model.scorer.check(product_id, size)
    except UnknownProduct:
        raise product_not_found(product_id) from None
    except SizeNotOffered as exc:
        raise _size_error(exc) from None
    answer = await services.slots.run(model.scorer.for_customer, product_id, size, customer_id, lang)
    return Response(json.dumps(answer, separators=(",", ":")).encode(), media_type="application/json")


def _lines_frame(request: ScoreRequest) -> pd.DataFrame:
    rows = []
    now = pd.Timestamp.now(tz="UTC")
    for i, line in enumerate(request.lines):
        row = line.model_dump(exclude={"product"})
        row["line_id"] = row["line_id"] or str(i + 1)
        row["order_id"] = row["order_id"] or "basket"
        row["ordered_at"] = pd.Timestamp(row["ordered_at"]) if row["ordered_at"] else now
        if line.product is not None:
            row.update(line.product.model_dump())
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    if "created_at" in frame.columns:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    return frame


def _check_lines(body: ScoreRequest, model) -> None:
    """404 for a product neither known nor described, 422 for a size a known product is not sold in."""
    scorer = model.scorer
    for i, line in enumerate(body.lines):
        if not scorer.has_product(line.product_id) and line.product is None:
            raise ApiError(404, "product_not_found",
                           f"lines[{i}]: product {line.product_id!r} is not in the model's catalogue; send its "
                           "attributes in 'product' (category, brand, price, …) to score it as a new product")
    for i, line in enumerate(body.lines):
        if scorer.has_product(line.product_id):
            offered = scorer.offered_sizes(line.product_id)
            if offered and line.size is not None and line.size not in offered:
                raise ApiError(422, "size_not_offered",
                               f"lines[{i}]: size {line.size!r} is not offered for product {line.product_id!r}: "
                               f"use one of {', '.join(offered)}", sizes=offered)


@router.post("/v1/score", response_model=ScoreResponse, responses=error_responses(404, 413, 422, 503),
             summary="Score a basket or a batch of up to 1,000 order lines (new products welcome)")
async def score(body: ScoreRequest, services: ServicesDep, model: ModelDep) -> ScoreResponse:
    limit = services.settings.max_lines
    if len(body.lines) > limit:
        raise ApiError(413, "too_many_lines", f"{len(body.lines)} lines sent; at most {limit} per request: "
                                              "split the batch")
    frame = _lines_frame(body)
    _check_lines(body, model)
    scored = await services.slots.run(model.scorer.score_lines, frame, body.lang)
    return ScoreResponse(model_version=model.version, lines=scored)
