"""The ASGI application factory: ``create_app(settings)``.

A request's path: the metrics middleware → the response headers (security headers, request id:
:mod:`~returnrisk.serving.headers`) → the body limit → CORS (if configured) → the visitor
fast path (a visitor's risk and size advice answered from precomputed bytes, :mod:`~returnrisk.serving.fastpath`)
→ FastAPI's routing → a route of :mod:`returnrisk.serving.routes`, which takes the parts of
:class:`~returnrisk.serving.services.Services` it needs through :mod:`~returnrisk.serving.deps`.
Expected failures (``ReturnRiskError``) become JSON errors in one handler (:mod:`~returnrisk.serving.errors`).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import returnrisk
from returnrisk.errors import ReturnRiskError
from returnrisk.serving.customers import TOKEN_HEADER
from returnrisk.serving.errors import install_error_handlers
from returnrisk.serving.fastpath import VisitorFastPath
from returnrisk.serving.headers import ResponseHeadersMiddleware
from returnrisk.serving.middleware import BodyLimitMiddleware, MetricsMiddleware
from returnrisk.serving.model_watch import VersionResolver
from returnrisk.serving.openapi import install_openapi, operation_id
from returnrisk.serving.routes import (
    assets,
    dashboard,
    events,
    fixes,
    health,
    model,
    operations,
    portal,
    returns,
    review,
    risk,
    score,
    size_advice,
    webhooks,
    widget,
)
from returnrisk.serving.schemas import ErrorResponse
from returnrisk.serving.services import Services
from returnrisk.serving.settings import Settings
from returnrisk.serving.state import ModelLoader

__all__ = ["create_app", "mlflow_loader", "mlflow_resolver", "ROUTERS"]

log = logging.getLogger(__name__)

#: The routers of the app, in order.
ROUTERS = (health.router, risk.router, score.router, model.router, size_advice.router, widget.router, events.router,
           fixes.router, review.router, returns.router, operations.router, dashboard.router, assets.router,
           webhooks.router, portal.router)


def mlflow_loader(settings: Settings) -> ModelLoader:
    """Loads ``settings.model_uri`` from the MLflow registry (the champion by default)."""

    def load():
        from returnrisk.tracking import Tracker

        tracker = Tracker(settings.tracking_uri)
        bundle, ref = tracker.load_bundle(settings.model_uri)
        return bundle, {"version": ref.version, "alias": ref.alias, "uri": ref.uri, "run_id": ref.run_id,
                        "source": "mlflow"}

    return load


def mlflow_resolver(settings: Settings) -> VersionResolver:
    """The version ``settings.model_uri`` designates in the registry now (what the alias watch asks)."""
    tracker = None

    def resolve() -> str | None:
        nonlocal tracker
        from returnrisk.tracking import Tracker

        tracker = tracker or Tracker(settings.tracking_uri)
        return tracker.resolve(settings.model_uri).version

    return resolve


def create_app(settings: Settings, *, loader: ModelLoader | None = None, resolver: VersionResolver | None = None,
               exit_on_startup_error: bool = False) -> FastAPI:
    """Build the service. ``loader`` replaces the MLflow loader (tests, embedding); ``resolver`` the
    registry lookup of the alias watch (default: MLflow's when the loader is, else no watch).

    ``exit_on_startup_error`` (the ASGI entry point of a server process): an expected start-up
    failure (database behind, no model, a damaged model artifact) is logged in one line and the
    process exits with uvicorn's start-up failure code 3, instead of a traceback."""
    if loader is None:
        loader, resolver = mlflow_loader(settings), resolver or mlflow_resolver(settings)
    services = Services.build(settings, loader, resolver)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            await services.start()  # raises: the service refuses to start (database behind, no model)
        except ReturnRiskError as exc:
            if not exit_on_startup_error:
                raise
            log.error("cannot start: %s", exc)
            logging.shutdown()
            os._exit(3)
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="returnrisk",
        version=returnrisk.__version__,
        description="Return risk per reason with exact explanations, size advice, fix suggestions and "
                    "returns operations. Storefront endpoints are open unless a public key is required; "
                    "business data needs `Authorization: Bearer <merchant key>`.",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,      # served with local assets by routes/assets.py
        generate_unique_id_function=operation_id,
        responses={code: {"model": ErrorResponse, "description": text} for code, text in (
            (400, "Malformed request (e.g. invalid JSON)"), (413, "Request body or batch too large"),
            (422, "Invalid field: the detail names it"), (503, "No model loaded yet"))},
    )
    app.state.services = services   # read only by serving/deps.py
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    # innermost: a visitor's risk and size advice are answered from precomputed bytes before routing
    # (CORS and metrics still apply); with a required storefront key the route checks it instead
    app.add_middleware(VisitorFastPath, holder=services.holder, enabled=not settings.require_public_key,
                       max_age=settings.visitor_cache_max_age)
    if settings.cors_origins:   # the shops' origins: the widget calls the API from their pages
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PATCH"],
                           allow_headers=["Authorization", "Content-Type", TOKEN_HEADER], max_age=3600)
    # the portal's form carries photos: its own limit (the photos allowed + 1 MiB of fields)
    portal_limit = settings.portal.portal_photo_max_bytes * settings.portal.portal_max_photos + (1 << 20)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes,
                       path_limits={"/returns/": max(portal_limit, settings.max_body_bytes)})
    app.add_middleware(ResponseHeadersMiddleware, hsts=settings.secure_cookies)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app
