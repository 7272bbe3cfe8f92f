"""Fix suggestions and their life: ``GET /v1/fixes`` (JSON or CSV), ``GET /v1/products/{id}/fixes``,
``GET``/``PATCH /v1/fixes/{fix_id}``, ``GET /v1/fixes/{fix_id}/effect``.

The report is computed once per loaded model, on the first call, from the service's shop history
(:class:`~returnrisk.serving.fix_reports.FixReports`); statuses, effects and products are joined
by :class:`~returnrisk.serving.fix_lifecycle.FixLifecycle`. Merchant key required; a change is
recorded under the key's label.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict

from returnrisk.fixes import LEVERS
from returnrisk.fixes.effect import EFFECT_STATUSES
from returnrisk.fixes.ids import FIX_ID_PATTERN
from returnrisk.fixes.status import DISMISS_REASONS, MAX_NOTE_LENGTH, PHASES, STATUSES, StatusChange
from returnrisk.fixes.suggestion import Bilingual, FixSuggestion
from returnrisk.lifecycle import SORTS, FixQuery, StoredStatus
from returnrisk.lifecycle.export import fixes_csv
from returnrisk.serving.deps import IdentityDep, LifecycleDep, ModelDep, merchant
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import error_responses

__all__ = [
    "Fix",
    "FixDetail",
    "FixEffectResponse",
    "FixStatusIn",
    "FixStatusOut",
    "FixesResponse",
    "ProductFixesResponse",
    "ReasonCaptureOut",
    "router",
]

router = APIRouter(tags=["fixes"], dependencies=[Depends(merchant)])
ERRORS = error_responses(401, 403, 422, 503)

Lever = Literal[LEVERS]  # type: ignore[valid-type]
FixId = Annotated[str, PathParam(pattern=FIX_ID_PATTERN.pattern, description="The fix's fix_id (12 hex digits).")]


class StatusChangeInfo(TypedDict):
    """The latest status change: who, when, and its fields."""

    changed_by: str
    changed_at: str
    live_at: str | None
    note: str | None
    dismiss_reason: str | None


@dataclass
class Fix(FixSuggestion):
    """One fix: the suggestion's fields, evidence and impact (:class:`returnrisk.fixes.FixSuggestion`;
    parts that do not apply to a lever are left out), then its status, measured effect and product."""

    status: Literal[STATUSES] = "open"  # type: ignore[valid-type]
    phase: Literal[PHASES] = "open"  # type: ignore[valid-type]
    status_change: StatusChangeInfo | None = None
    returned_after_dismissal: str | None = None
    suggested_now: bool = True
    effect: dict[str, Any] | None = None
    title: str | None = None
    product_url: str | None = None
    image_url: str | None = None
    currency: str | None = None


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
    status: list[str] = Field(description="The statuses (or phases) listed.")
    total: int = Field(description="Fixes matching the filters and the search (before paging).")
    offset: int
    count: int
    currency: str = Field(description="The shop's main currency (RETURNRISK_CURRENCY).")
    savings_by_currency: dict[str, float] = Field(description="Expected savings per month of every matching fix, "
                                                  "per currency (never added across currencies).")
    note: Bilingual = Field(description="Savings are model estimates, not measured causal effects.")
    fixes: list[Fix]


class ProductFixesResponse(BaseModel):
    product_id: str
    model_version: str | None
    as_of: str
    note: Bilingual
    profile: dict = Field(description="Reason rates against the category (and model drivers when flagged).")
    fixes: list[Fix]


class FixStatusIn(BaseModel):
    """A status change. ``done`` needs ``live_at``; ``dismissed`` needs ``dismiss_reason``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"status": "done", "live_at": "2026-11-02", "note": "size guide added"},
        {"status": "dismissed", "dismiss_reason": "not_worth_it"}]})

    status: Literal[STATUSES] = Field(description="open, in_progress, done or dismissed.")  # type: ignore[valid-type]
    live_at: dt.date | None = Field(None, description="done: the date the fix went live (YYYY-MM-DD, not in the "
                                                      "future).")
    note: str | None = Field(None, max_length=MAX_NOTE_LENGTH)
    dismiss_reason: Literal[DISMISS_REASONS] | None = Field(  # type: ignore[valid-type]
        None, description="dismissed: wrong, not_worth_it or already_done.")


class FixStatusOut(BaseModel):
    fix_id: str
    product_id: str
    size: str | None
    lever: str
    status: str
    changed_by: str = Field(description="The label of the key (or session) that made the change.")
    changed_at: str
    live_at: str | None
    note: str | None
    dismiss_reason: str | None
    change_id: int


class FixDetail(BaseModel):
    fix: Fix
    history: list[FixStatusOut] = Field(description="Every status change, oldest first (the audit trail).")


class RateChangeOut(BaseModel):
    before: float | None
    after: float | None
    comparison_before: float | None
    comparison_after: float | None
    effect: float | None = Field(description="Difference in differences (negative: fewer returns).")
    low: float | None
    high: float | None


class Interval(BaseModel):
    estimate: float | None
    low: float | None
    high: float | None


class FixEffectResponse(BaseModel):
    fix_id: str
    product_id: str
    size: str | None
    lever: str
    live_at: str
    status: Literal[EFFECT_STATUSES] = Field(description="too_early until the interval is informative; then "  # type: ignore[valid-type]
                                                         "measured; not_measurable when it cannot be.")
    reason: str
    verdict: str | None = Field(description="measured: reduced, no_clear_change or increased.")
    level: float
    sales_before: int
    sales_after: int
    comparison: dict = Field(description="scope (category or shop) and the comparison products.")
    lever_rate: RateChangeOut | None = Field(description="Rate of the lever's reasons.")
    return_rate: RateChangeOut | None = Field(description="Return rate, any reason.")
    sales_per_month: float | None
    returns_avoided_per_month: Interval | None
    savings_per_month: Interval | None
    expected: dict = Field(description="What the suggestion had estimated (model estimates).")
    currency: str | None


def _status_out(stored: StoredStatus) -> FixStatusOut:
    return FixStatusOut(**stored.to_dict())


@router.get("/v1/fixes", response_model=FixesResponse, responses={**ERRORS, 200: {
    "content": {"text/csv": {}}, "description": "The fixes (JSON), or with format=csv the same rows as CSV."}},
            summary="The fix list: filter, search, sort, page, CSV (merchant key)")
async def list_fixes(
    model: ModelDep,
    lifecycle: LifecycleDep,
    status: Annotated[str | None, Query(max_length=200, description="Comma-separated statuses or phases: open, "
                                        "in_progress, done, dismissed, measuring, measured, all (default: the "
                                        "to-do list, open,in_progress).")] = None,
    lever: Annotated[Lever | None, Query(description="Only this lever.")] = None,
    category: Annotated[str | None, Query(max_length=200, description="Only this category.")] = None,
    brand: Annotated[str | None, Query(max_length=200, description="Only this brand.")] = None,
    search: Annotated[str | None, Query(max_length=200, description="Product id or title contains this.")] = None,
    sort: Annotated[Literal[tuple(SORTS)], Query(description="Column to sort by.")] = "rank",  # type: ignore[valid-type]
    order: Annotated[Literal["asc", "desc"] | None, Query(description="Default: money and counts largest "
                                                                       "first, text A→Z.")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000,
                                 description="Fixes skipped before the first one returned (paging).")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most fixes returned.")] = 100,
    format: Annotated[Literal["json", "csv"], Query(description="csv: the same rows as CSV.")] = "json",
    lang: Annotated[Literal["en", "fr"], Query(description="Language of the CSV's headers and labels.")] = "en",
):
    query = FixQuery(status=FixQuery.parse_status(status), lever=lever, category=category, brand=brand,
                     search=search, sort=sort, descending=None if order is None else order == "desc",
                     offset=offset, limit=limit)
    state, page = await run_in_threadpool(lifecycle.page, model, query)
    if format == "csv":
        return Response(fixes_csv(page.rows, lang), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="fixes.csv"'})
    report = state.report
    return FixesResponse(model_version=model.version, as_of=report.as_of.isoformat(),
                         generated_at=report.generated_at.isoformat(), status=list(query.status), total=page.total,
                         offset=page.offset, count=len(page.rows), currency=lifecycle.currency,
                         savings_by_currency={k or lifecycle.currency: round(v, 2)
                                              for k, v in page.savings_by_currency.items()},
                         reason_capture=_capture(report), note=report.note,
                         fixes=[row.item() for row in page.rows])


@router.get("/v1/products/{product_id}/fixes", response_model=ProductFixesResponse,
            responses=error_responses(401, 403, 404, 422, 503),
            summary="Fix suggestions (with their status) and reason profile of one product (merchant key)")
async def product_fixes(
    product_id: Annotated[str, PathParam(max_length=200)],
    model: ModelDep,
    lifecycle: LifecycleDep,
) -> ProductFixesResponse:
    state = await run_in_threadpool(lifecycle.state, model)
    report = state.report
    profile = report.profile(product_id)
    if profile is None:
        raise ApiError(404, "product_not_found", f"product {product_id!r} is not in the shop's catalogue "
                                                 f"(history as of {report.as_of:%Y-%m-%d}): check the id")
    fixes = [row.item() for row in state.rows if row.product_id == product_id]
    return ProductFixesResponse(product_id=product_id, model_version=model.version, as_of=report.as_of.isoformat(),
                                note=report.note, profile=profile, fixes=fixes)


@router.get("/v1/fixes/{fix_id}", response_model=FixDetail, responses=error_responses(401, 403, 404, 422, 503),
            summary="One fix with its status history (merchant key)")
async def get_fix(fix_id: FixId, model: ModelDep, lifecycle: LifecycleDep) -> FixDetail:
    _, row = await run_in_threadpool(lifecycle.row, model, fix_id)
    history = await run_in_threadpool(lifecycle.history, fix_id)
    return FixDetail(fix=row.item(), history=[_status_out(s) for s in history])


@router.patch("/v1/fixes/{fix_id}", response_model=FixStatusOut,
              responses=error_responses(401, 403, 404, 409, 422, 503),
              summary="Change a fix's status: in_progress, done (with live_at), dismissed (with a reason), open "
                      "(merchant key; 409 invalid_transition)")
async def patch_fix(fix_id: FixId, body: FixStatusIn, model: ModelDep, lifecycle: LifecycleDep,
                    who: IdentityDep) -> FixStatusOut:
    change = StatusChange(status=body.status, live_at=body.live_at, note=body.note or None,
                          dismiss_reason=body.dismiss_reason)
    stored = await run_in_threadpool(lifecycle.change, model, fix_id, change, who.label)
    return _status_out(stored)


@router.get("/v1/fixes/{fix_id}/effect", response_model=FixEffectResponse,
            responses=error_responses(401, 403, 404, 409, 422, 503),
            summary="What a done fix really changed: difference in differences against comparable products, "
                    "with its interval; too_early until informative (merchant key)")
async def fix_effect(fix_id: FixId, model: ModelDep, lifecycle: LifecycleDep) -> FixEffectResponse:
    effect = await run_in_threadpool(lifecycle.effect, model, fix_id)
    _, row = await run_in_threadpool(lifecycle.row, model, fix_id)
    return FixEffectResponse(**effect.to_dict(), currency=row.currency)

