"""Fix suggestions for merchandisers: ``GET /v1/fixes`` and ``GET /v1/products/{product_id}/fixes``.

The report is computed once per loaded model, on the first call, from the service's shop history
(``RETURNRISK_DATA_DIR``, else the folder the model was trained on), and kept while that model is
served (:class:`~returnrisk.serving.fix_reports.FixReports`): a reload computes a fresh one.
Merchant key required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from returnrisk.fixes import LEVERS
from returnrisk.fixes.suggestion import Bilingual, FixSuggestion
from returnrisk.serving.deps import FixReportsDep, ModelDep, merchant
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import error_responses

__all__ = ["router", "Fix", "FixesResponse", "ProductFixesResponse", "ReasonCaptureOut"]

router = APIRouter(tags=["fixes"], dependencies=[Depends(merchant)])
ERRORS = error_responses(401, 403, 422, 503)

Lever = Literal[LEVERS]  # type: ignore[valid-type]


@dataclass
class Fix(FixSuggestion):
    """One fix suggestion: its fields, evidence and impact are those of
    :class:`returnrisk.fixes.FixSuggestion` (parts that do not apply to a lever are left out)."""


class ReasonCaptureOut(BaseModel):
    """Whether the shop records why customers return (without reasons, only investigate_returns is possible)."""

    returns: int = Field(description="Returns in the history analysed.")
    with_reason: int = Field(description="Of which with a reason (given, or read from the customer's words).")
    share_with_reason: float | None
    reasons_known: bool = Field(description="Enough reasons for the reason levers (validate's reason_levers).")
    message: Bilingual | None = Field(description="What to say first when reasons are missing (null otherwise).")


def _capture(report) -> ReasonCaptureOut | None:
    return ReasonCaptureOut(**report.reason_capture.to_dict()) if report.reason_capture is not None else None


class FixesResponse(BaseModel):
    model_version: str | None
    as_of: str = Field(description="End of the shop history analysed.")
    reason_capture: ReasonCaptureOut | None = Field(description="Return reasons in the data; its message is what "
                                                                "to show at the top of the list when they are missing.")
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


@router.get("/v1/fixes", response_model=FixesResponse, responses=ERRORS,
            summary="Ranked fix suggestions: which product pages to fix, how, and what it saves (merchant key)")
async def list_fixes(
    model: ModelDep,
    reports: FixReportsDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most suggestions returned.")] = 100,
    category: Annotated[str | None, Query(max_length=200, description="Only this category.")] = None,
    brand: Annotated[str | None, Query(max_length=200, description="Only this brand.")] = None,
    lever: Annotated[Lever | None, Query(description="Only this lever.")] = None,
) -> FixesResponse:
    report = await run_in_threadpool(reports.get, model)
    matching = report.select(category=category, brand=brand, lever=lever)
    chosen = matching[:limit]
    return FixesResponse(model_version=model.version, as_of=report.as_of.isoformat(), reason_capture=_capture(report),
                         generated_at=report.generated_at.isoformat(), total=len(matching), count=len(chosen),
                         note=report.note, fixes=chosen)


@router.get("/v1/products/{product_id}/fixes", response_model=ProductFixesResponse,
            responses=error_responses(401, 403, 404, 422, 503),
            summary="Fix suggestions and reason profile of one product (merchant key)")
async def product_fixes(
    product_id: Annotated[str, PathParam(max_length=200)],
    model: ModelDep,
    reports: FixReportsDep,
) -> ProductFixesResponse:
    report = await run_in_threadpool(reports.get, model)
    profile = report.profile(product_id)
    if profile is None:
        raise ApiError(404, "product_not_found", f"product {product_id!r} is not in the shop's catalogue "
                                                 f"(history as of {report.as_of:%Y-%m-%d}): check the id")
    return ProductFixesResponse(product_id=product_id, model_version=model.version, as_of=report.as_of.isoformat(),
                                note=report.note, profile=profile, fixes=report.for_product(product_id))
