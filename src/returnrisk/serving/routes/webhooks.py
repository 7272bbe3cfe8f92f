"""``POST /v1/webhooks/shopify``: Shopify's order, return and refund webhooks.

No API key: Shopify proves the sender by signing the raw body (``X-Shopify-Hmac-Sha256``, checked
with ``RETURNRISK_SHOPIFY_WEBHOOK_SECRET``; 401 when wrong or missing, 404 while the secret is not
set). The topic is the ``X-Shopify-Topic`` header. The work is
:class:`~returnrisk.operations.shopify_webhooks.ShopifyWebhooks`'s: orders become order lines in
the service database, returns are recorded like ``POST /v1/returns`` (channel ``webhook``),
refunds by the importer's rule; a replayed delivery changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from returnrisk.serving.deps import ServicesDep
from returnrisk.serving.schemas import error_responses

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


@router.post("/v1/webhooks/shopify", responses=error_responses(401, 404, 409, 422, 503),
             summary="Shopify webhooks: orders/create, orders/updated, returns/*, refunds/create (signed)")
async def shopify_webhook(
    request: Request,
    services: ServicesDep,
    x_shopify_topic: Annotated[str | None, Header(
        description="The webhook's topic, e.g. orders/create, returns/request, refunds/create.")] = None,
    x_shopify_hmac_sha256: Annotated[str | None, Header(
        description="Base64 HMAC-SHA256 of the raw body with RETURNRISK_SHOPIFY_WEBHOOK_SECRET.")] = None,
    x_shopify_triggered_at: Annotated[str | None, Header(
        description="When Shopify triggered the webhook (ISO time).")] = None,
) -> dict:
    body = await request.body()
    return await run_in_threadpool(services.webhooks.handle, x_shopify_topic, body, x_shopify_hmac_sha256,
                                   x_shopify_triggered_at)
