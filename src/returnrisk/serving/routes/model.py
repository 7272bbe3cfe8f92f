"""The model being served, and its reload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from returnrisk.errors import ReturnRiskError
from returnrisk.serving.deps import admin, current_model
from returnrisk.serving.errors import ApiError
from returnrisk.serving.schemas import ErrorResponse, ModelResponse
from returnrisk.serving.state import LoadedModel

router = APIRouter(tags=["model"])


def describe(model: LoadedModel) -> dict:
    meta = model.bundle.meta
    info = model.bundle.model.info
    data = meta.get("data", {})
    return {
        "version": model.info.get("version"), "alias": model.info.get("alias"), "uri": model.info.get("uri"),
        "run_id": model.info.get("run_id"), "trained_at": info.get("trained_at"), "as_of": meta.get("as_of"),
        "data_first_order": data.get("first_order"), "data_last_order": data.get("last_order"),
        "validation_start": meta.get("validation_start"), "code_version": meta.get("code_version"),
        "loaded_at": model.loaded_at,
        "metrics": {k: float(v) for k, v in meta.get("metrics", {}).items() if isinstance(v, (int, float))},
    }


@router.get("/v1/model", response_model=ModelResponse, responses={503: {"model": ErrorResponse}},
            summary="Version, training date, data range and validation metrics of the served model")
def model_info(model: Annotated[LoadedModel, Depends(current_model)]) -> dict:
    return describe(model)


@router.post("/v1/admin/reload", tags=["admin"], dependencies=[Depends(admin)],
             responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
             summary="Load the current champion and swap it in atomically (admin key)")
async def reload(request: Request) -> dict:
    holder = request.app.state.holder
    metrics = request.app.state.metrics
    before = holder.current.version if holder.current else None
    try:
        loaded = await run_in_threadpool(holder.load)
    except ReturnRiskError as exc:
        metrics.reloads.labels("failed").inc()
        raise ApiError(503, "reload_failed", f"{exc}; the previous model (v{before}) is still served") from None
    metrics.reloads.labels("ok").inc()
    metrics.model_load_seconds.set(loaded.load_seconds)
    if loaded.version and str(loaded.version).isdigit():
        metrics.model_version.set(int(loaded.version))
    return {"previous_version": before, "version": loaded.version, "load_seconds": round(loaded.load_seconds, 3)}
