"""The ASGI application factory: ``create_app(settings)``."""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

import returnrisk
from returnrisk.serving.errors import install_error_handlers
from returnrisk.serving.fastpath import VisitorRiskFastPath
from returnrisk.serving.schemas import ErrorResponse
from returnrisk.serving.middleware import BodyLimitMiddleware, Metrics, MetricsMiddleware
from returnrisk.serving.security import KeyChecker
from returnrisk.serving.settings import Settings
from returnrisk.serving.slots import ModelSlots
from returnrisk.serving.state import ModelHolder, ModelLoader

__all__ = ["create_app", "mlflow_loader", "ROUTERS"]

log = logging.getLogger(__name__)

#: Route modules included in the app, in order (each exposes ``router``).
ROUTERS = (
    "returnrisk.serving.routes.health",
    "returnrisk.serving.routes.risk",
    "returnrisk.serving.routes.model",
    "returnrisk.serving.routes.size_advice",
    "returnrisk.serving.routes.fixes",
    "returnrisk.serving.routes.returns",
    "returnrisk.serving.routes.operations",
    "returnrisk.serving.routes.dashboard",
)


def mlflow_loader(settings: Settings) -> ModelLoader:
    """Loads ``settings.model_uri`` from the MLflow registry (the champion by default)."""

    def load():
        from returnrisk.tracking import Tracker

        tracker = Tracker(settings.tracking_uri)
        bundle, ref = tracker.load_bundle(settings.model_uri)
        return bundle, {"version": ref.version, "alias": ref.alias, "uri": ref.uri, "run_id": ref.run_id,
                        "source": "mlflow"}

    return load


def create_app(settings: Settings, *, loader: ModelLoader | None = None) -> FastAPI:
    """Build the service. ``loader`` replaces the MLflow loader (tests, embedding)."""
    holder = ModelHolder(loader or mlflow_loader(settings))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loaded = await run_in_threadpool(holder.load)  # raises: the service refuses to start
        metrics.reloads.labels("startup").inc()
        metrics.model_load_seconds.set(loaded.load_seconds)
        if loaded.version and str(loaded.version).isdigit():
            metrics.model_version.set(int(loaded.version))
        yield

    app = FastAPI(
        title="returnrisk",
        version=returnrisk.__version__,
        description="Return risk per reason with exact explanations, size advice, fix suggestions and "
                    "returns operations. Storefront endpoints are open unless a public key is required; "
                    "business data needs `Authorization: Bearer <merchant key>`.",
        lifespan=lifespan,
        responses={code: {"model": ErrorResponse, "description": text} for code, text in (
            (400, "Malformed request (e.g. invalid JSON)"), (413, "Request body or batch too large"),
            (422, "Invalid field: the detail names it"), (503, "No model loaded yet"))},
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.keys = KeyChecker(settings)
    app.state.model_slots = ModelSlots(settings.model_slots)
    install_error_handlers(app)
    for module_name in ROUTERS:
        module = importlib.import_module(module_name)
        app.include_router(module.router)
        if hasattr(module, "install"):
            module.install(app)
    # innermost: a visitor's risk is answered from precomputed bytes before routing (CORS and
    # metrics still apply); with a required storefront key the route checks it instead
    app.add_middleware(VisitorRiskFastPath, holder=holder, enabled=not settings.require_public_key)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PATCH"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
