"""Storefront risk: ``GET /v1/products/{product_id}/risk`` and ``POST /v1/score``."""

from __future__ import annotations

import json
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from returnrisk.scoring import SizeNotOffered, UnknownProduct
from returnrisk.serving.deps import current_model, storefront
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import ErrorResponse, Lang, RiskResponse, ScoreRequest, ScoreResponse
from returnrisk.serving.state import LoadedModel

router = APIRouter(tags=["storefront"], dependencies=[Depends(storefront)])
ERRORS = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}


def not_found(product_id: str) -> ApiError:
    return ApiError(404, "product_not_found",
                    f"product {product_id!r} is not in the model's catalogue; to score a new product, "
                    "POST /v1/score with its attributes in 'product' (category, brand, price, …)")


def size_error(exc: SizeNotOffered) -> ApiError:
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


@router.get("/v1/products/{product_id}/risk", response_model=RiskResponse, responses=ERRORS,
            summary="Return risk of a product in a size, for a visitor or a known customer")
async def product_risk(
    request: Request,
    product_id: Annotated[str, Path(max_length=200)],
    model: Annotated[LoadedModel, Depends(current_model)],
    size: Annotated[str | None, Query(max_length=50)] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    lang: Lang = "en",
):
    key = (size or "").strip()
    if not customer_id:
        body = model.anonymous.get((product_id, key, lang))
        if body is not None:
            return Response(body, media_type="application/json")
    try:
        model.scorer.check(product_id, size)
    except UnknownProduct:
        raise not_found(product_id) from None
    except SizeNotOffered as exc:
        raise size_error(exc) from None
    slots = request.app.state.model_slots
    answer = await slots.run(model.scorer.for_customer, product_id, size, customer_id, lang)
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


@router.post("/v1/score", response_model=ScoreResponse, responses={**ERRORS, 413: {"model": ErrorResponse}},
             summary="Score a basket or a batch of up to 1,000 order lines (new products welcome)")
async def score(body: ScoreRequest, request: Request, model: Annotated[LoadedModel, Depends(current_model)]):
    limit = request.app.state.settings.max_lines
    if len(body.lines) > limit:
        raise ApiError(413, "too_many_lines", f"{len(body.lines)} lines sent; at most {limit} per request: "
                                              "split the batch")
    frame = _lines_frame(body)
    unknown = [i for i, line in enumerate(body.lines)
               if not model.scorer.has_product(line.product_id) and line.product is None]
    if unknown:
        i = unknown[0]
        raise ApiError(404, "product_not_found",
                       f"lines[{i}]: product {body.lines[i].product_id!r} is not in the model's catalogue; "
                       "send its attributes in 'product' (category, brand, price, …) to score it as a new product")
    for i, line in enumerate(body.lines):
        if model.scorer.has_product(line.product_id):
            offered = model.scorer.offered_sizes(line.product_id)
            if offered and line.size is not None and line.size not in offered:
                raise ApiError(422, "size_not_offered",
                               f"lines[{i}]: size {line.size!r} is not offered for product {line.product_id!r}: "
                               f"use one of {', '.join(offered)}", sizes=offered)
    scored = await request.app.state.model_slots.run(model.scorer.score_lines, frame, body.lang)
    payload = {"model_version": model.version, "lines": scored}
    return Response(json.dumps(payload, separators=(",", ":")).encode(), media_type="application/json")
