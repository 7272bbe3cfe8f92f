"""Dependencies shared by the routes.

All are ``async def``: they never block, and FastAPI would run a plain ``def`` dependency in its
thread pool — two thread hops per storefront request, a quarter of its cost.
"""

from __future__ import annotations

from fastapi import Request

from returnrisk.serving.errors import ApiError
from returnrisk.serving.state import LoadedModel

__all__ = ["current_model", "merchant", "admin", "storefront"]


async def current_model(request: Request) -> LoadedModel:
    model = request.app.state.holder.current
    if model is None:
        raise ApiError(503, "model_not_loaded", "no model is loaded yet: retry shortly or check /readyz")
    return model


async def merchant(request: Request) -> str:
    return request.app.state.keys.merchant_access(request)


async def admin(request: Request) -> str:
    return request.app.state.keys.admin_access(request)


async def storefront(request: Request) -> None:
    request.app.state.keys.storefront_access(request)
