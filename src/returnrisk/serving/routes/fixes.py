"""Fix suggestions for merchandisers: ``GET /v1/fixes`` and ``GET /v1/products/{product_id}/fixes``.

The report is computed once per loaded model, on the first call (from the shop history in
``RETURNRISK_DATA_DIR``, else the folder the model was trained on), and kept with the model in
``LoadedModel.extras``: a reload computes a fresh one. Merchant key required.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from returnrisk.fixes import LEVERS, FixParams, FixReport, compute_fixes, load_fix_shop
from returnrisk.fixes.suggestion import Bilingual, FixSuggestion
from returnrisk.serving.deps import current_model, merchant
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import ErrorResponse
from returnrisk.serving.state import LoadedModel

__all__ = ["report_for", "router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["fixes"], dependencies=[Depends(merchant)])
ERRORS = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 422: {"model": ErrorResponse},
          503: {"model": ErrorResponse}}

Lever = Literal[LEVERS]  # type: ignore[valid-type]
_EXTRAS_LOCK = threading.Lock()


@dataclass
class Fix(FixSuggestion):
    """One fix suggestion: its fields, evidence and impact are those of
    :class:`returnrisk.fixes.FixSuggestion` (parts that do not apply to a lever are left out)."""


class FixesResponse(BaseModel):
    model_version: str | None
    as_of: str = Field(description="End of the shop history analysed.")
    generated_at: str
    total: int = Field(description="Suggestions matching the filters (before the limit).")
    count: int
    note: Bilingual = Field(description="Savings are model estimates, not measured causal effects.")
    fixes: list[Fix]


class ProductFixesResponse(BaseModel):
    product_id: str
    model_version: str | None
    as_of: str
    note: Bilingual
    profile: dict = Field(description="Reason rates against the category (and model drivers when flagged).")
    fixes: list[Fix]


def _data_dir(request: Request, model: LoadedModel) -> Path:
    settings = request.app.state.settings
    folder = settings.data_dir or model.bundle.meta.get("data_dir")
    if not folder:
        raise ApiError(503, "data_unavailable", "fix suggestions need the shop history: set RETURNRISK_DATA_DIR "
                                                "to the folder with products, order_lines and returns")
    path = Path(folder)
    if not path.is_dir():
        raise ApiError(503, "data_unavailable", f"the shop history folder {path} does not exist here: set "
                                                "RETURNRISK_DATA_DIR to the folder with products, order_lines "
                                                "and returns")
    return path


def report_for(request: Request, model: LoadedModel) -> FixReport:
    """The model's fix report, computed on first use (one computation at a time) and cached."""
    report = model.extras.get("fixes")
    if report is not None:
        return report
    with _EXTRAS_LOCK:
        lock = model.extras.setdefault("fixes_lock", threading.Lock())
    with lock:  # one computation per model; other requests wait for it
        report = model.extras.get("fixes")
        if report is not None:
            return report
        folder = _data_dir(request, model)
        from returnrisk.data.problems import DataError
        from returnrisk.errors import ReturnRiskError

        try:
            shop = load_fix_shop(folder)
            params = FixParams.from_economics(request.app.state.settings.economics)
            report = compute_fixes(shop, model.bundle, params, model_info=model.info)
        except DataError as exc:
            first = exc.problems[0].render() if exc.problems else "unreadable"
            raise ApiError(503, "data_unavailable", f"the shop's data cannot be loaded: {first}; fix it "
                                                    "(returnrisk validate --data DIR)") from None
        except (ReturnRiskError, ValueError) as exc:
            raise ApiError(503, "fixes_unavailable", f"fix suggestions cannot be computed: {exc}") from None
        model.extras["fixes"] = report
        log.info("fix report for model v%s: %d suggestions", model.version, len(report.fixes))
        return report


def _json(payload: dict) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
                    media_type="application/json")


@router.get("/v1/fixes", response_model=FixesResponse, responses=ERRORS,
            summary="Ranked fix suggestions: which product pages to fix, how, and what it saves (merchant key)")
async def list_fixes(
    request: Request,
    model: Annotated[LoadedModel, Depends(current_model)],
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most suggestions returned.")] = 100,
    category: Annotated[str | None, Query(max_length=200, description="Only this category.")] = None,
    brand: Annotated[str | None, Query(max_length=200, description="Only this brand.")] = None,
    lever: Annotated[Lever | None, Query(description="Only this lever.")] = None,
):
    report = await run_in_threadpool(report_for, request, model)
    matching = report.select(category=category, brand=brand, lever=lever)
    chosen = matching[:limit]
    return _json({"model_version": model.version, "as_of": report.as_of.isoformat(),
                  "generated_at": report.generated_at.isoformat(), "total": len(matching), "count": len(chosen),
                  "note": report.note, "fixes": chosen})


@router.get("/v1/products/{product_id}/fixes", response_model=ProductFixesResponse,
            responses={**ERRORS, 404: {"model": ErrorResponse}},
            summary="Fix suggestions and reason profile of one product (merchant key)")
async def product_fixes(
    request: Request,
    product_id: Annotated[str, PathParam(max_length=200)],
    model: Annotated[LoadedModel, Depends(current_model)],
):
    report = await run_in_threadpool(report_for, request, model)
    profile = report.profile(product_id)
    if profile is None:
        raise ApiError(404, "product_not_found", f"product {product_id!r} is not in the shop's catalogue "
                                                 f"(history as of {report.as_of:%Y-%m-%d}): check the id")
    return _json({"product_id": product_id, "model_version": model.version, "as_of": report.as_of.isoformat(),
                  "note": report.note, "profile": profile, "fixes": report.for_product(product_id)})
