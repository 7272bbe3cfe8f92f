"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from returnrisk.serving.deps import ServicesDep
from returnrisk.serving.metrics import exposition

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="A model is loaded and answering")
async def readyz(services: ServicesDep):
    model = services.holder.current
    if model is None:
        return JSONResponse({"detail": "no model loaded yet", "code": "model_not_loaded"}, status_code=503)
    return {"status": "ready", "model_version": model.version}


@router.get("/metrics", summary="Prometheus metrics (every worker's, in one scrape)", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    return Response(exposition(services.metrics), media_type=CONTENT_TYPE_LATEST)
