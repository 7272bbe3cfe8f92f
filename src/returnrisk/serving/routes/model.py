"""The model being served (``GET /v1/model``), and its reload (``POST /v1/admin/reload``, admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from returnrisk.serving.deps import ModelDep, ServicesDep, admin
from returnrisk.serving.schemas import ModelResponse, error_responses

__all__ = ["router"]

router = APIRouter(tags=["model"])


@router.get("/v1/model", response_model=ModelResponse, responses=error_responses(503),
            summary="Version, training date, data range and validation metrics of the served model")
async def model_info(model: ModelDep) -> ModelResponse:
    return ModelResponse(**model.describe())


@router.post("/v1/admin/reload", tags=["admin"], dependencies=[Depends(admin)], responses=error_responses(401, 403, 503),
             summary="Load the current champion and swap it in atomically (admin key)")
async def reload(services: ServicesDep) -> dict:
    return await services.reload()
